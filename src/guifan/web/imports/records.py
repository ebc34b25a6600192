"""A checked conversation as the workspace stores it, made without the database: the values of its
row and of its automatic findings, text masked as the workspace's setting says. Made in the import's
worker processes (it pickles small) and by ``Workspace.store`` alike, so both store the same."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from guifan.kpis import kpis
from guifan.privacy import mask_personal_data, mask_value
from guifan.scoring import Checker, CheckResult, Score


@dataclass
class Record:
    source_id: str  # the id as imported: the conversation is found again by a keyed hash of it
    row: dict[str, Any]  # the conversation's columns (those an import sets)
    findings: list[dict[str, Any]]  # the automatic findings' columns, all open

    @property
    def uncertain(self) -> int:
        """Open findings the check was unsure of (the list's 待复核 count)."""
        return sum(1 for f in self.findings if f["needs_review"])


def record(result: CheckResult, checker: Checker, version: int, mask: bool) -> Record:
    conv, scorer = result.conversation, checker.scorer
    clean = mask_personal_data if mask else (lambda text: text)
    figures = kpis(conv, hold_seconds=checker.engine.rulebook.settings.hold_min_seconds)
    meta = {k: v for k, v in conv.metadata.items() if _jsonable(v)}
    score = result.score
    row = {
        "external_id": clean(conv.id), "channel": conv.channel.value, "started_at": conv.started_at,
        "agent_code": conv.agent_id, "source": clean(conv.source) if conv.source else None,
        "turns": [{"role": t.role.value, "text": clean(t.text), "start": t.start, "end": t.end,
                   **({"voice": t.voice.to_dict()} if t.voice is not None else {}),
                   **({"asr": t.asr.to_dict()} if t.asr is not None else {})}
                  for t in conv.turns],
        "audio": conv.audio.to_dict() if conv.audio is not None else None,
        "meta": mask_value(meta) if mask else meta,
        "kpis": figures.to_dict() if figures else {},
        "rulebook_version": version, "auto_score": score.total, "category_scores": categories(score),
    }
    findings = [
        {"manual": False, "rule": f.rule, "clauses": list(f.clauses), "severity": f.severity.value,
         "category": scorer.category_of(f.rule), "turn": f.turn,
         "span_start": f.span[0] if f.span else None, "span_end": f.span[1] if f.span else None,
         "quote": clean(f.quote), "message": clean(f.message), "suggestion": f.suggestion,
         "confidence": f.confidence, "evidence": f.evidence.value, "needs_review": scorer.needs_review(f),
         "status": "open"}
        for f in result.findings
    ]
    return Record(conv.id, row, findings)


def categories(score: Score) -> dict[str, dict[str, Any]]:
    """A score's categories as the conversation keeps them."""
    return {c.key: {"name": c.name, "weight": c.weight, "score": c.score, "findings": c.findings}
            for c in score.categories}


def _jsonable(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool, type(None), list, dict))
