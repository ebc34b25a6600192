"""Input bounds shared by the API and the pages, and request validation errors in Chinese.

FastAPI answers invalid input with 422 and pydantic's English messages; ``chinese_errors`` keeps
the shape (``{"detail": [{"loc", "type", "msg"}]}``) and writes ``msg`` in Chinese, naming the field.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Iterable

from pydantic import AfterValidator, Field, ValidationError

from guifan.errors import pydantic_text

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

def chinese_message(error: dict[str, Any]) -> str:
    """``字段 page: 不能大于 10000000``; the location's first part (query, path, body) is left out.
    Unparsable JSON is located by its character offset, not by a field."""
    location = error.get("loc", ())[1:]
    if error.get("type") == "json_invalid":
        return f"请求体: {pydantic_text(error)} (第 {location[0]} 个字符处)" if location else f"请求体: {pydantic_text(error)}"
    field = ".".join(str(part) for part in location)
    return f"字段 {field}: {pydantic_text(error)}" if field else f"请求体: {pydantic_text(error)}"


def chinese_errors(errors: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """FastAPI's error list with Chinese messages; the input itself is not echoed back."""
    return [{"loc": list(e.get("loc", ())), "type": e.get("type", ""), "msg": chinese_message(e)} for e in errors]


def describe(exc: ValidationError) -> str:
    """A validation error of a model the pages build from a form, for the page's error line."""
    return ";".join(chinese_message({**e, "loc": ("form", *e["loc"])}) for e in exc.errors())
