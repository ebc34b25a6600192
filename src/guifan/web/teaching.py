"""Reviewers teach the rulebook's meaning stage.

Rules whose findings come from meaning-stage acts (``Rule.acts``: forbidden language, …) learn from
review. A reviewer who rejects such a finding says its quote is a near miss: it becomes a proposed
NEGATIVE exemplar of each of the rule's acts. A reviewer who adds a manual finding of such a rule on
an agent's turn says those words perform the act: a proposed POSITIVE exemplar. A supervisor
approves proposals (a new rulebook version whose company override adds them under
``add_exemplars``) or declines them. Calibration compares each rule's false alarms before and after
the latest version that added taught exemplars.
"""

from __future__ import annotations

import hashlib
from typing import Any, Iterable

import yaml
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from guifan.engine import get_rule
from guifan.web.models import (
    Conversation,
    ExemplarProposal,
    ExemplarSide,
    Finding,
    FindingStatus,
    ProposalStatus,
    RulebookVersion,
    User,
    utcnow,
)
from guifan.web.services import Workspace, WorkspaceError, audit


def acts_of(rule: str) -> tuple[str, ...]:
    try:
        return get_rule(rule).acts
    except KeyError:  # a rule the engine no longer has
        return ()


def propose_near_miss(session: Session, user: User, finding: Finding) -> list[ExemplarProposal]:
    """A rejected automatic finding: its quote does not perform the rule's acts."""
    return _propose(session, user, finding, ExemplarSide.NEGATIVE, finding.quote)


def propose_missed(session: Session, user: User, finding: Finding, words: str) -> list[ExemplarProposal]:
    """A manual finding on an agent's turn: ``words`` (the reviewer's quote or the whole turn)
    perform the rule's acts."""
    turns = finding.conversation.turns
    if finding.turn is None or turns[finding.turn]["role"] != "agent":
        return []  # the acts are the agent's; there is nothing to learn from elsewhere
    return _propose(session, user, finding, ExemplarSide.POSITIVE, words)


def _propose(session: Session, user: User, finding: Finding, side: ExemplarSide,
             text: str) -> list[ExemplarProposal]:
    text = text.strip()
    if not text:
        return []
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    made = []
    for act in acts_of(finding.rule):
        row = ExemplarProposal(act=act, side=side, text=text, digest=digest, finding_id=finding.id,
                               conversation_id=finding.conversation_id, proposed_by=user.id)
        try:
            with session.begin_nested():
                session.add(row)
                session.flush()
        except IntegrityError:  # (act, side, text) was proposed before: once is enough
            continue
        audit(session, user, "exemplar.propose", "exemplar_proposal", row.id, None, proposal_dict(row))
        made.append(row)
    return made


def proposal_dict(row: ExemplarProposal) -> dict[str, Any]:
    return {"id": row.id, "act": row.act, "side": row.side, "text": row.text, "finding_id": row.finding_id,
            "conversation_id": row.conversation_id, "proposed_by": row.proposed_by,
            "proposed_at": row.proposed_at.isoformat() if row.proposed_at else None, "status": row.status,
            "decided_by": row.decided_by, "decided_at": row.decided_at.isoformat() if row.decided_at else None,
            "rulebook_version": row.rulebook_version}


def proposals(session: Session, statuses: Iterable[ProposalStatus], limit: int) -> list[ExemplarProposal]:
    """Proposals of these statuses: pending ones oldest first (a queue), decided ones newest first."""
    statuses = set(statuses)
    order = ExemplarProposal.id if statuses == {ProposalStatus.PENDING} else ExemplarProposal.id.desc()
    return list(session.scalars(select(ExemplarProposal).where(ExemplarProposal.status.in_(statuses))
                                .order_by(order).limit(limit)))


def _pending(session: Session, ids: Iterable[int] | None) -> list[ExemplarProposal]:
    """The pending proposals named (all of them when ``ids`` is None); each named one must be pending."""
    query = select(ExemplarProposal).where(ExemplarProposal.status == ProposalStatus.PENDING)
    wanted = None if ids is None else set(ids)
    if wanted is not None:
        query = query.where(ExemplarProposal.id.in_(wanted))
    rows = list(session.scalars(query.order_by(ExemplarProposal.id)))
    if wanted is not None and len(rows) != len(wanted):
        missing = sorted(wanted - {row.id for row in rows})
        raise WorkspaceError(f"样例 {', '.join(map(str, missing))} 不存在或已处理")
    if not rows:
        raise WorkspaceError("没有待审核的样例")
    return rows


def with_exemplars(override_yaml: str, rows: Iterable[ExemplarProposal]) -> str:
    """The company override with the proposals appended under ``add_exemplars`` (each sentence once)."""
    data = yaml.safe_load(override_yaml) if override_yaml.strip() else {}
    if not isinstance(data, dict):
        raise WorkspaceError("当前规则手册的公司配置不是 YAML 映射,无法追加样例")
    taught = data.get("add_exemplars") or {}
    if not isinstance(taught, dict):
        raise WorkspaceError("当前规则手册的 add_exemplars 不是映射,无法追加样例")
    data["add_exemplars"] = taught
    for row in rows:
        bank = taught[row.act] = taught.get(row.act) or {}
        sentences = bank[row.side] = list(bank.get(row.side) or [])
        if row.text not in sentences:
            sentences.append(row.text)
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def approve(session: Session, workspace: Workspace, user: User,
            ids: Iterable[int] | None = None) -> tuple[RulebookVersion, list[ExemplarProposal]]:
    """Publish the active rulebook plus the pending proposals named (all when ``ids`` is None) as a
    new version; the proposals record it."""
    rows = _pending(session, ids)
    active = workspace.active_rulebook(session)
    version = workspace.publish_rulebook(session, user, with_exemplars(active.override_yaml, rows))
    _decide(session, user, rows, ProposalStatus.APPROVED, version.version)
    return version, rows


def decline(session: Session, user: User, ids: Iterable[int]) -> list[ExemplarProposal]:
    rows = _pending(session, ids)
    _decide(session, user, rows, ProposalStatus.DECLINED, None)
    return rows


def _decide(session: Session, user: User, rows: list[ExemplarProposal], status: ProposalStatus,
            version: int | None) -> None:
    now = utcnow()
    for row in rows:
        row.status, row.decided_by, row.decided_at, row.rulebook_version = status, user.id, now, version
        action = "exemplar.approve" if status == ProposalStatus.APPROVED else "exemplar.decline"
        audit(session, user, action, "exemplar_proposal", row.id, {"status": ProposalStatus.PENDING},
              {"status": status, "rulebook_version": version})


def teaching_effect(session: Session) -> dict[str, Any]:
    """Per rule, the false-alarm rate (rejected / reviewed automatic findings) of conversations
    checked before the latest rulebook version that added taught exemplars, and with it or later."""
    version = session.scalar(select(func.max(ExemplarProposal.rulebook_version))
                             .where(ExemplarProposal.status == ProposalStatus.APPROVED))
    if version is None:
        return {"version": None, "rules": []}
    counts = (
        select(Finding.rule, Conversation.rulebook_version, Finding.status, func.count())
        .join(Conversation, Conversation.id == Finding.conversation_id)
        .where(Finding.manual.is_(False), Finding.status != FindingStatus.OPEN)
        .group_by(Finding.rule, Conversation.rulebook_version, Finding.status)
    )
    rules: dict[str, dict[str, dict[str, int]]] = {}
    for rule, checked_with, status, n in session.execute(counts):
        periods = rules.setdefault(rule, {"before": {"reviewed": 0, "rejected": 0},
                                          "after": {"reviewed": 0, "rejected": 0}})
        period = periods["after" if checked_with >= version else "before"]
        period["reviewed"] += n
        period["rejected"] += n if status == FindingStatus.REJECTED else 0
    return {
        "version": version,
        "rules": [
            {"rule": rule, "acts": list(acts_of(rule)),
             **{name: {**p, "false_alarm_rate": p["rejected"] / p["reviewed"] if p["reviewed"] else None}
                for name, p in periods.items()}}
            for rule, periods in sorted(rules.items())
        ],
    }
