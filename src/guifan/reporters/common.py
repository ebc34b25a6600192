"""What every report format shows, computed once: labels, records and counts.

The JSON document is the reference shape: ``finding_record`` and ``conversation_record`` build its
parts, and the text, HTML and Excel reports read the same records, so the four formats cannot
disagree about a field.
"""

from __future__ import annotations

import io
import re
import statistics
from functools import lru_cache
from typing import Any, BinaryIO, Callable, Iterable, Protocol, Sequence, TextIO

from guifan.engine import Rule, all_rules
from guifan.engine.hearing import heard_with
from guifan.engine.voice import spoken_characters
from guifan.model import SEVERITY_LABELS, Channel, Conversation, Finding, Interval, Role, Turn
from guifan.rulebook import Rulebook
from guifan.scoring import BatchSummary, BatchTotals, CheckResult, ResultStats

CHANNEL_LABELS = {Channel.PHONE: "电话", Channel.CHAT: "在线"}
ROLE_LABELS = {Role.AGENT: "客服", Role.CUSTOMER: "客户", Role.SYSTEM: "系统"}
WHOLE_CONVERSATION = "整通对话"


def turn_label(turn: int | None) -> str:
    """'第3轮' for turn index 2: reports count turns from 1, the data model from 0."""
    return WHOLE_CONVERSATION if turn is None else f"第{turn + 1}轮"


def format_score(value: float) -> str:
    return f"{value:g}"


def grade(score: float, fatal: bool = False, full: float = 100) -> str:
    """'good', 'fair' or 'bad': how reports colour a score out of ``full``."""
    share = score / full if full else 1.0
    if fatal or share < 0.6:
        return "bad"
    return "good" if share >= 0.9 else "fair"


def clock(seconds: float) -> str:
    """'01:05.5' for 65.5 seconds; hours only when needed."""
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(int(minutes), 60)
    text = f"{minutes:02d}:{secs:04.1f}"
    return f"{hours}:{text}" if hours else text


@lru_cache(maxsize=1)
def _rules() -> dict[str, type[Rule]]:
    # Reports look a rule up per finding; the registry is complete once guifan.rules is imported.
    return all_rules()


def rule_class(code: str) -> type[Rule] | None:
    return _rules().get(code)


def rule_name(code: str) -> str | None:
    cls = _rules().get(code)
    return cls.name if cls is not None else None


def turn_of(conversation: Conversation, finding: Finding) -> Turn | None:
    """The turn a finding points at; None for conversation-level findings (or a bad index)."""
    if finding.turn is None or not 0 <= finding.turn < len(conversation.turns):
        return None
    return conversation.turns[finding.turn]


def valid_span(finding: Finding, text: str) -> tuple[int, int] | None:
    """The finding's span if it marks at least one character of ``text``, else None."""
    if finding.span is None:
        return None
    start, end = finding.span
    return (start, end) if 0 <= start < end <= len(text) else None


def finding_record(finding: Finding, rulebook: Rulebook) -> dict[str, Any]:
    data = finding.to_dict()
    return {
        "rule": data.pop("rule"),
        "name": rule_name(finding.rule),
        "clauses": data.pop("clauses"),
        "clause_titles": [rulebook.clause_title(c) for c in finding.clauses],
        **data,
        "needs_review": needs_review(finding, rulebook),
    }


EVIDENCE_LABELS = {"phrase": "原话", "sound": "读音", "meaning": "语义", "model": "模型", "timing": "时间", "voice": "语音"}


def needs_review(finding: Finding, rulebook: Rulebook) -> bool:
    """待复核: less sure than the rulebook's review threshold (see Scorer.needs_review)."""
    return finding.confidence < rulebook.review.confidence_below


UNRECOGNIZED = "未识别"  # how reports show speech the recognizer wrote no words for


def turn_record(index: int, turn: Turn, rulebook: Rulebook) -> dict[str, Any]:
    record: dict[str, Any] = {
        "index": index,
        "role": turn.role.value,
        "text": turn.text,
        "start": _seconds(turn.start) if turn.start is not None else None,
        "end": _seconds(turn.end) if turn.end is not None else None,
        "unrecognized": turn.unrecognized,
    }
    if turn.asr is not None:
        record["asr"] = {**turn.asr.to_dict(), "doubtful": heard_with(turn, rulebook) is not None}
    return record


def conversation_record(result: CheckResult, rulebook: Rulebook) -> dict[str, Any]:
    conv = result.conversation
    score = result.score
    record: dict[str, Any] = {
        "id": conv.id,
        "source": conv.source,
        "channel": conv.channel.value,
        "agent_id": conv.agent_id,
        "started_at": conv.started_at.isoformat() if conv.started_at else None,
        "score": {
            "total": score.total,
            "fatal": score.fatal,
            "categories": [
                {"key": c.key, "name": c.name, "weight": c.weight, "score": c.score, "findings": c.findings}
                for c in score.categories
            ],
        },
        "findings": [finding_record(f, rulebook) for f in result.findings],
        "turns": [turn_record(n, t, rulebook) for n, t in enumerate(conv.turns)],
    }
    audio = audio_record(conv)
    if audio is not None:
        record["audio"] = audio
    if result.skipped:
        record["skipped_rules"] = list(result.skipped)
    return record


# --- call audio ----------------------------------------------------------------------------------

# Silences shorter than this (the gap between two sentences) are not counted or drawn.
SILENCE_MIN_SECONDS = 1.0


def _total(intervals: Iterable[Interval]) -> float:
    return sum(i.seconds for i in intervals)


def _seconds(value: float) -> float:
    return round(value, 2)


def speech_rate(characters: float, seconds: float) -> float | None:
    """Characters per minute of speech, None when there is no speech to divide by."""
    return round(characters / seconds * 60, 1) if seconds > 0 else None


def audio_record(conversation: Conversation) -> dict[str, Any] | None:
    """What the recording of a call shows, for every report format; None without a recording.

    Speech, overlaps, silences and holds come from the whole-call voice activity detection
    (``CallAudio``); speech rate, level and pitch from the agent turns' ``Voice`` measurements,
    counted as the voice rules VOC001–VOC003 count them.
    """
    audio = conversation.audio
    if audio is None:
        return None
    duration = audio.duration
    agent_seconds, customer_seconds = _total(audio.agent_speech), _total(audio.customer_speech)
    overlaps = audio.overlaps()
    silences = audio.silences(SILENCE_MIN_SECONDS)
    turns: list[dict[str, Any]] = []
    characters = voiced_seconds = 0.0
    levels: list[float] = []
    for index, turn in enumerate(conversation.turns):
        voice = turn.voice
        if turn.role is not Role.AGENT or voice is None:
            continue
        chars = spoken_characters(turn)
        rate = speech_rate(chars, voice.speech_seconds) if chars is not None else None
        if rate is not None:
            characters += chars
            voiced_seconds += voice.speech_seconds
        if voice.level_dbfs is not None:
            levels.append(voice.level_dbfs)
        turns.append({
            "turn": index,
            "start": _seconds(turn.start) if turn.start is not None else None,
            "end": _seconds(turn.end) if turn.end is not None else None,
            "speech_seconds": _seconds(voice.speech_seconds),
            "speech_rate": rate,
            "level_dbfs": round(voice.level_dbfs, 1) if voice.level_dbfs is not None else None,
            "final_pitch_semitones": None if voice.final_semitones is None else round(voice.final_semitones, 1),
        })

    def share(seconds: float) -> float:
        return round(seconds / duration, 3) if duration > 0 else 0.0

    return {
        "duration": round(duration, 3),
        "sample_rate": audio.sample_rate,
        "transcriber": audio.transcriber,
        "agent_speech_seconds": _seconds(agent_seconds),
        "agent_speech_share": share(agent_seconds),
        "customer_speech_seconds": _seconds(customer_seconds),
        "customer_speech_share": share(customer_seconds),
        "overlap_count": len(overlaps),
        "overlap_seconds": _seconds(_total(overlaps)),
        "silence_seconds": _seconds(_total(silences)),
        "longest_silence_seconds": _seconds(max((i.seconds for i in silences), default=0.0)),
        "hold_count": len(audio.holds),
        "hold_seconds": _seconds(_total(audio.holds)),
        "ring_count": len(audio.rings),
        "answer_seconds": _seconds(min(i.start for i in audio.agent_speech)) if audio.agent_speech else None,
        "agent_speech_rate": speech_rate(characters, voiced_seconds),
        "agent_level_dbfs": round(statistics.median(levels), 1) if levels else None,
        "agent_turns": turns,
    }


def skipped_clauses(codes: Sequence[str], rulebook: Rulebook) -> list[str]:
    """The clauses of the standard the skipped rules check, in the rulebook's order."""
    rules = _rules()
    clauses = {c for code in codes if (cls := rules.get(code)) is not None for c in cls.clauses}
    order = {c: n for n, c in enumerate(rulebook.clauses)}

    def natural(clause: str) -> tuple:
        return (order.get(clause, len(order)), [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", clause)])

    return sorted(clauses, key=natural)


def clause_ranges(clauses: Sequence[str]) -> str:
    """'S-A1–A3、S-A5、S-B1–B2' for ordered clause ids: runs of one section shortened."""
    runs: list[list[tuple[str, int]]] = []
    for clause in clauses:
        found = re.fullmatch(r"(S-[A-Z])(\d+)", clause)
        key = (found[1], int(found[2])) if found else (clause, -1)
        if runs and key[1] >= 0 and runs[-1][-1][0] == key[0] and runs[-1][-1][1] == key[1] - 1:
            runs[-1].append(key)
        else:
            runs.append([key])
    parts = []
    for run in runs:
        (section, first), last = run[0], run[-1][1]
        head = f"{section}{first}" if first >= 0 else section
        parts.append(head if len(run) == 1 else f"{head}–{section[2:]}{last}")
    return "、".join(parts)


def skipped_notice(codes: Sequence[str], rulebook: Rulebook) -> str:
    """What the reports say about rules skipped on a recording without speech recognition."""
    clauses = clause_ranges(skipped_clauses(codes, rulebook))
    return (
        f"未做语音识别:本录音没有文字,跳过了需要文字的 {len(codes)} 条规则(条款 {clauses})。"
        "用 --asr 指定语音识别后端(--asr-model 指定模型目录)可检查全部条款。"
    )


def summary_record(summary: BatchSummary) -> dict[str, Any]:
    return {
        "read": summary.read,
        "checked": summary.checked,
        "failed": summary.failed,
        "errors": [e.to_dict() for e in summary.errors],
    }


def top_rules(totals: BatchTotals, rulebook: Rulebook, limit: int = 10) -> list[tuple[str, str, int]]:
    """(code, "S-F6 推卸语", count) of the most frequent rules of a batch, most frequent first."""
    return [(code, _rule_clauses(code, rulebook), count) for code, count in totals.top_rules(limit)]


def _rule_clauses(code: str, rulebook: Rulebook) -> str:
    cls = _rules().get(code)
    return clause_label(cls.clauses, rulebook) if cls is not None else ""


def clause_label(clauses: Sequence[str], rulebook: Rulebook) -> str:
    """'S-F6 推卸语、S-E1 …': clause ids with their titles, as reports name them."""
    return "、".join(f"{c} {rulebook.clause_title(c)}" for c in clauses)


# --- writing a report as the results come ------------------------------------------------------


class Writer(Protocol):
    """A report being written: ``add`` each conversation's piece (made by the format's encoder,
    maybe in another process) in order, then ``close`` with the batch's summary and totals."""

    def add(self, fragment: Any) -> None: ...

    def close(self, summary: BatchSummary, totals: BatchTotals) -> None: ...


# The piece of a report for one checked conversation: a picklable callable (a worker process or a
# cluster's task runs it where the conversation was checked).
Encoder = Callable[[CheckResult, Rulebook], Any]


def write_all(writer: Writer, encode: Encoder, results: Iterable[CheckResult], summary: BatchSummary,
              rulebook: Rulebook) -> None:
    """Write ``results`` (any iterable: they are not held) with ``writer``, then close it."""
    totals = BatchTotals()
    for result in results:
        writer.add(encode(result, rulebook))
        totals.add(ResultStats.of(result))
    writer.close(summary, totals)


def byte_sink(stream: BinaryIO | TextIO) -> Callable[[bytes], Any]:
    """A function writing UTF-8 bytes to ``stream``, binary or text."""
    if isinstance(stream, io.TextIOBase):
        return lambda data: stream.write(data.decode("utf-8"))
    return stream.write
