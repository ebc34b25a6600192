"""Benchmark: seconds of call audio the front end processes per second on one core, without ASR.

    python bench/bench_audio.py                 # a 10-minute two-channel call, 16 kHz and 8 kHz
    python bench/bench_audio.py --minutes 30

Builds the call from the test suite's scripted calls (espeak-ng + sox, as in tests/audio/) repeated
end to end, writes it as 16 kHz WAV, 8 kHz WAV and 16 kHz MP3, pins this process to one core and
times `read_recording` on each: decoding, voice activity on both channels, hold music and ringback
detection, levels, syllables and the agent's pitch. Prints figures; asserts nothing.
Target (issue "Call audio"): >= 100x real time.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "audio"))

import calls  # noqa: E402
import synth  # noqa: E402
from guifan.audio import AudioOptions, read_recording  # noqa: E402


def long_script(minutes: float) -> list:
    """The good and bad calls one after another until ``minutes`` are filled."""
    items, offset = [], 0.0
    while offset < minutes * 60:
        for script in (calls.GOOD, calls.BAD):
            # An utterance lasts under 8 s; a tone says how long it lasts.
            end = max(i.start + (i.seconds if isinstance(i, synth.Tone) else 8.0) for i in script)
            items += [replace(i, start=i.start + offset) for i in script]
            offset += end + 2.0
    return items


def measure(path: Path, repeat: int) -> tuple[float, float, int]:
    """Best-of-``repeat`` CPU seconds for reading and analysing the recording, its length, turns."""
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        (conversation,) = list(read_recording(path, str(path), AudioOptions()))
        best = min(best, time.process_time() - started)
    return best, conversation.audio.duration, len(conversation.turns)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    folder = Path(tempfile.mkdtemp(prefix="guifan-bench-audio-"))
    wav = folder / "call-16k.wav"
    synth.build_call(long_script(args.minutes), wav)
    narrow = folder / "call-8k.wav"
    subprocess.run(["sox", "-V1", "-R", str(wav), "-r", "8000", str(narrow)], check=True)
    mp3 = folder / "call-16k.mp3"
    subprocess.run(["sox", "-V1", "-R", str(wav), str(mp3)], check=True)
    list(read_recording(wav, str(wav), AudioOptions()))  # imports and first-call set-up
    print(f"{'recording':<16}{'audio s':>9}{'cpu s':>8}{'x real time':>13}{'turns':>7}")
    for path in (wav, narrow, mp3):
        cpu, seconds, turns = measure(path, args.repeat)
        print(f"{path.name:<16}{seconds:>9.0f}{cpu:>8.2f}{seconds / cpu:>13.0f}{turns:>7}")


if __name__ == "__main__":
    main()
