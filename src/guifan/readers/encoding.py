"""Text encodings of exported files: UTF-8 (with or without BOM) first, then GBK/GB18030.

Chinese call-centre systems and Excel on Chinese Windows still write GBK, so GB18030 (a superset
of GBK) is the second strict try; a UTF-16/32 byte-order mark ("Unicode text" exports) is honoured,
and charset-normalizer is the last resort, trusted only when it names an encoding that can carry
Chinese (Big5, UTF-16 without a mark …): a Western code page would turn "您好" into "ŠéĘňąŻ"
without any error, and garbled Chinese gives wrong findings.

Nothing is ever decoded with replacement characters. A file that is UTF-8 (or GB18030) except for
some damaged lines is read line by line: the good lines are read, each damaged one is reported
with its line number, and a conversation that holds one is not checked.
"""

from __future__ import annotations

import codecs
import io
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

ENCODING_ERROR = "无法识别的文件编码 (支持 UTF-8 / GBK / GB18030)"
# utf-8-sig also reads UTF-8 without a BOM, and drops the BOM when there is one.
_STRICT = ("utf-8-sig", "gb18030")
# How much of a streamed file decides its encoding.
HEAD_BYTES = 1 << 16
# UTF-32 first: its little-endian mark begins with UTF-16's.
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
# What charset-normalizer may name: encodings that carry Chinese text.
_CHINESE_CAPABLE = ("utf_8", "utf_16", "utf_32", "gb2312", "gbk", "gb18030", "hz", "big5", "big5hkscs", "cp950")
# Stands in for a line that does not decode, in a document read line by line: a Unicode
# noncharacter, which no export writes, so a conversation holding it is known to be damaged.
DAMAGED = "\ufdd0"


class EncodingError(ValueError):
    def __init__(self, message: str = ENCODING_ERROR):
        super().__init__(message)
        self.message = message


def line_error(encoding: str) -> str:
    return f"该行无法按 {_label(encoding)} 或 GB18030 解码 (文件的其余各行已按 {_label(encoding)} 读取),该行所在的对话未检查"


def _label(encoding: str) -> str:
    return {"utf-8-sig": "UTF-8", "gb18030": "GB18030"}.get(encoding, encoding)


@dataclass(frozen=True)
class Decoded:
    """A document's text; ``damaged`` lists the 1-based lines that did not decode (their text is
    ``DAMAGED``), read in ``encoding``."""

    text: str
    encoding: str
    damaged: tuple[int, ...] = ()


def _bom(data: bytes) -> str | None:
    return next((encoding for mark, encoding in _BOMS if data.startswith(mark)), None)


def _line_encoding(data: bytes, lines: list[bytes]) -> str | None:
    """How a text with some undecodable lines is read line by line: UTF-8 first as soon as one
    line with Chinese is valid UTF-8 (GBK text almost never is), else GB18030; None for what is
    not such a text: many NUL bytes (binary data, or UTF-16 without a mark) or no line that decodes."""
    if data.count(b"\x00") * 20 > len(data):
        return None
    wide = [line for line in lines if not line.isascii()]
    if not wide:
        return _STRICT[0]
    for encoding in _STRICT:
        if any(_decode_line(line, (encoding,)) is not None for line in wide):
            return encoding
    return None


def _guess(data: bytes) -> str:
    """charset-normalizer's answer, when it is an encoding that carries Chinese."""
    from charset_normalizer import from_bytes  # slow import, rarely needed

    best = from_bytes(data).best()
    if best is None or best.encoding not in _CHINESE_CAPABLE:
        raise EncodingError()
    return "utf-8-sig" if best.encoding == "utf_8" else best.encoding  # a BOM is not text


def decode(data: bytes) -> Decoded:
    """The text of a whole document (see the module's docstring)."""
    try:
        return Decoded(data.decode(_STRICT[0]), _STRICT[0])
    except UnicodeDecodeError:
        pass
    marked = _bom(data)
    if marked is not None:
        try:
            return Decoded(data.decode(marked), marked)
        except UnicodeDecodeError:
            raise EncodingError(f"无法按 {marked} 解码 ({ENCODING_ERROR})") from None
    lines = data.split(b"\n")
    encoding = _line_encoding(data, lines)
    if encoding is None:
        encoding = _guess(data)
        try:
            return Decoded(data.decode(encoding), encoding)
        except UnicodeDecodeError:
            raise EncodingError() from None
    if encoding != _STRICT[0]:
        try:  # a GBK export: no line with Chinese reads as UTF-8
            return Decoded(data.decode(encoding), encoding)
        except UnicodeDecodeError:
            pass
    tries = _tries(encoding)
    texts, damaged = [], []
    for number, line in enumerate(lines, start=1):
        text = _decode_line(line, tries)
        if text is None:
            damaged.append(number)
            text = DAMAGED
        texts.append(text)
    return Decoded("\n".join(texts), encoding, tuple(damaged))


def _tries(encoding: str) -> tuple[str, ...]:
    """A line that fails in the file's encoding gets the other strict ones too (an ASCII head
    with GBK further down)."""
    return (encoding,) + tuple(e for e in _STRICT if e != encoding)


def detect(head: bytes) -> str:
    """The encoding of a streamed file judged from its first bytes (see ``decode``)."""
    marked = _bom(head)
    if marked is not None:
        return marked
    lines = head.split(b"\n")[:-1] or [head]  # the last piece may be cut short
    return _line_encoding(head, lines) or _guess(head)


def _ascii_compatible(encoding: str) -> bool:
    """True when a newline byte is always a line end (UTF-8, GB18030, Big5 …; not UTF-16)."""
    return "a\n".encode(encoding).endswith(b"a\n")  # endswith: utf-8-sig puts a BOM in front


@dataclass(frozen=True)
class Span:
    """Some lines of a file: from byte ``start`` (where a line begins) to byte ``end`` (exclusive:
    where a line begins, or the file's end); the first of them is line ``line``."""

    start: int
    end: int
    line: int


def line_spans(path: Path, size: int) -> list[Span]:
    """A text file cut at line ends into spans of about ``size`` bytes, each with the number of its
    first line (one pass counting newline bytes, a block at a time). A file whose lines cannot be
    found by the newline byte (UTF-16/32), or that is not text at all, is one span."""
    total = path.stat().st_size
    with path.open("rb") as fh:
        try:
            encoding = detect(fh.read(HEAD_BYTES))
        except EncodingError:
            return [Span(0, total, 1)]
        if not _ascii_compatible(encoding):
            return [Span(0, total, 1)]
        fh.seek(0)
        spans, start, line, position, newlines = [], 0, 1, 0, 0  # newlines: those before ``position``
        while block := fh.read(1 << 20):
            counted = counted_to = 0  # this block's newlines before index ``counted_to``
            offset = start + size - position  # where in this block the current span may end
            while offset < len(block):
                newline = block.find(b"\n", max(offset, 0))
                end = position + newline + 1
                if newline < 0 or end >= total:
                    break
                spans.append(Span(start, end, line))
                counted += block.count(b"\n", counted_to, newline + 1)
                counted_to = newline + 1
                start, line = end, 1 + newlines + counted
                offset = start + size - position
            newlines += counted + block.count(b"\n", counted_to)
            position += len(block)
        spans.append(Span(start, total, line))
        return spans


def iter_lines(path: Path, read: Callable[[int], None] | None = None,
               span: Span | None = None) -> Iterator[tuple[int, str | EncodingError]]:
    """(line number, text) for every line of a file (of ``span`` only, when given), decoded one
    line at a time.

    The whole file is never in memory. A line that does not decode yields an EncodingError in
    place of its text and the next lines are still read. A file that is not text at all raises
    EncodingError before the first line. ``read`` is told the bytes of each line as it is read
    (a progress bar's measure; not for UTF-16/32 files, which are read whole).
    """
    with path.open("rb") as fh:
        encoding = detect(fh.read(HEAD_BYTES))  # the file's head decides, whichever span is read
        fh.seek(0)
        if not _ascii_compatible(encoding):
            yield from _iter_wide(fh, encoding)
            return
        tries = _tries(encoding)
        position, first = (span.start, span.line) if span is not None else (0, 1)
        fh.seek(position)
        for lineno, raw in enumerate(fh, start=first):
            if span is not None and position >= span.end:
                return
            position += len(raw)
            if read is not None:
                read(len(raw))
            text = _decode_line(raw, tries)
            yield lineno, EncodingError(line_error(encoding)) if text is None else text


def _decode_line(raw: bytes, encodings: tuple[str, ...]) -> str | None:
    for encoding in encodings:
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


def _iter_wide(fh: BinaryIO, encoding: str) -> Iterator[tuple[int, str | EncodingError]]:
    # UTF-16/32 lines cannot be split on the newline byte; decode the stream, stop at a bad byte.
    text = io.TextIOWrapper(fh, encoding=encoding, errors="strict", newline=None)
    lineno = 0
    try:
        for lineno, line in enumerate(text, start=1):
            yield lineno, line
    except UnicodeDecodeError:
        yield lineno + 1, EncodingError(f"无法按 {encoding} 解码 ({ENCODING_ERROR})")
    finally:
        text.detach()
