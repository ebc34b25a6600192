"""Voice practice (guifan train, issue 14): the trainee's answers as recordings, played here by
the call synthesizer; their words recognized by the packaged Whisper model, their voice measured
as a recording's turns, the customer's lines said into WAV files by espeak-ng."""

from __future__ import annotations

import json

import soundfile as sf
import synth
from typer.testing import CliRunner

from guifan.cli import app

SCENARIO = "complaint-late-delivery"
GREETING = "您好,很高兴为您服务,请问有什么可以帮到您?"
RUSHED = "非常抱歉给您带来了不好的体验,我非常理解您现在的心情,您的意思是上周购买的冰箱到现在还没有送到对吗"


def record(folder, name: str, text: str, speed: int = 0):
    """The trainee saying ``text`` (16 kHz mono WAV)."""
    samples = synth.synthesize(synth.Utterance("agent", 0.0, text, speed=speed), 16000)
    sf.write(str(folder / name), samples, 16000)


def test_spoken_answers_are_recognized_measured_and_scored(tmp_path, audio_tools):
    record(tmp_path, "a1.wav", GREETING)
    record(tmp_path, "a2.wav", RUSHED, speed=420)  # far too fast
    script = tmp_path / "answers.txt"
    script.write_text("[录音 a1.wav]\n[录音 a2.wav]\n", encoding="utf-8")
    spoken = tmp_path / "customer"
    done = CliRunner().invoke(app, ["train", SCENARIO, "--answers", str(script), "--format", "json",
                                    "--speak", str(spoken)])
    assert done.exit_code in (0, 1), done.output
    card = json.loads(done.stdout)
    agent = [t for t in card["transcript"] if t["role"] == "agent"]
    assert len(agent) == 2 and all(t["asr"]["recognizer"] == "faster-whisper" for t in agent)
    # The turns last as long as the recordings' speech, not as long as typed words would.
    first, second = agent
    assert second["end"] - second["start"] < len(RUSHED) / 4.0
    # The rushed answer is too fast. (How the greeting's rate comes out depends on how many of its
    # characters the recognizer hears in espeak-ng's Mandarin: on some CPUs only a few 您好.)
    rushed = [f for f in card["findings"] if f["rule"] == "VOC001" and f["turn"] == second["index"]]
    assert rushed and "语速过快" in rushed[0]["message"]
    # Every customer line was said into its own WAV for the trainee to hear.
    customer = [t for t in card["transcript"] if t["role"] == "customer"]
    files = sorted(spoken.glob("*.wav"))
    assert len(files) == len(customer) and all(sf.info(str(f)).duration > 0.5 for f in files)


def test_a_missing_recording_is_named(tmp_path, audio_tools):
    script = tmp_path / "answers.txt"
    script.write_text("[录音 nowhere.wav]\n", encoding="utf-8")
    done = CliRunner().invoke(app, ["train", SCENARIO, "--answers", str(script)])
    assert done.exit_code == 2 and "nowhere.wav" in done.output and "无法读取录音" in done.output
    script.write_text("[录音]\n", encoding="utf-8")
    done = CliRunner().invoke(app, ["train", SCENARIO, "--answers", str(script)])
    assert done.exit_code == 2 and "[录音 文件名]" in done.output
