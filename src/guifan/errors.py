"""Errors users can act on: each names the file, the line and the field at fault."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_TURN_FIELD = re.compile(r"^turns\[(\d+)\]")


class GuifanError(Exception):
    """Base class for errors shown to users as a message, never as a traceback."""


@dataclass(frozen=True)
class InputError(GuifanError):
    """A conversation (or a whole file) that could not be read.

    `line` is 1-based (a row for CSV/XLSX, a line for text formats); `field` names the key or column.
    """

    path: str
    message: str
    line: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = self.path
        if self.line is not None:
            where += f":{self.line}"
        if self.field:
            where += f" 字段 {self.field}"
            turn = _TURN_FIELD.match(self.field)
            if turn:  # the field is a path into the file (from 0); people count turns from 1
                where += f" (第{int(turn.group(1)) + 1}轮)"
        return f"{where}: {self.message}"

    def to_dict(self) -> dict:
        return {"path": self.path, "line": self.line, "field": self.field, "message": self.message}

    def __reduce__(self):
        """Pickled by its fields (an exception pickles its ``args``, which a dataclass leaves empty):
        errors cross to and from worker processes."""
        return type(self), (self.path, self.message, self.line, self.field)


class RulebookError(GuifanError):
    """A rulebook or company override file that is not valid; the message names file and key path."""


# pydantic's error types -> Chinese; {name} is filled from the error's context.
MESSAGES: dict[str, str] = {
    "missing": "必填",
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "int_from_float": "应为整数",
    "int_parsing_size": "数字过大",
    "float_parsing": "应为数字",
    "float_type": "应为数字",
    "finite_number": "应为有限的数字",
    "bool_parsing": "应为 true 或 false",
    "bool_type": "应为 true 或 false",
    "string_type": "应为文本",
    "string_too_short": "至少 {min_length} 个字符",
    "string_too_long": "最多 {max_length} 个字符",
    "string_pattern_mismatch": "格式不正确",
    "string_unicode": "应为 UTF-8 文本",
    "too_short": "至少 {min_length} 项",
    "too_long": "最多 {max_length} 项",
    "less_than_equal": "不能大于 {le}",
    "less_than": "应小于 {lt}",
    "greater_than_equal": "不能小于 {ge}",
    "greater_than": "应大于 {gt}",
    "literal_error": "应为 {expected} 之一",
    "enum": "应为 {expected} 之一",
    "json_invalid": "不是有效的 JSON",
    "json_type": "应为 JSON",
    "value_error": "{error}",
    "assertion_error": "{error}",
    "date_parsing": "应为日期 (YYYY-MM-DD)",
    "date_from_datetime_parsing": "应为日期 (YYYY-MM-DD)",
    "date_from_datetime_inexact": "应为日期 (YYYY-MM-DD)",
    "date_type": "应为日期 (YYYY-MM-DD)",
    "datetime_parsing": "应为时间 (ISO 8601)",
    "datetime_type": "应为时间 (ISO 8601)",
    "dict_type": "应为 JSON 对象",
    "model_type": "应为 JSON 对象",
    "model_attributes_type": "应为 JSON 对象",
    "list_type": "应为列表",
    "extra_forbidden": "不允许的字段",
}
FALLBACK = "输入无效"


def pydantic_text(error: dict[str, Any]) -> str:
    """A pydantic validation error's message in Chinese (by its type, filled from its context)."""
    context = {key: str(value).replace(" or ", "、") for key, value in (error.get("ctx") or {}).items()}
    try:
        return MESSAGES[error["type"]].format(**context)
    except (KeyError, IndexError):  # an unknown type, or a message missing its context
        return FALLBACK
