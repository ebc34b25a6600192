"""Lines spoken offline: espeak-ng's Mandarin voice, for the simulated customer of voice practice
(guifan.training). espeak-ng is a Debian package (``apt-get install espeak-ng``), no model to fetch."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

VOICE = "cmn-latn-pinyin+f2"  # Mandarin read from Chinese characters, a female voice
WORDS_PER_MINUTE = 180


class SpeechUnavailable(Exception):
    """espeak-ng is not installed (the message says how to get it)."""


def speak(text: str, path: Path, *, voice: str = VOICE, speed: int = WORDS_PER_MINUTE) -> Path:
    """``text`` said into the WAV file ``path``."""
    program = shutil.which("espeak-ng")
    if program is None:
        raise SpeechUnavailable("朗读客户的话需要 espeak-ng:apt-get install espeak-ng")
    path.parent.mkdir(parents=True, exist_ok=True)
    # The text goes on stdin: a line starting with "-" must not be read as an option.
    subprocess.run([program, "-v", voice, "-s", str(speed), "-w", str(path), "--stdin"],
                   input=text.encode("utf-8"), check=True, capture_output=True, timeout=60)
    return path
