"""The dashboards' figures, aggregated in the database (``GROUP BY``) within the caller's scope:
Python only folds the grouped rows (days into ISO weeks, JSON clause lists into clauses)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Float, String, case, cast, func, literal_column, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

from guifan.web import clock
from guifan.web.models import Conversation, Finding, FindingStatus, User
from guifan.web.services import iso_week, visible

MAX_DAYS = 731  # a range covers at most two years
DEFAULT_DAYS = 84  # twelve weeks, ending today
TOP_CLAUSES = 5  # clauses drawn in the trend
KPI_KEYS = ("handle_seconds", "hold_count", "hold_seconds", "silence_ratio", "interruptions")
BUCKETS = tuple(range(0, 100, 10))  # score buckets [0, 10) … [90, 100]

SCORE = func.coalesce(Conversation.final_score, Conversation.auto_score)


class local_day(FunctionElement):
    """The local calendar day (``guifan.web.clock``) of a stored UTC timestamp as ``YYYY-MM-DD``."""

    type = String()
    inherit_cache = False  # the zone is read when the statement is compiled


@compiles(local_day)
def _local_day_sqlite(element, compiler, **kw):
    # SQLite knows no zones: the zone's offset now (China has no daylight saving time)
    return f"date({compiler.process(element.clauses, **kw)}, '{clock.utc_offset_minutes():+d} minutes')"


@compiles(local_day, "postgresql")
def _local_day_postgresql(element, compiler, **kw):
    zone = clock.zone().key.replace("'", "")
    return f"to_char(({compiler.process(element.clauses, **kw)}) AT TIME ZONE '{zone}', 'YYYY-MM-DD')"


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def before(self) -> Period:
        """The period of the same length that ends the day before this one starts."""
        end = self.start - timedelta(days=1)
        return Period(end - timedelta(days=self.days - 1), end)

    def weeks(self) -> list[str]:
        """Every ISO week the period touches, in order."""
        monday = self.start - timedelta(days=self.start.weekday())
        return [iso_week(monday + timedelta(weeks=n)) for n in range((self.end - monday).days // 7 + 1)]

    def to_dict(self) -> dict[str, str]:
        return {"from": self.start.isoformat(), "to": self.end.isoformat()}


@dataclass(frozen=True)
class Scope:
    """Whose conversations: the caller's visible ones, optionally one agent or one team."""

    user: User
    agent: str | None = None
    team: int | None = None

    def where(self, query, period: Period):
        query = visible(query, self.user).where(
            Conversation.started_at >= clock.midnight(period.start),
            Conversation.started_at < clock.midnight(period.end + timedelta(days=1)))
        if self.agent:
            query = query.where(Conversation.agent_code == self.agent)
        if self.team is not None:
            query = query.where(Conversation.team_id == self.team)
        return query


def _kpi(key: str):
    return Conversation.kpis[key].as_float()


def summary(session: Session, scope: Scope, period: Period) -> dict[str, Any]:
    """Conversations, average score, findings that stand and the average KPIs of a period."""
    row = session.execute(scope.where(select(
        func.count(Conversation.id), func.avg(SCORE), func.count(_kpi("handle_seconds")),
        *(func.avg(_kpi(key)) for key in KPI_KEYS)), period)).one()
    findings = session.scalar(scope.where(
        select(func.count(Finding.id)).join(Conversation, Finding.conversation_id == Conversation.id)
        .where(Finding.status != FindingStatus.REJECTED), period))
    total, score, timed, *kpis = row
    return {**period.to_dict(), "conversations": total, "score": _round(score), "findings": findings,
            "findings_per_conversation": _round(findings / total if total else None, 3),
            "timed_conversations": timed, "kpis": {key: _round(v, 3) for key, v in zip(KPI_KEYS, kpis)}}


def distribution(session: Session, scope: Scope, period: Period) -> list[dict[str, Any]]:
    """Conversations per score bucket of ten points (the last one includes 100)."""
    # Literal bounds: PostgreSQL groups by the same expression only when no parameter differs.
    bucket = case(*((SCORE < literal_column(str(low + 10)), literal_column(str(low))) for low in BUCKETS[:-1]),
                  else_=literal_column(str(BUCKETS[-1])))
    counts = dict(session.execute(scope.where(select(bucket, func.count(Conversation.id)), period).group_by(bucket)).all())
    return [{"low": low, "high": 100 if low == BUCKETS[-1] else low + 9, "conversations": counts.get(low, 0)}
            for low in BUCKETS]


def agents(session: Session, scope: Scope, period: Period) -> list[dict[str, Any]]:
    """Agents ranked by average score, best first (ties: more conversations, then the code)."""
    rows = session.execute(scope.where(
        select(Conversation.agent_code, func.count(Conversation.id), func.avg(SCORE))
        .where(Conversation.agent_code.is_not(None)), period).group_by(Conversation.agent_code)).all()
    names = dict(session.execute(select(User.agent_code, User.display_name)
                                 .where(User.agent_code.in_([r[0] for r in rows]))).all()) if rows else {}
    ranked = sorted(rows, key=lambda r: (-r[2], -r[1], r[0]))
    return [{"rank": n, "agent": code, "name": names.get(code) or "", "conversations": count, "score": _round(score)}
            for n, (code, count, score) in enumerate(ranked, 1)]


def _clause_rows(session: Session, scope: Scope, period: Period, key) -> list[tuple[Any, str, int]]:
    """(key, clause, findings that stand) with the JSON clause lists grouped as text in the database."""
    clauses = cast(Finding.clauses, String)
    rows = session.execute(scope.where(
        select(key, clauses, func.count(Finding.id)).join(Conversation, Finding.conversation_id == Conversation.id)
        .where(Finding.status != FindingStatus.REJECTED), period).group_by(key, clauses)).all()
    return [(k, clause, n) for k, text, n in rows for clause in json.loads(text)]


def clause_totals(session: Session, scope: Scope, period: Period) -> list[dict[str, Any]]:
    totals: dict[str, int] = {}
    for _, clause, n in _clause_rows(session, scope, period, Conversation.channel):
        totals[clause] = totals.get(clause, 0) + n
    return [{"clause": c, "findings": n} for c, n in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))]


def clause_ranking(session: Session, scope: Scope, period: Period, clause: str,
                   ranked: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Agents ranked by the clause's findings per conversation, most first (``ranked``: ``agents``)."""
    counts: dict[str, int] = {}
    for agent, c, n in _clause_rows(session, scope, period, Conversation.agent_code):
        if c == clause and agent is not None:
            counts[agent] = counts.get(agent, 0) + n
    rows = [{**a, "findings": counts.get(a["agent"], 0),
             "per_conversation": round(counts.get(a["agent"], 0) / a["conversations"], 3)} for a in ranked]
    rows.sort(key=lambda r: (-r["per_conversation"], -r["findings"], r["agent"]))
    return [{"rank": n, "agent": r["agent"], "name": r["name"], "conversations": r["conversations"],
             "findings": r["findings"], "per_conversation": r["per_conversation"]} for n, r in enumerate(rows, 1)]


def weekly(session: Session, scope: Scope, period: Period, clauses: list[str]) -> list[dict[str, Any]]:
    """Per ISO week of the period: conversations, average score, average KPIs and the findings of
    each of ``clauses`` (weeks without conversations have no averages)."""
    day = local_day(Conversation.started_at)
    rows = session.execute(scope.where(select(
        day, func.count(Conversation.id), func.sum(cast(SCORE, Float)), func.count(_kpi("handle_seconds")),
        *(func.sum(_kpi(key)) for key in KPI_KEYS)), period).group_by(day)).all()
    weeks = {w: {"week": w, "conversations": 0, "score": 0.0, "timed": 0, **dict.fromkeys(KPI_KEYS, 0.0),
                 "clauses": dict.fromkeys(clauses, 0)} for w in period.weeks()}
    for text, count, score, timed, *kpis in rows:
        week = weeks[iso_week(date.fromisoformat(text))]
        week["conversations"] += count
        week["score"] += score or 0.0
        week["timed"] += timed
        for key, value in zip(KPI_KEYS, kpis):
            week[key] += value or 0.0
    for text, clause, n in _clause_rows(session, scope, period, day) if clauses else ():  # none asked: no query
        counts = weeks[iso_week(date.fromisoformat(text))]["clauses"]
        if clause in counts:
            counts[clause] += n
    out = []
    for w in weeks.values():
        monday = date.fromisocalendar(int(w["week"][:4]), int(w["week"][6:]), 1)
        out.append({"week": w["week"], "from": monday.isoformat(), "to": (monday + timedelta(days=6)).isoformat(),
                    "conversations": w["conversations"],
                    "score": _round(w["score"] / w["conversations"] if w["conversations"] else None),
                    "timed_conversations": w["timed"],
                    "kpis": {k: _round(w[k] / w["timed"] if w["timed"] else None, 3) for k in KPI_KEYS},
                    "clauses": w["clauses"]})
    return out


def figures(session: Session, scope: Scope, period: Period, previous: Period, clause: str | None) -> dict[str, Any]:
    """Everything the dashboard page draws, for the API and the page alike."""
    current = summary(session, scope, period)
    before = summary(session, scope, previous)
    totals = clause_totals(session, scope, period)
    ranked = agents(session, scope, period)
    chosen = clause or (totals[0]["clause"] if totals else None)
    trend_clauses = [t["clause"] for t in totals[:TOP_CLAUSES]]
    if chosen and chosen not in trend_clauses:
        trend_clauses.append(chosen)
    return {
        "period": period.to_dict(), "conversations": current["conversations"],
        "distribution": distribution(session, scope, period),
        "agents": ranked,
        "clauses": totals,
        "clause": chosen,
        "clause_ranking": clause_ranking(session, scope, period, chosen, ranked) if chosen else [],
        "weeks": weekly(session, scope, period, trend_clauses),
        "kpis": current["kpis"], "timed_conversations": current["timed_conversations"],
        "comparison": {"current": current, "previous": before,
                       # week by week, the n-th week of this period beside the n-th of the other
                       "previous_weeks": [{k: w[k] for k in ("week", "from", "to", "conversations", "score")}
                                          for w in weekly(session, scope, previous, [])],
                       "change": {"conversations": current["conversations"] - before["conversations"],
                                  "score": _diff(current["score"], before["score"]),
                                  "findings": current["findings"] - before["findings"],
                                  "findings_per_conversation": _diff(current["findings_per_conversation"],
                                                                     before["findings_per_conversation"], 3),
                                  **{k: _diff(current["kpis"][k], before["kpis"][k], 3) for k in KPI_KEYS}}},
    }


KPI_NAMES = {"handle_seconds": "平均处理时长(秒)", "hold_count": "平均保持次数", "hold_seconds": "平均保持时长(秒)",
             "silence_ratio": "静默占比", "interruptions": "平均抢话次数"}


def tables(data: dict[str, Any]) -> dict[str, tuple[str, tuple[str, ...], list[tuple[Any, ...]]]]:
    """Each chart's data as a table (sheet title, headers, rows), for its XLSX export."""
    weeks = data["weeks"]
    clauses = list(weeks[0]["clauses"]) if weeks else []
    compared = data["comparison"]
    rows = [("会话数", "conversations"), ("平均得分", "score"), ("问题数", "findings"),
            ("每通问题数", "findings_per_conversation")]
    return {
        "distribution": ("得分分布", ("得分区间", "会话数"),
                         [(f"{b['low']}–{b['high']}", b["conversations"]) for b in data["distribution"]]),
        "agents": ("坐席得分排名", ("名次", "坐席", "姓名", "会话数", "平均得分"),
                   [(a["rank"], a["agent"], a["name"], a["conversations"], a["score"]) for a in data["agents"]]),
        "clause-ranking": ("条款坐席排名", ("条款", "名次", "坐席", "姓名", "会话数", "问题数", "每通问题数"),
                           [(data["clause"], a["rank"], a["agent"], a["name"], a["conversations"], a["findings"],
                             a["per_conversation"]) for a in data["clause_ranking"]]),
        "trend": ("得分趋势", ("周", "起", "止", "会话数", "平均得分"),
                  [(w["week"], w["from"], w["to"], w["conversations"], w["score"]) for w in weeks]),
        "clause-trend": ("条款趋势", ("周", "起", "止", *clauses),
                         [(w["week"], w["from"], w["to"], *w["clauses"].values()) for w in weeks]),
        "kpis": ("通话指标", ("周", "起", "止", "带时间戳会话数", *KPI_NAMES.values()),
                 [(w["week"], w["from"], w["to"], w["timed_conversations"], *w["kpis"].values()) for w in weeks]),
        "comparison-trend": ("两期得分对比", ("第几周", "本期周", "本期会话数", "本期平均得分", "上期周", "上期会话数", "上期平均得分"),
                             [(n, *_week_cells(weeks, n), *_week_cells(compared["previous_weeks"], n))
                              for n in range(1, max(len(weeks), len(compared["previous_weeks"])) + 1)]),
        "comparison": ("两期对比", ("指标", f"本期 {compared['current']['from']} 至 {compared['current']['to']}",
                                    f"上期 {compared['previous']['from']} 至 {compared['previous']['to']}", "变化"),
                       [(name, compared["current"][key], compared["previous"][key], compared["change"][key]) for name, key in rows]
                       + [(KPI_NAMES[k], compared["current"]["kpis"][k], compared["previous"]["kpis"][k],
                           compared["change"][k]) for k in KPI_KEYS]),
    }


def _week_cells(weeks: list[dict[str, Any]], n: int) -> tuple[Any, Any, Any]:
    """The n-th week's label, conversations and score; blanks past the period's end."""
    if n > len(weeks):
        return None, None, None
    w = weeks[n - 1]
    return f"{w['from']} 至 {w['to']}", w["conversations"], w["score"]


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(float(value), digits)


def _diff(after: float | None, before: float | None, digits: int = 2) -> float | None:
    return None if after is None or before is None else round(after - before, digits)
