"""Interchange JSON (.json) and JSON Lines (.jsonl, .ndjson).

A .json document is one conversation object, an array of them, or {"conversations": [...]};
its conversations are decoded one by one, so each keeps the line it starts on and a syntax error
half-way still leaves the conversations before it. JSON Lines are streamed: one line in memory
at a time, whatever the size of the file.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any, Callable, Iterator

from guifan.errors import InputError
from guifan.model import Conversation
from guifan.readers.asr import from_asr, is_asr
from guifan.readers.encoding import EncodingError, Span, iter_lines
from guifan.readers.fields import FieldError, build, type_name

_DECODER = json.JSONDecoder()
# Only for a value the fast decoder refused with ValueError: an integer of more digits than Python
# converts (4,300) becomes inf, so that the field holding it is named by the usual validation.
_TOLERANT = json.JSONDecoder(parse_int=lambda digits: int(digits) if len(digits) < 4300 else float("inf"))
_TOO_DEEP = "JSON 嵌套层级过深"
_WHITESPACE = re.compile(r"[ \t\n\r]*")

# The json module's messages, in the words users read elsewhere in the report.
_JSON_MESSAGES = {
    "Expecting value": "缺少值或值无效",
    "Expecting ',' delimiter": "缺少逗号",
    "Expecting ':' delimiter": "缺少冒号",
    "Expecting property name enclosed in double quotes": "属性名应使用双引号",
    "Unterminated string starting at": "字符串没有结束引号",
    "Invalid control character at": "字符串中有未转义的控制字符",
    "Invalid \\escape": "无效的转义字符",
    "Invalid \\uXXXX escape": "无效的 \\uXXXX 转义",
    "Extra data": "多余的内容",
}


def json_error(path: str, exc: json.JSONDecodeError, line: int | None = None) -> InputError:
    """A syntax error with its position; `line` overrides the line (a JSONL line number)."""
    reason = _JSON_MESSAGES.get(exc.msg, exc.msg)
    return InputError(path, f"JSON 格式错误: {reason} (第 {exc.colno} 列)", line or exc.lineno)


def _field(exc: FieldError) -> str | None:
    if exc.index is None:
        return exc.key
    return f"turns[{exc.index}]" + (f".{exc.key}" if exc.key else "")


def conversation(obj: Any, path: str, line: int) -> Conversation | InputError:
    """One interchange object -> Conversation, or an InputError naming the exact field."""
    if not isinstance(obj, dict):
        return InputError(path, f"应为 JSON 对象 (一个对话),而不是{type_name(obj)}", line)
    if "conversations" in obj and "turns" not in obj:
        return InputError(path, f"应为对话列表,而不是{type_name(obj['conversations'])}", line, "conversations")
    try:
        if is_asr(obj):  # FunASR, Whisper or sentence-level ASR output
            obj = from_asr(obj, Path(path).stem if line == 1 else f"{Path(path).stem}-{line}")
        return build(obj, f"{path}:{line}")
    except FieldError as exc:
        return InputError(path, exc.message, line, _field(exc))
    except RecursionError:
        return InputError(path, _TOO_DEEP, line)


def loads(text: str) -> Any:
    """json.loads for one line or document of untrusted input; raises JSONDecodeError, or
    RecursionError for nesting deeper than Python's stack."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise
    except ValueError:  # an integer too long to convert: decode again, giving it as inf
        return _TOLERANT.decode(text)


def read_jsonl(path: Path, name: str, read: Callable[[int], None] | None = None,
               span: Span | None = None) -> Iterator[Conversation | InputError]:
    """Conversations of a JSONL file (of its ``span`` of lines, when given), one line at a time;
    ``read`` is told the bytes of each line."""
    empty = True
    lines = iter_lines(path, read, span)
    try:
        first = next(lines, None)
    except EncodingError as exc:  # not text at all: one error for the file
        yield InputError(name, exc.message)
        return
    for lineno, text in itertools.chain([first] if first else [], lines):
        if isinstance(text, EncodingError):
            yield InputError(name, text.message, lineno)
            empty = False
            continue
        if not text.strip():
            continue
        empty = False
        try:
            obj = loads(text)
        except json.JSONDecodeError as exc:
            yield json_error(name, exc, lineno)
            continue
        except RecursionError:
            yield InputError(name, _TOO_DEEP, lineno)
            continue
        yield conversation(obj, name, lineno)
    if empty and span is None:  # a span of blank lines is no error: the file's other spans have some
        yield InputError(name, "文件为空")


def read_json(text: str, name: str) -> Iterator[Conversation | InputError]:
    lines = _LineCounter(text)
    try:
        for offset, obj in _top_level(text):
            line = lines.at(offset)
            yield InputError(name, _TOO_DEEP, line) if obj is _TooDeep else conversation(obj, name, line)
    except json.JSONDecodeError as exc:
        yield json_error(name, exc)


class _TooDeep:
    """Stands for a conversation nested too deeply to decode; the ones after it are still read."""


_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def _decode(text: str, pos: int) -> tuple[Any, int]:
    """One value at ``pos`` and the offset after it (see ``loads``)."""
    try:
        return _DECODER.raw_decode(text, pos)
    except json.JSONDecodeError:
        raise
    except ValueError:
        return _TOLERANT.raw_decode(text, pos)
    except RecursionError:
        return _TooDeep, _value_end(text, pos)


def _value_end(text: str, pos: int) -> int:
    """The offset after the array or object at ``pos``, found without recursion."""
    depth = 0
    for token in _TOKEN.finditer(text, pos):
        kind = token.group()[0]
        if kind in "[{":
            depth += 1
        elif kind in "]}":
            depth -= 1
            if depth == 0:
                return token.end()
    raise json.JSONDecodeError("Expecting value", text, pos)


class _LineCounter:
    """Line numbers of increasing offsets in one pass over the text."""

    def __init__(self, text: str):
        self.text, self.offset, self.line = text, 0, 1

    def at(self, offset: int) -> int:
        self.line += self.text.count("\n", self.offset, offset)
        self.offset = offset
        return self.line


def _skip(text: str, pos: int) -> int:
    return _WHITESPACE.match(text, pos).end()


def _expect(text: str, pos: int, char: str, message: str) -> int:
    if not text.startswith(char, pos):
        raise json.JSONDecodeError(message, text, pos)
    return _skip(text, pos + 1)


def _top_level(text: str) -> Iterator[tuple[int, Any]]:
    """(offset, value) of each conversation in a document, decoded one conversation at a time."""
    pos = _skip(text, 0)
    if text.startswith("[", pos):
        pos = yield from _array(text, pos)
    elif text.startswith("{", pos):
        pos = yield from _object(text, pos)
    else:
        start = pos
        value, pos = _decode(text, pos)
        yield start, value
    pos = _skip(text, pos)
    if pos != len(text):
        raise json.JSONDecodeError("Extra data", text, pos)


def _array(text: str, pos: int) -> Iterator[tuple[int, Any]]:
    pos = _skip(text, pos + 1)
    if text.startswith("]", pos):
        return pos + 1
    while True:
        start = pos
        value, pos = _decode(text, pos)
        yield start, value
        pos = _skip(text, pos)
        if text.startswith("]", pos):
            return pos + 1
        pos = _expect(text, pos, ",", "Expecting ',' delimiter")


def _object(text: str, pos: int) -> Iterator[tuple[int, Any]]:
    """A wrapper {"conversations": [...], ...} yields its list's items, any other object itself."""
    start, members, wrapper = pos, {}, False
    pos = _skip(text, pos + 1)
    if text.startswith("}", pos):
        yield start, members
        return pos + 1
    while True:
        if not text.startswith('"', pos):
            raise json.JSONDecodeError("Expecting property name enclosed in double quotes", text, pos)
        key, pos = _DECODER.raw_decode(text, pos)
        pos = _expect(text, _skip(text, pos), ":", "Expecting ':' delimiter")
        if key == "conversations" and text.startswith("[", pos):
            pos = yield from _array(text, pos)
            wrapper = True
        else:
            members[key], pos = _decode(text, pos)
        pos = _skip(text, pos)
        if text.startswith("}", pos):
            break
        pos = _expect(text, pos, ",", "Expecting ',' delimiter")
    if not wrapper:
        yield start, members
    return pos + 1
