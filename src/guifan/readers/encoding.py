"""Text encodings of exported files: UTF-8 (with or without BOM) first, then GBK/GB18030.

Chinese call-centre systems and Excel on Chinese Windows still write GBK, so GB18030 (a superset
of GBK) is the second strict try; charset-normalizer is the last resort (UTF-16 "Unicode text"
exports, Big5 …). Nothing is ever decoded with replacement characters: a text that decodes only
with errors is refused, because silently garbled Chinese would produce wrong findings.
"""

from __future__ import annotations

import codecs
import io
from pathlib import Path
from typing import BinaryIO, Iterator

ENCODING_ERROR = "无法识别的文件编码 (支持 UTF-8 / GBK / GB18030)"
# utf-8-sig also reads UTF-8 without a BOM, and drops the BOM when there is one.
_STRICT = ("utf-8-sig", "gb18030")
# How much of a streamed file decides its encoding.
HEAD_BYTES = 1 << 16


class EncodingError(ValueError):
    def __init__(self, message: str = ENCODING_ERROR):
        super().__init__(message)
        self.message = message


def _strict(data: bytes, final: bool) -> tuple[str, str] | None:
    for encoding in _STRICT:
        try:
            return encoding, codecs.getincrementaldecoder(encoding)().decode(data, final=final)
        except UnicodeDecodeError:
            continue
    return None


def _decode(data: bytes, final: bool) -> tuple[str, str]:
    """(encoding, text); with final=False a character cut at the end of `data` is not an error."""
    strict = _strict(data, final)
    if strict is not None:
        return strict
    from charset_normalizer import from_bytes  # slow import, rarely needed

    best = from_bytes(data).best()
    if best is None:
        raise EncodingError()
    return best.encoding, str(best)


def decode(data: bytes) -> str:
    """The text of a whole document."""
    return _decode(data, final=True)[1]


def detect(head: bytes) -> str:
    """The encoding of a streamed file judged from its first bytes.

    One damaged line must not change how the others are read: when most of the head's lines
    decode with a strict encoding, that is the file's encoding.
    """
    strict = _strict(head, final=False)
    if strict is not None:
        return strict[0]
    lines = head.split(b"\n")[:-1] or [head]  # the last piece may be cut short
    for encoding in _STRICT:
        if 2 * sum(_decode_line(line, (encoding,)) is not None for line in lines) > len(lines):
            return encoding
    return _decode(head, final=False)[0]


def _ascii_compatible(encoding: str) -> bool:
    """True when a newline byte is always a line end (UTF-8, GB18030, Big5 …; not UTF-16)."""
    return "a\n".encode(encoding).endswith(b"a\n")  # endswith: utf-8-sig puts a BOM in front


def iter_lines(path: Path) -> Iterator[tuple[int, str | EncodingError]]:
    """(line number, text) for every line of a file, decoded one line at a time.

    The whole file is never in memory. A line that does not decode yields an EncodingError in
    place of its text and the next lines are still read.
    """
    with path.open("rb") as fh:
        encoding = detect(fh.read(HEAD_BYTES))
        fh.seek(0)
        if not _ascii_compatible(encoding):
            yield from _iter_wide(fh, encoding)
            return
        # The head may be plain ASCII with GBK further down: a line that fails gets the other
        # strict encodings too. utf-8-sig drops a BOM at the start of line 1, nothing else.
        tries = (encoding,) + tuple(e for e in _STRICT if e != encoding)
        for lineno, raw in enumerate(fh, start=1):
            text = _decode_line(raw, tries)
            yield lineno, EncodingError(f"该行无法解码 ({ENCODING_ERROR})") if text is None else text


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
