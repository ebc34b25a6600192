"""Audio tests: the call synthesizer (`synth.py`, next to this file) and its tools."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import synth  # noqa: E402


@pytest.fixture(scope="session")
def audio_tools() -> None:
    """Fail (never skip) when espeak-ng or sox is missing: CI is expected to install them."""
    synth.fail_without_tools()
