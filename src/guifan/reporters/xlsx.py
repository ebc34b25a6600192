"""The Excel report: sheets 会话 (one row per conversation), 问题 (one row per finding), 转写 (one row
per turn: the transcript judged, with the recognizer's confidence for calls), 录音, 错误. Written in
openpyxl's write-only mode, row by row as the conversations come (constant memory); a sheet stops
at Excel's row limit with a last row saying so.

Conversation text is untrusted: a cell that Excel would read as a formula (``=``, ``+``, ``-``,
``@``, tab, carriage return first) is written as text with a leading apostrophe, and characters
that XLSX cannot store are replaced.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO, Iterable, Sequence

from guifan.reporters.common import (
    CHANNEL_LABELS,
    EVIDENCE_LABELS,
    ROLE_LABELS,
    SEVERITY_LABELS,
    UNRECOGNIZED,
    conversation_record,
    turn_of,
    write_all,
)
from guifan.rulebook import Rulebook
from guifan.scoring import BatchSummary, BatchTotals, CheckResult

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# Control characters XLSX (XML 1.0) cannot hold; openpyxl raises on them.
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
CELL_LIMIT = 32767  # Excel's maximum characters per cell

CONVERSATION_HEADERS = ("对话ID", "来源", "渠道", "客服工号", "开始时间", "总分", "致命")
FINDING_HEADERS = ("对话ID", "轮次", "规则", "条款", "条款标题", "严重程度", "依据", "置信度", "待复核", "原话", "问题说明", "建议",
                   "该轮原文")
ERROR_HEADERS = ("文件", "行", "字段", "说明")
TRANSCRIPT_HEADERS = ("对话ID", "轮次", "说话人", "开始(秒)", "结束(秒)", "文字", "语音识别", "识别置信度", "识别存疑")
ROW_LIMIT = 1_048_575  # Excel's rows per sheet, below the header
# Sheet 录音, one row per recording: (header, key of the JSON report's audio record).
RECORDING_COLUMNS = (
    ("时长(秒)", "duration"), ("语音识别", "transcriber"), ("客服说话占比", "agent_speech_share"),
    ("客户说话占比", "customer_speech_share"), ("重叠次数", "overlap_count"), ("重叠(秒)", "overlap_seconds"),
    ("静默(秒)", "silence_seconds"), ("最长静默(秒)", "longest_silence_seconds"), ("保持音乐次数", "hold_count"),
    ("保持音乐(秒)", "hold_seconds"), ("回铃声数", "ring_count"), ("客服首次说话(秒)", "answer_seconds"),
    ("客服语速(字/分)", "agent_speech_rate"), ("客服音量(dBFS)", "agent_level_dbfs"),
)


def safe_cell(value: Any) -> Any:
    """A value Excel shows as written: strings never start a formula and hold no illegal characters."""
    if not isinstance(value, str):
        return value
    text = _ILLEGAL.sub("\ufffd", value)
    if text.startswith(FORMULA_TRIGGERS):
        text = "'" + text
    return text[:CELL_LIMIT]


def _excel_time(value: datetime | None) -> datetime | None:
    # Excel has no time zones: keep the wall-clock time the conversation was recorded in.
    return value.replace(tzinfo=None) if value is not None else None


class _Sheet:
    """A sheet of a write-only workbook: header, column widths, long text wrapped, dates formatted,
    a filter over the rows; each row is written as it comes (nothing held), up to Excel's limit."""

    def __init__(self, workbook, title: str, headers: Sequence[str], widths: Sequence[int], dates: Sequence[int] = ()):
        from openpyxl.styles import Alignment, Font
        from openpyxl.utils import get_column_letter

        self._sheet = sheet = workbook.create_sheet(title)
        for index, width in enumerate(widths, 1):
            sheet.column_dimensions[get_column_letter(index)].width = width
        sheet.freeze_panes = "A2"
        self._wrap = Alignment(wrap_text=True, vertical="top")
        self._wrapped = frozenset(n for n, width in enumerate(widths) if width >= 30)  # long text wraps
        self._dates = frozenset(n - 1 for n in dates)
        self._columns = get_column_letter(len(headers))
        self._rows = 0
        self._last: Sequence[Any] | None = None  # held for the last row Excel holds
        header = [self._cell(safe_cell(h)) for h in headers]
        bold = Font(bold=True)
        for cell in header:
            cell.font = bold
        sheet.append(header)

    def _cell(self, value: Any):
        from openpyxl.cell import WriteOnlyCell

        return WriteOnlyCell(self._sheet, value)

    def append(self, row: Sequence[Any], overflow: str = "(超出 Excel 行数上限,其余行见 JSON 报告)") -> None:
        if self._rows < ROW_LIMIT - 1:
            self._write(row)
        else:  # the last row Excel holds: the row itself if no other comes, else where the rest is
            self._last = [overflow] if self._last is not None else row

    def _write(self, row: Sequence[Any]) -> None:
        self._rows += 1
        values: list[Any] = []
        for n, value in enumerate(row):
            value = safe_cell(value)
            if value is not None and (n in self._wrapped or n in self._dates):
                cell = self._cell(value)
                if n in self._dates:
                    cell.number_format = "yyyy-mm-dd hh:mm:ss"
                else:
                    cell.alignment = self._wrap
                value = cell
            values.append(value)
        self._sheet.append(values)

    def close(self) -> None:
        if self._last is not None:
            self._write(self._last)
        self._sheet.auto_filter.ref = f"A1:{self._columns}{self._rows + 1}"


def _workbook():
    from openpyxl import Workbook  # lazy: only this format needs openpyxl

    return Workbook(write_only=True)


def _save(workbook, stream: BinaryIO) -> None:
    """Save to a file, or through a temporary file to a stream that cannot seek (a zip needs to)."""
    if getattr(stream, "seekable", lambda: False)():
        workbook.save(stream)
        return
    with tempfile.TemporaryFile() as spool:
        workbook.save(spool)
        spool.seek(0)
        shutil.copyfileobj(spool, stream)


def table_xlsx(title: str, headers: Sequence[str], rows: Iterable[Sequence[Any]], stream: BinaryIO) -> None:
    """One sheet, every cell guarded like the report's (used by the workspace's exports)."""
    workbook = _workbook()
    sheet = _Sheet(workbook, title, headers, [18] * len(headers))
    for row in rows:
        sheet.append(row)
    sheet.close()
    _save(workbook, stream)


@dataclass(frozen=True, slots=True)
class XlsxRows:
    """One conversation's rows of each sheet (made where it was checked)."""

    conversation: list[Any]
    findings: list[list[Any]]
    transcript: list[list[Any]]
    recording: list[Any] | None


def encode_xlsx(result: CheckResult, rulebook: Rulebook) -> XlsxRows:
    conv = result.conversation
    record = conversation_record(result, rulebook)
    recording = None
    if "audio" in record:
        audio = record["audio"]
        recording = [conv.id, *(audio[key] if key != "transcriber" else audio[key] or "未做语音识别"
                                for _, key in RECORDING_COLUMNS)]
    by_key = {c["key"]: c["score"] for c in record["score"]["categories"]}
    conversation = [conv.id, conv.source, CHANNEL_LABELS[conv.channel], conv.agent_id, _excel_time(conv.started_at),
                    record["score"]["total"], "是" if result.score.fatal else "否",
                    *(by_key.get(key) for key in rulebook.scorecard.categories), len(result.findings)]
    transcript = []
    for turn_rec in record["turns"]:
        asr = turn_rec.get("asr", {})
        transcript.append(
            [conv.id, turn_rec["index"] + 1, ROLE_LABELS[conv.turns[turn_rec["index"]].role], turn_rec["start"],
             turn_rec["end"], f"({UNRECOGNIZED})" if turn_rec["unrecognized"] else turn_rec["text"] or "(无文字)",
             asr.get("recognizer"), asr.get("confidence"), "是" if asr.get("doubtful") else ""]
        )
    findings = []
    for finding, rec in zip(result.findings, record["findings"]):
        turn = turn_of(conv, finding)
        findings.append(
            [conv.id, finding.turn + 1 if finding.turn is not None else None, finding.rule,
             "、".join(rec["clauses"]), "、".join(rec["clause_titles"]), SEVERITY_LABELS[finding.severity],
             EVIDENCE_LABELS[finding.evidence], rec["confidence"], "是" if rec["needs_review"] else "",
             finding.quote, finding.message, finding.suggestion, turn.text if turn is not None else None]
        )
    return XlsxRows(conversation, findings, transcript, recording)


class XlsxWriter:
    """The workbook in write-only mode: every row goes to its sheet's temporary file as it comes;
    the file is put together at ``close``."""

    def __init__(self, stream: BinaryIO, rulebook: Rulebook):
        self._stream = stream
        self._workbook = _workbook()
        card = rulebook.scorecard.categories
        self._conversations = _Sheet(
            self._workbook, "会话", (*CONVERSATION_HEADERS, *(c.name for c in card.values()), "问题数"),
            (24, 20, 6, 10, 20, 8, 6, *(10 for _ in card), 8), dates=(5,),
        )
        self._findings = _Sheet(self._workbook, "问题", FINDING_HEADERS, (24, 6, 9, 12, 24, 9, 6, 7, 7, 30, 40, 48, 60))
        self._transcript = _Sheet(self._workbook, "转写", TRANSCRIPT_HEADERS, (24, 6, 6, 8, 8, 60, 14, 9, 8))
        self._recordings: _Sheet | None = None  # made by the first recording

    def add(self, fragment: XlsxRows) -> None:
        self._conversations.append(fragment.conversation)
        for row in fragment.findings:
            self._findings.append(row)
        for row in fragment.transcript:
            self._transcript.append(row, overflow="(超出 Excel 行数上限,其余轮次见 JSON 报告)")
        if fragment.recording is not None:
            if self._recordings is None:
                headers = ("对话ID", *(header for header, _ in RECORDING_COLUMNS))
                self._recordings = _Sheet(self._workbook, "录音", headers, (24, *(12 for _ in RECORDING_COLUMNS)))
            self._recordings.append(fragment.recording)

    def close(self, summary: BatchSummary, totals: BatchTotals) -> None:
        sheets = [self._conversations, self._findings, self._transcript, self._recordings]
        if summary.errors:
            errors = _Sheet(self._workbook, "错误", ERROR_HEADERS, (30, 6, 12, 60))
            for e in summary.errors:
                errors.append([e.path, e.line, e.field, e.message])
            sheets.append(errors)
        for sheet in sheets:
            if sheet is not None:
                sheet.close()
        _save(self._workbook, self._stream)


def render_xlsx(results: Sequence[CheckResult], summary: BatchSummary, rulebook: Rulebook, stream: BinaryIO) -> None:
    write_all(XlsxWriter(stream, rulebook), encode_xlsx, results, summary, rulebook)
