"""CSV / TSV and XLSX: one row per turn, rows grouped into conversations by conversation_id.

The header row may use the English column names or the Chinese ones that call-centre exports
use (会话ID, 角色, 内容 …). It need not be the first row: a title row above it is skipped. Rows
of one conversation need not be adjacent; conversations come out in order of first appearance.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import islice
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from guifan.errors import InputError
from guifan.model import Conversation
from guifan.readers.fields import FieldError, build, parse_identifier, scalar

# Canonical column -> accepted header names (compared without case, spaces, "_" and "-").
COLUMNS: dict[str, tuple[str, ...]] = {
    "conversation_id": ("conversation_id", "id", "session_id", "call_id", "会话ID", "对话ID", "通话ID", "会话编号", "对话编号", "会话"),
    "role": ("role", "speaker", "角色", "说话人", "发言人", "说话方", "发送方"),
    "text": ("text", "content", "内容", "文本", "消息内容", "对话内容", "发言内容", "消息"),
    "start": ("start", "开始时间", "开始", "发送时间", "消息时间"),
    "end": ("end", "结束时间", "结束"),
    "channel": ("channel", "渠道", "会话渠道"),
    "started_at": ("started_at", "开始日期", "通话时间", "会话开始时间"),
    "agent_id": ("agent_id", "工号", "坐席工号", "座席工号", "客服工号"),
}
REQUIRED = ("conversation_id", "role", "text")
# Per-conversation columns: the first non-empty value in the conversation's rows counts.
_CONVERSATION_COLUMNS = ("channel", "started_at", "agent_id")
# A title or notes above the header are common in exports; look this far for the header row.
_HEADER_SEARCH_ROWS = 10


def _norm(name: str) -> str:
    return re.sub(r"[\s_\-]+", "", name).lower()


_ALIASES = {_norm(alias): column for column, aliases in COLUMNS.items() for alias in aliases}


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _cell_text(value: Any) -> str:
    """Excel turns a customer's "1" into the number 1.0; give it back as the text "1"."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _metadata_value(value: Any) -> Any:
    if isinstance(value, str):
        return scalar(value)
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    return value


@dataclass
class _Header:
    line: int
    columns: dict[str, int]  # canonical column -> cell index
    names: dict[str, str]  # canonical column -> header as written, for messages
    extra: dict[int, str]  # other columns -> metadata keys

    def missing(self) -> list[str]:
        return [c for c in REQUIRED if c not in self.columns]


def _header(path: str, line: int, cells: Sequence[Any]) -> _Header | InputError:
    header = _Header(line, {}, {}, {})
    for index, cell in enumerate(cells):
        if _blank(cell):
            continue
        name = str(cell).strip()
        column = _ALIASES.get(_norm(name))
        if column is None:
            header.extra[index] = name
        elif column in header.columns:
            return InputError(path, f"列 {header.names[column]!r} 和 {name!r} 重复 (都表示 {column})", line, name)
        else:
            header.columns[column], header.names[column] = index, name
    return header


def _find_header(path: str, rows: Iterator[tuple[int, Sequence[Any]]]) -> _Header | InputError | None:
    """The first row naming every required column; None when there is no non-empty row at all."""
    best: _Header | InputError | None = None
    filled = (r for r in rows if isinstance(r[1], InputError) or not all(map(_blank, r[1])))
    for _, (line, cells) in zip(range(_HEADER_SEARCH_ROWS), filled):
        if isinstance(cells, InputError):
            return cells
        header = _header(path, line, cells)
        if isinstance(header, _Header) and not header.missing():
            return header
        if best is None or (isinstance(best, _Header) and isinstance(header, _Header)
                            and len(header.missing()) < len(best.missing())):
            best = header
    if isinstance(best, _Header):
        missing = best.missing()
        accepted = "; ".join(f"{c}: {' / '.join(COLUMNS[c])}" for c in missing)
        return InputError(path, f"缺少必填列 {', '.join(missing)} (可用的列名 {accepted})", best.line)
    return best


@dataclass
class _Group:
    """The rows of one conversation."""

    id: str
    lines: list[int] = field(default_factory=list)
    turns: list[dict[str, Any]] = field(default_factory=list)
    values: dict[str, tuple[Any, int]] = field(default_factory=dict)  # conversation column -> (value, line)
    metadata: dict[str, Any] = field(default_factory=dict)

    def add(self, header: _Header, line: int, cells: Sequence[Any]) -> None:
        def get(column: str) -> Any:
            index = header.columns.get(column)
            return cells[index] if index is not None and index < len(cells) else None

        self.lines.append(line)
        self.turns.append({"role": get("role"), "text": _cell_text(get("text")), "start": get("start"), "end": get("end")})
        for column in _CONVERSATION_COLUMNS:
            value = get(column)
            if column not in self.values and not _blank(value):
                self.values[column] = (value, line)
        for index, key in header.extra.items():
            if key not in self.metadata and index < len(cells) and not _blank(cells[index]):
                self.metadata[key] = _metadata_value(cells[index])

    def conversation(self, header: _Header, path: str) -> Conversation | InputError:
        raw = {"id": self.id, "turns": self.turns, "metadata": self.metadata}
        raw.update({column: value for column, (value, _) in self.values.items()})
        try:
            return build(raw, f"{path}:{self.lines[0]}")
        except FieldError as exc:
            if exc.index is not None:
                line = self.lines[exc.index]
            else:
                line = self.values.get(exc.key or "", (None, self.lines[0]))[1]
            column = "conversation_id" if exc.key == "id" else exc.key
            return InputError(path, exc.message, line, header.names.get(column or "", column))


def _conversations(header: _Header, rows: Iterable[tuple[int, Sequence[Any]]], path: str) -> Iterator[Conversation | InputError]:
    """Conversations from the (row number, cells) pairs after the header, one row per turn."""
    groups: dict[str, _Group] = {}
    order: list[_Group | InputError] = []
    id_column = header.names["conversation_id"]
    for line, cells in rows:
        if isinstance(cells, InputError):  # a CSV syntax error: nothing after it is reliable
            order.append(cells)
            break
        if all(map(_blank, cells)):
            continue
        index = header.columns["conversation_id"]
        try:
            conv_id = parse_identifier(cells[index] if index < len(cells) else None, "conversation_id")
        except FieldError as exc:
            order.append(InputError(path, exc.message, line, id_column))
            continue
        if conv_id is None:
            order.append(InputError(path, "缺少会话 ID,这一行不属于任何对话", line, id_column))
            continue
        group = groups.get(conv_id)
        if group is None:
            group = groups[conv_id] = _Group(conv_id)
            order.append(group)
        group.add(header, line, cells)
    for item in order:
        yield item.conversation(header, path) if isinstance(item, _Group) else item


def _delimiter(text: str) -> str:
    """Comma, tab, semicolon or bar: whichever the first lines (title, header, rows) use most."""
    head = "".join(islice(io.StringIO(text), _HEADER_SEARCH_ROWS))
    return max(",\t;|", key=head.count) if any(c in head for c in ",\t;|") else ","


def _csv_rows(text: str, path: str) -> Iterator[tuple[int, list[str] | InputError]]:
    """(row number, cells), or at the end (row number, InputError) for a syntax error."""
    # The csv module refuses cells over 128 KB by default and would end the file there; the
    # document is already in memory, and an overlong turn is refused by its row (MAX_TURN_CHARS).
    csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    line = 1
    try:
        for cells in reader:
            yield line, cells
            line = reader.line_num + 1
    except csv.Error as exc:
        yield reader.line_num, InputError(path, f"CSV 格式错误: {exc}", reader.line_num)


def read_csv(text: str, path: str) -> Iterator[Conversation | InputError]:
    rows = _csv_rows(text, path)
    header = _find_header(path, rows)
    if isinstance(header, _Header):
        yield from _conversations(header, rows, path)
    else:
        yield header or InputError(path, "文件为空")


def read_xlsx(path: Path, name: str) -> Iterator[Conversation | InputError]:
    """The first worksheet whose header has the required columns (a leading notes sheet is skipped)."""
    import openpyxl  # heavy import, only for spreadsheets
    from openpyxl.utils.exceptions import InvalidFileException
    from zipfile import BadZipFile

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (BadZipFile, InvalidFileException, KeyError, ValueError, OSError) as exc:
        yield InputError(name, f"不是有效的 XLSX 文件 ({type(exc).__name__}: {exc})")
        return
    try:
        first_error: InputError | None = None
        for sheet in book.worksheets:
            sheet.reset_dimensions()  # some writers record a wrong size; read every row there is
            rows = enumerate(sheet.iter_rows(values_only=True), start=1)
            header = _find_header(name, rows)
            if isinstance(header, _Header):
                yield from _conversations(header, rows, name)
                return
            first_error = first_error or header
        yield first_error or InputError(name, "文件为空")
    finally:
        book.close()
