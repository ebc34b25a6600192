"""Errors users can act on: each names the file, the line and the field at fault."""

from __future__ import annotations

import re
from dataclasses import dataclass

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


class RulebookError(GuifanError):
    """A rulebook or company override file that is not valid; the message names file and key path."""
