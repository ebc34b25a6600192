"""Input bounds shared by the API and the pages, and request validation errors in Chinese.

FastAPI answers invalid input with 422 and pydantic's English messages; ``chinese_errors`` keeps
the shape (``{"detail": [{"loc", "type", "msg"}]}``) and writes ``msg`` in Chinese, naming the field.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Iterable

from pydantic import AfterValidator, Field, ValidationError

# Ids are INTEGER columns: 32-bit in PostgreSQL, 64-bit in SQLite. A larger number would overflow
# the database or its driver (a 500) instead of simply naming no row.
DB_INT_MAX = 2**31 - 1
RowId = Annotated[int, Field(ge=1, le=DB_INT_MAX)]


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("不能包含 NUL 字符 (\\x00)")
    return value


# Text from a request: PostgreSQL can neither store nor compare a NUL character (a 500 otherwise).
Text = Annotated[str, AfterValidator(_no_nul)]

# Sampling weeks: years a call centre's conversations can have (and datetime can add a week to).
WEEK_YEARS = (1970, 2100)
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


def _real_iso_week(value: str) -> str:
    match = _WEEK.match(value)
    if match is None:
        raise ValueError("应写成 ISO 周,如 2026-W48")
    year, week = int(match[1]), int(match[2])
    if not WEEK_YEARS[0] <= year <= WEEK_YEARS[1]:
        raise ValueError(f"年份应在 {WEEK_YEARS[0]} 到 {WEEK_YEARS[1]} 之间")
    try:
        date.fromisocalendar(year, week, 1)
    except ValueError:
        raise ValueError(f"{year} 年没有第 {week} 周") from None
    return value


IsoWeek = Annotated[str, Field(max_length=8, pattern=_WEEK.pattern), AfterValidator(_real_iso_week)]

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


def _text(error: dict[str, Any]) -> str:
    context = {key: str(value).replace(" or ", "、") for key, value in (error.get("ctx") or {}).items()}
    try:
        return MESSAGES[error["type"]].format(**context)
    except (KeyError, IndexError):  # an unknown type, or a message missing its context
        return FALLBACK


def chinese_message(error: dict[str, Any]) -> str:
    """``字段 page: 不能大于 10000000``; the location's first part (query, path, body) is left out.
    Unparsable JSON is located by its character offset, not by a field."""
    location = error.get("loc", ())[1:]
    if error.get("type") == "json_invalid":
        return f"请求体: {_text(error)} (第 {location[0]} 个字符处)" if location else f"请求体: {_text(error)}"
    field = ".".join(str(part) for part in location)
    return f"字段 {field}: {_text(error)}" if field else f"请求体: {_text(error)}"


def chinese_errors(errors: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """FastAPI's error list with Chinese messages; the input itself is not echoed back."""
    return [{"loc": list(e.get("loc", ())), "type": e.get("type", ""), "msg": chinese_message(e)} for e in errors]


def describe(exc: ValidationError) -> str:
    """A validation error of a model the pages build from a form, for the page's error line."""
    return ";".join(chinese_message({**e, "loc": ("form", *e["loc"])}) for e in exc.errors())
