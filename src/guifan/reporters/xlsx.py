"""The Excel report: sheets 会话 (one row per conversation), 问题 (one row per finding), 转写 (one row
per turn: the transcript judged, with the recognizer's confidence for calls), 录音, 错误.

Conversation text is untrusted: a cell that Excel would read as a formula (``=``, ``+``, ``-``,
``@``, tab, carriage return first) is written as text with a leading apostrophe, and characters
that XLSX cannot store are replaced.
"""

from __future__ import annotations

import re
from datetime import datetime
from io import BytesIO
from typing import Any, BinaryIO, Iterable, Sequence

from guifan.reporters.common import (
    CHANNEL_LABELS,
    EVIDENCE_LABELS,
    ROLE_LABELS,
    SEVERITY_LABELS,
    UNRECOGNIZED,
    conversation_record,
    turn_of,
)
from guifan.rulebook import Rulebook
from guifan.scoring import BatchSummary, CheckResult

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


def _sheet(workbook, title: str, headers: Sequence[str], rows: Iterable[Sequence[Any]], widths: Sequence[int]):
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    sheet = workbook.create_sheet(title)
    sheet.append([safe_cell(h) for h in headers])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append([safe_cell(v) for v in row])
    wrap = Alignment(wrap_text=True, vertical="top")
    for index, width in enumerate(widths, 1):
        sheet.column_dimensions[get_column_letter(index)].width = width
        if width >= 30:  # long text columns wrap instead of running over
            for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                cell.alignment = wrap
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions
    return sheet


def table_xlsx(title: str, headers: Sequence[str], rows: Iterable[Sequence[Any]], stream: BinaryIO) -> None:
    """One sheet, every cell guarded like the report's (used by the workspace's exports)."""
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.remove(workbook.active)
    _sheet(workbook, title, headers, rows, [18] * len(headers))
    workbook.save(stream)


def render_xlsx(results: Sequence[CheckResult], summary: BatchSummary, rulebook: Rulebook, stream: BinaryIO) -> None:
    from openpyxl import Workbook  # lazy: only this format needs openpyxl

    workbook = Workbook()
    workbook.remove(workbook.active)
    card = rulebook.scorecard.categories
    conversations, findings, recordings, transcript = [], [], [], []
    for result in results:
        conv = result.conversation
        record = conversation_record(result, rulebook)
        if "audio" in record:
            audio = record["audio"]
            recordings.append([conv.id, *(audio[key] if key != "transcriber" else audio[key] or "未做语音识别"
                                          for _, key in RECORDING_COLUMNS)])
        by_key = {c["key"]: c["score"] for c in record["score"]["categories"]}
        conversations.append(
            [conv.id, conv.source, CHANNEL_LABELS[conv.channel], conv.agent_id, _excel_time(conv.started_at),
             record["score"]["total"], "是" if result.score.fatal else "否",
             *(by_key.get(key) for key in card), len(result.findings)]
        )
        for turn_rec in record["turns"]:
            asr = turn_rec.get("asr", {})
            transcript.append(
                [conv.id, turn_rec["index"] + 1, ROLE_LABELS[conv.turns[turn_rec["index"]].role], turn_rec["start"],
                 turn_rec["end"], f"({UNRECOGNIZED})" if turn_rec["unrecognized"] else turn_rec["text"] or "(无文字)",
                 asr.get("recognizer"), asr.get("confidence"), "是" if asr.get("doubtful") else ""]
            )
        for finding, rec in zip(result.findings, record["findings"]):
            turn = turn_of(conv, finding)
            findings.append(
                [conv.id, finding.turn + 1 if finding.turn is not None else None, finding.rule,
                 "、".join(rec["clauses"]), "、".join(rec["clause_titles"]), SEVERITY_LABELS[finding.severity],
                 EVIDENCE_LABELS[finding.evidence], rec["confidence"], "是" if rec["needs_review"] else "",
                 finding.quote, finding.message, finding.suggestion, turn.text if turn is not None else None]
            )
    sheet = _sheet(
        workbook, "会话", (*CONVERSATION_HEADERS, *(c.name for c in card.values()), "问题数"), conversations,
        (24, 20, 6, 10, 20, 8, 6, *(10 for _ in card), 8),
    )
    for (cell,) in sheet.iter_rows(min_row=2, min_col=5, max_col=5):
        cell.number_format = "yyyy-mm-dd hh:mm:ss"
    _sheet(workbook, "问题", FINDING_HEADERS, findings, (24, 6, 9, 12, 24, 9, 6, 7, 7, 30, 40, 48, 60))
    if len(transcript) > ROW_LIMIT:
        transcript[ROW_LIMIT - 1:] = [["(超出 Excel 行数上限,其余轮次见 JSON 报告)"]]
    _sheet(workbook, "转写", TRANSCRIPT_HEADERS, transcript, (24, 6, 6, 8, 8, 60, 14, 9, 8))
    if recordings:
        headers = ("对话ID", *(header for header, _ in RECORDING_COLUMNS))
        _sheet(workbook, "录音", headers, recordings, (24, *(12 for _ in RECORDING_COLUMNS)))
    if summary.errors:
        rows = ([e.path, e.line, e.field, e.message] for e in summary.errors)
        _sheet(workbook, "错误", ERROR_HEADERS, rows, (30, 6, 12, 60))
    buffer = BytesIO()  # zip needs to seek; standard output cannot
    workbook.save(buffer)
    stream.write(buffer.getvalue())
