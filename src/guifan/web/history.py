"""Review work across re-imports: a conversation imported again (a corrected transcript, a new
rulebook) must never silently lose its review.

Before a re-import changes a conversation that has review work (verdicts, manual findings,
appeals, a finished review), its whole state is kept as a ``ConversationVersion``. Automatic
findings that are unchanged (same rule, turn, place, quote and turn text) keep their row, so
their verdicts and appeals stay with them; findings that are new wait for review; the outcome
says what happened, for the import's result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from guifan.web.models import (
    Appeal,
    AppealStatus,
    Conversation,
    ConversationVersion,
    Finding,
    FindingStatus,
    ReviewStatus,
    User,
    Verdict,
)

Signature = tuple[Any, ...]


def signature(rule: str, turn: int | None, span: tuple[int | None, int | None], quote: str,
              turns: list[dict]) -> Signature:
    """What makes two automatic findings the same finding: rule, turn, place, quote, and the text
    of the turn they point at (a corrected transcript makes a finding new, even at the same place)."""
    text = turns[turn]["text"] if turn is not None and 0 <= turn < len(turns) else None
    return rule, turn, span, quote, text


def stored_signature(finding: Finding, turns: list[dict]) -> Signature:
    return signature(finding.rule, finding.turn, (finding.span_start, finding.span_end), finding.quote, turns)


def has_review_work(session: Session, row: Conversation) -> bool:
    if row.id is None:
        return False
    if row.review_status != ReviewStatus.PENDING or any(f.manual or f.status != FindingStatus.OPEN for f in row.findings):
        return True
    return session.scalar(select(Appeal.id).where(Appeal.conversation_id == row.id).limit(1)) is not None


def _iso(moment) -> str | None:
    return moment.isoformat() if moment is not None else None


def snapshot(session: Session, row: Conversation) -> dict[str, Any]:
    """The conversation's review as it stands: what an earlier version shows."""
    names = dict(session.execute(select(User.id, User.display_name)).all())
    verdicts: dict[int, list[dict]] = {}
    ids = [f.id for f in row.findings]
    for v in session.scalars(select(Verdict).where(Verdict.finding_id.in_(ids)).order_by(Verdict.id)) if ids else ():
        verdicts.setdefault(v.finding_id, []).append(
            {"reviewer": names.get(v.reviewer_id), "confirmed": v.confirmed, "at": _iso(v.created_at)})
    appeals = session.scalars(select(Appeal).where(Appeal.conversation_id == row.id).order_by(Appeal.id))
    return {
        "version": row.version, "turns": row.turns, "rulebook_version": row.rulebook_version,
        "auto_score": row.auto_score, "final_score": row.final_score, "review_status": row.review_status,
        "reviewed_by": names.get(row.reviewed_by), "reviewed_at": _iso(row.reviewed_at),
        "acknowledged_at": _iso(row.acknowledged_at),
        "findings": [
            {"id": f.id, "rule": f.rule, "clauses": f.clauses, "severity": f.severity, "turn": f.turn,
             "span": [f.span_start, f.span_end] if f.span_start is not None else None, "quote": f.quote,
             "message": f.message, "status": f.status, "manual": f.manual, "comment": f.comment,
             "verdicts": verdicts.get(f.id, [])}
            for f in row.findings
        ],
        "appeals": [
            {"id": a.id, "finding_id": a.finding_id, "agent": names.get(a.agent_id), "reason": a.reason,
             "status": a.status, "decision": a.decision, "decided_by": names.get(a.decided_by),
             "created_at": _iso(a.created_at), "decided_at": _iso(a.decided_at)}
            for a in appeals
        ],
    }


@dataclass
class Merge:
    """How a re-import's automatic findings meet the stored ones."""

    kept: list[Finding] = field(default_factory=list)  # stored rows that are found again (verdicts carried)
    new: list[Finding] = field(default_factory=list)
    removed: list[Finding] = field(default_factory=list)


def merge(stored: list[Finding], fresh: list[Finding], old_turns: list[dict], new_turns: list[dict]) -> Merge:
    """Match fresh automatic findings to stored ones by signature; manual findings are not merged."""
    waiting: dict[Signature, list[Finding]] = {}
    for finding in stored:
        if not finding.manual:
            waiting.setdefault(stored_signature(finding, old_turns), []).append(finding)
    result = Merge()
    for finding in fresh:
        match = waiting.get(stored_signature(finding, new_turns))
        if match:
            old = match.pop(0)
            old.message, old.suggestion, old.severity, old.category, old.clauses = (
                finding.message, finding.suggestion, finding.severity, finding.category, finding.clauses)
            old.confidence, old.evidence, old.needs_review = finding.confidence, finding.evidence, finding.needs_review
            result.kept.append(old)
        else:
            result.new.append(finding)
    result.removed = [f for group in waiting.values() for f in group]
    return result


def keep_version(session: Session, row: Conversation, job_id: int | None) -> None:
    row.versions.append(ConversationVersion(version=row.version, import_job_id=job_id, snapshot=snapshot(session, row)))
    row.version += 1


def outcome(session: Session, row: Conversation, result: Merge, unchanged: bool) -> dict[str, Any]:
    """What a re-import did to a reviewed conversation, as the import's result reports it."""
    removed = [f.id for f in result.removed]
    withdrawn = session.scalar(select(func.count(Appeal.id)).where(
        Appeal.finding_id.in_(removed), Appeal.status == AppealStatus.PENDING)) if removed else 0
    return {
        "conversation_id": row.id, "external_id": row.external_id, "version": row.version,
        "outcome": "unchanged" if unchanged else "rereview",
        "carried": sum(f.status != FindingStatus.OPEN for f in result.kept),
        "new": len(result.new), "removed": len(removed), "appeals_withdrawn": withdrawn,
    }
