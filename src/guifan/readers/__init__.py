"""Readers: every input format in, `Conversation` (or `InputError`) out.

    for item in read_paths(["calls/", "chats.jsonl"]):
        ...  # a Conversation, or an InputError naming file, line and field

Nothing here raises for bad input: a file that cannot be read, or one conversation in it that is
malformed, becomes one InputError in the stream and reading goes on with the rest. The formats
and their error messages are described in docs/input-formats.md.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

from guifan.errors import InputError
from guifan.model import Conversation
from guifan.readers.encoding import DAMAGED, EncodingError, Span, decode, line_error, line_spans
from guifan.readers.jsonfile import read_json, read_jsonl
from guifan.readers.subtitles import read_subtitles
from guifan.readers.table import read_csv, read_xlsx
from guifan.readers.textlog import parse_chat_log

if TYPE_CHECKING:
    from guifan.audio import AudioOptions

__all__ = ["AUDIO_EXTENSIONS", "DEFAULT_MAX_BYTES", "STREAMED_EXTENSIONS", "SUPPORTED_EXTENSIONS", "Meter", "Span",
           "input_files", "input_size", "line_spans", "read_file", "read_path", "read_paths"]

Item = Conversation | InputError

# Whole-document formats are read into memory at once; JSONL has no limit because it streams.
DEFAULT_MAX_BYTES = 100 * 1024 * 1024

_TEXT_READERS: dict[str, Callable[[str, Path, str], Iterator[Item]]] = {
    ".json": lambda text, path, name: read_json(text, name),
    ".csv": lambda text, path, name: read_csv(text, name),
    ".tsv": lambda text, path, name: read_csv(text, name),
    ".txt": lambda text, path, name: parse_chat_log(text, name),
    ".log": lambda text, path, name: parse_chat_log(text, name),
    ".srt": lambda text, path, name: read_subtitles(text, name, path.stem, vtt=False),
    ".vtt": lambda text, path, name: read_subtitles(text, name, path.stem, vtt=True),
}
STREAMED_EXTENSIONS = (".jsonl", ".ndjson")  # read a line at a time, whatever their size
_BINARY = (".xlsx",)
# Call recordings go to the audio front end (guifan.audio), which has its own length limit.
AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3")
SUPPORTED_EXTENSIONS: tuple[str, ...] = (
    ".json", ".jsonl", ".ndjson", ".csv", ".tsv", ".xlsx", ".txt", ".log", ".srt", ".vtt", *AUDIO_EXTENSIONS
)
_HINTS = {".xls": "旧版 .xls 请在 Excel 中另存为 .xlsx 或 .csv", ".docx": "请导出为 .txt 或 .csv"}


@dataclass
class Meter:
    """How far reading has come, in bytes of the input files: a progress bar's measure. Files count
    when they are read completely, JSONL files line by line as they stream."""

    done: int = 0  # bytes of the files read completely
    current: int = 0  # bytes read so far of the file being streamed

    @property
    def position(self) -> int:
        return self.done + self.current

    def read(self, size: int) -> None:
        self.current += size

    def finished(self, path: Path) -> None:
        self.done += _stat_size(path)
        self.current = 0


def _stat_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def input_size(paths: Iterable[str | Path]) -> int:
    """The bytes of every file ``read_paths`` reads for these paths, from the directory listing and
    ``stat`` alone (nothing is opened); 0 when there is nothing to measure."""
    total = 0
    for path in map(Path, paths):
        found = _walk(path) if path.is_dir() else [path]
        total += sum(_stat_size(f) for f in found if isinstance(f, Path))
    return total


def read_paths(
    paths: Iterable[str | Path], *, max_bytes: int = DEFAULT_MAX_BYTES, audio: AudioOptions | None = None,
    meter: Meter | None = None,
) -> Iterator[Item]:
    """Every conversation in the given files and directories (walked recursively), in order.
    ``audio``: how call recordings are read (default: agent on the first channel, no ASR); several
    at once in worker processes: ``guifan check --jobs`` (guifan.pipeline).
    ``meter``: counts the bytes read (see `input_size` for the total)."""
    for path in paths:
        yield from read_path(path, max_bytes=max_bytes, audio=audio, meter=meter)


def read_path(
    path: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES, audio: AudioOptions | None = None,
    meter: Meter | None = None,
) -> Iterator[Item]:
    """Every conversation in one file (or directory), then nothing; errors are yielded, not raised."""
    for found in input_files(path, skip=meter.finished if meter is not None else None):
        if isinstance(found, InputError):
            yield found
        else:
            yield from _read_file(found, max_bytes, audio, meter=meter)


def input_files(path: str | Path, skip: Callable[[Path], None] | None = None) -> Iterator[Path | InputError]:
    """The files ``read_path`` reads for a path, in its order: the path itself, or a directory's
    files (its errors as InputErrors). A mono recording's diarization JSON is read with the
    recording, not on its own: ``skip`` is told of each."""
    path = Path(path)
    if not path.is_dir():
        yield path
        return
    for found in _walk(path):
        if isinstance(found, InputError) or not _is_sidecar(found):
            yield found
        elif skip is not None:
            skip(found)


def read_file(path: Path, name: str, *, max_bytes: int = DEFAULT_MAX_BYTES, audio: AudioOptions | None = None,
              span: Span | None = None) -> Iterator[Item]:
    """Every conversation in one file, named ``name`` in errors and sources (the path as the user
    gave it, when ``path`` is where it is opened); ``span``: only these lines of a JSONL file."""
    yield from _read_file(path, max_bytes, audio, name, span=span)


def _read_file(path: Path, max_bytes: int, audio: AudioOptions | None, name: str | None = None, *,
               meter: Meter | None = None, span: Span | None = None) -> Iterator[Item]:
    name = name or str(path)
    try:
        yield from _read(path, name, max_bytes, audio, meter.read if meter is not None else None, span)
    except OSError as exc:
        yield InputError(name, f"无法读取文件: {exc.strerror or exc}")
    except Exception as exc:  # a reader bug must not lose the rest of the batch
        yield InputError(name, f"读取文件时出错: {type(exc).__name__}: {exc}")
    if meter is not None:
        meter.finished(path)


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} 字节"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n / 1024 / 1024:.1f} MB"


def _read_recording(path: Path, name: str, options: AudioOptions | None) -> Iterator[Item]:
    try:
        from guifan.audio import AudioOptions, read_recording
    except ImportError as exc:
        yield InputError(name, f"读取录音需要音频组件 ({exc.name} 未安装): pip install 'guifan[audio]'")
        return
    yield from read_recording(path, name, options or AudioOptions(), diarization=_diarization)


def _diarization(recording: Path, duration: float):
    """A mono recording's diarization JSON (guifan.readers.sidecar, imported only for mono files)."""
    from guifan.readers.sidecar import load_diarization

    return load_diarization(recording, duration)


def _is_sidecar(path: Path) -> bool:
    """Whether ``path`` is the diarization JSON of a mono recording beside it (``call.json`` of
    ``call.wav``): read with the recording, not as a conversation of its own."""
    if path.suffix.lower() != ".json":
        return False
    try:
        from guifan.audio.mono import recording_of
    except ImportError:
        return False
    return recording_of(path) is not None


def _read(path: Path, name: str, max_bytes: int, audio: AudioOptions | None,
          read: Callable[[int], None] | None = None, span: Span | None = None) -> Iterator[Item]:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        yield InputError(name, "文件或目录不存在")
        return
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_EXTENSIONS:
        hint = f"; {_HINTS[suffix]}" if suffix in _HINTS else ""
        yield InputError(name, f"不支持的文件类型 {suffix or '(无扩展名)'},支持: {' '.join(SUPPORTED_EXTENSIONS)}{hint}")
        return
    if size == 0:
        yield InputError(name, "文件为空")
        return
    if suffix in STREAMED_EXTENSIONS:
        yield from read_jsonl(path, name, read, span)
        return
    if suffix in AUDIO_EXTENSIONS:
        yield from _read_recording(path, name, audio)
        return
    # Checked before opening: a file too big to hold in memory must be refused without reading it.
    if size > max_bytes:
        yield InputError(
            name,
            f"文件大小 {_size(size)} 超过整体读取的上限 {_size(max_bytes)};"
            "请改用 JSONL (每行一个对话,流式读取,不受此限制),或调高上限 (--max-file-mb)",
        )
        return
    if suffix in _BINARY:
        yield from read_xlsx(path, name)
        return
    try:
        decoded = decode(path.read_bytes())
    except EncodingError as exc:
        yield InputError(name, exc.message)
        return
    if not decoded.text.strip():
        yield InputError(name, "文件为空")
        return
    items = _TEXT_READERS[suffix](decoded.text, path, name)
    if not decoded.damaged:
        yield from items
        return
    # Some lines did not decode: each is reported, and a conversation holding one is not checked.
    for line in decoded.damaged:
        yield InputError(name, line_error(decoded.encoding), line)
    for item in items:
        if isinstance(item, InputError) and item.line not in decoded.damaged:
            yield item
        elif not isinstance(item, InputError) and not _holds_damage(item):
            yield item


def _holds_damage(conversation: Conversation) -> bool:
    return any(DAMAGED in value for value in (
        conversation.id, conversation.agent_id or "", repr(dict(conversation.metadata)),
        *(turn.text for turn in conversation.turns),
    ))


def _walk(root: Path) -> Iterator[Path | InputError]:
    """Supported files below `root` in sorted order; hidden entries and Excel lock files skipped."""
    problems: list[OSError] = []
    found = False
    for folder, subfolders, files in os.walk(root, onerror=problems.append):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        for file in sorted(files):
            if not file.startswith((".", "~$")) and Path(file).suffix.lower() in SUPPORTED_EXTENSIONS:
                found = True
                yield Path(folder) / file
    for problem in problems:
        yield InputError(str(problem.filename or root), f"无法读取目录: {problem.strerror or problem}")
    if not found and not problems:
        yield InputError(str(root), f"目录中没有支持的文件 (支持: {' '.join(SUPPORTED_EXTENSIONS)})")
