"""What every report format shows, computed once: labels, records and counts.

The JSON document is the reference shape: ``finding_record`` and ``conversation_record`` build its
parts, and the text, HTML and Excel reports read the same records, so the four formats cannot
disagree about a field.
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache
from typing import Any, Sequence

from guifan.engine import Rule, all_rules
from guifan.model import Channel, Conversation, Finding, Role, Severity, Turn
from guifan.rulebook import Rulebook
from guifan.scoring import BatchSummary, CheckResult

SEVERITY_LABELS = {Severity.FATAL: "致命", Severity.MAJOR: "严重", Severity.MINOR: "轻微"}
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
    }


def conversation_record(result: CheckResult, rulebook: Rulebook) -> dict[str, Any]:
    conv = result.conversation
    score = result.score
    return {
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
    }


def summary_record(summary: BatchSummary) -> dict[str, Any]:
    return {
        "read": summary.read,
        "checked": summary.checked,
        "failed": summary.failed,
        "errors": [e.to_dict() for e in summary.errors],
    }


def top_rules(results: Sequence[CheckResult], rulebook: Rulebook, limit: int = 10) -> list[tuple[str, str, int]]:
    """(code, "S-F6 推卸语", count) of the most frequent rules of a batch, most frequent first."""
    counts = Counter(f.rule for r in results for f in r.findings)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit]
    return [(code, _rule_clauses(code, rulebook), count) for code, count in ranked]


def _rule_clauses(code: str, rulebook: Rulebook) -> str:
    cls = _rules().get(code)
    return clause_label(cls.clauses, rulebook) if cls is not None else ""


def clause_label(clauses: Sequence[str], rulebook: Rulebook) -> str:
    """'S-F6 推卸语、S-E1 …': clause ids with their titles, as reports name them."""
    return "、".join(f"{c} {rulebook.clause_title(c)}" for c in clauses)


def batch_stats(results: Sequence[CheckResult]) -> dict[str, Any]:
    """Figures for report headers: findings, fatal conversations, average score."""
    findings = sum(len(r.findings) for r in results)
    fatal = sum(1 for r in results if r.score.fatal)
    flagged = sum(1 for r in results if r.findings)
    average = round(sum(r.score.total for r in results) / len(results), 1) if results else None
    return {"findings": findings, "fatal": fatal, "flagged": flagged, "average": average}
