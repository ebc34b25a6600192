"""Training in the workspace (陪练, docs/training.md): who may practise and see what, attempts stored
as they go, the report card, trainers' views, proposals from QA findings, assignments and company
scenario versions.

The practice itself is ``guifan.training``'s: a ``TrainingSession`` plays the scenario through live
assist and ``grade`` checks the transcript as ``guifan check`` does. An attempt is a row of
``training_attempts`` holding the session's answers and transcript; the session is kept in memory
between answers (``SESSIONS_KEPT``) and otherwise restored from the answers (deterministic, so the
same conversation). An attempt left halfway is graded as abandoned (中途放弃): on 放弃, when the user
starts another, after ``idle_seconds`` without an answer, or when a 考核's time is up. Routes
(``api.py``, ``pages.py``) only translate HTTP into these calls.
"""

from __future__ import annotations

import difflib
import random
import threading
from collections import Counter, OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from guifan.errors import GuifanError
from guifan.scoring import Checker
from guifan.training import (
    OUTCOME_LABELS,
    Outcome,
    Scenario,
    ScenarioError,
    TrainingSession,
    behaves,
    grade,
    load_scenarios,
    parse_answer,
    play_examples,
    read_scenario,
)
from guifan.training.scenario import DIFFICULTIES, MAX_SCENARIO_BYTES
from guifan.web.assist.service import Bucket
from guifan.web.clock import aware
from guifan.web.models import Conversation, Finding, FindingStatus, User, UserRole, utcnow
from guifan.web.security import Permission, allowed
from guifan.web.services import Workspace, audit, iso_week
from guifan.web.training.models import AttemptStatus, Mode, TrainingAssignment, TrainingAttempt, TrainingScenario

IDLE_SECONDS = 30 * 60  # an attempt without an answer this long is abandoned
EXAM_SECONDS = 15 * 60  # a 考核 attempt's time
MAX_ANSWERS = 200  # answers of one attempt
MAX_DRAFT_CHARS = MAX_SCENARIO_BYTES // 4  # a pasted scenario (characters; a scenario file may have 1 MB of bytes)
SESSIONS_KEPT = 500  # open attempts whose session stays in memory between answers
PROPOSAL_DAYS = 30
PROPOSALS_PER_AGENT = 5
RATE, BURST = 5.0, 30  # training requests a second per user
EXPIRED_PER_CALL = 20  # idle attempts graded as abandoned by one call
SEES_ALL = frozenset({UserRole.ADMIN, UserRole.SUPERVISOR})
MODE_LABELS = {Mode.PRACTICE: "练习", Mode.EXAM: "考核"}
STATUS_LABELS = {AttemptStatus.IN_PROGRESS: "进行中", AttemptStatus.FINISHED: "已完成", AttemptStatus.ABANDONED: "中途放弃"}
ENDED_REASONS = {"end": "对话结束", "abandon": "主动放弃", "replaced": "开始了新的练习", "idle": "长时间未作答",
                 "timeout": "考核时间已到"}
CHANNEL_LABELS = {"phone": "电话", "chat": "在线"}
DRAFT_NAME = "草稿"


class TrainingError(GuifanError):
    """A request training refuses: ``status`` is the HTTP status, the message is Chinese."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


@dataclass(frozen=True, slots=True)
class Offered:
    """A scenario as practised: bundled (version 0) or a company version."""

    scenario: Scenario
    version: int
    published: bool = True

    def summary(self, rulebook) -> dict[str, Any]:
        s = self.scenario
        return {"id": s.id, "version": self.version, "title": s.title, "difficulty": s.difficulty,
                "channel": s.channel.value, "channel_label": CHANNEL_LABELS[s.channel.value],
                "clauses": list(s.clauses), "clause_titles": [rulebook.clause_title(c) for c in s.clauses],
                "persona": s.persona, "pass_score": s.pass_score, "company": self.version > 0,
                "published": self.published}


def _iso(moment: datetime | None) -> str | None:
    return aware(moment).isoformat() if moment else None


class Training:
    """The workspace's training: scenarios per rulebook version, attempts and the trainers' views."""

    def __init__(self, workspace: Workspace, *, idle_seconds: float = IDLE_SECONDS,
                 exam_seconds: float = EXAM_SECONDS):
        self.workspace = workspace
        self.idle_seconds = idle_seconds
        self.exam_seconds = exam_seconds
        self._lock = threading.RLock()
        self._bundled: dict[int, dict[str, Scenario]] = {}  # rulebook version -> bundled scenarios
        self._company: dict[tuple[int, int], Scenario] = {}  # (rulebook version, row id) -> scenario
        self._sessions: OrderedDict[int, TrainingSession] = OrderedDict()  # attempt id -> its session
        self._attempt_locks: dict[int, threading.Lock] = {}
        self._buckets: dict[int, Bucket] = {}

    # -- who may do what ------------------------------------------------------------------------

    def rate(self, user: User) -> None:
        with self._lock:
            if len(self._buckets) > 10_000:
                self._buckets.clear()
            bucket = self._buckets.setdefault(user.id, Bucket(RATE, BURST))
            if not bucket.take():
                raise TrainingError(429, "请求过于频繁,请稍后再试")

    @staticmethod
    def coaches(user: User, person: User) -> bool:
        """Whether ``user`` may see ``person``'s attempts: their own; supervisors and admins
        everyone's; team leads their team's."""
        if person.id == user.id:
            return True
        if not allowed(user.role, Permission.COACH):
            return False
        if UserRole(user.role) in SEES_ALL:
            return True
        return user.team_id is not None and person.team_id == user.team_id

    @staticmethod
    def scope(query, user: User):
        """``query`` (over ``User``) restricted to the people whose training ``user`` may see."""
        if not allowed(user.role, Permission.COACH):
            return query.where(User.id == user.id)
        if UserRole(user.role) in SEES_ALL:
            return query
        return query.where(or_(User.id == user.id, User.team_id == user.team_id)) if user.team_id else \
            query.where(User.id == user.id)

    def person(self, db: Session, user: User, person_id: int) -> User:
        person = db.get(User, person_id)
        if person is None or not self.coaches(user, person):
            raise TrainingError(404, "没有这个用户")
        return person

    # -- scenarios ------------------------------------------------------------------------------

    def rulebook_version(self, db: Session) -> int:
        version = self.workspace.active_rulebook(db)
        db.commit()
        return version.version

    def checker(self, rulebook_version: int) -> Checker:
        return self.workspace.checker_for(rulebook_version)

    def _bundled_for(self, rulebook_version: int) -> dict[str, Scenario]:
        with self._lock:
            found = self._bundled.get(rulebook_version)
            if found is None:
                rulebook = self.checker(rulebook_version).engine.rulebook
                try:
                    found = self._bundled[rulebook_version] = load_scenarios(rulebook=rulebook)
                except ScenarioError as exc:
                    raise TrainingError(500, f"自带场景与当前规则手册不符:\n{exc}") from None
            return found

    def _company_scenario(self, row: TrainingScenario, rulebook_version: int) -> Scenario:
        key = (rulebook_version, row.id)
        with self._lock:
            found = self._company.get(key)
        if found is None:
            rulebook = self.checker(rulebook_version).engine.rulebook
            found = read_scenario(f"{row.scenario_id} 版本 {row.version}", rulebook, text=row.yaml)
            with self._lock:
                self._company[key] = found
        return found

    def offered(self, db: Session, rulebook_version: int | None = None) -> dict[str, Offered]:
        """The scenarios practised now: the bundled ones, each replaced by the newest published
        company version of its id, and the company's own; ordered by difficulty, then id."""
        version = rulebook_version or self.rulebook_version(db)
        found = {sid: Offered(s, 0) for sid, s in self._bundled_for(version).items()}
        newest = (select(TrainingScenario.scenario_id, func.max(TrainingScenario.version).label("v"))
                  .where(TrainingScenario.published.is_(True)).group_by(TrainingScenario.scenario_id).subquery())
        rows = db.scalars(select(TrainingScenario).join(
            newest, (TrainingScenario.scenario_id == newest.c.scenario_id) & (TrainingScenario.version == newest.c.v)))
        for row in rows:
            try:
                found[row.scenario_id] = Offered(self._company_scenario(row, version), row.version)
            except ScenarioError:  # published under another rulebook that no longer fits: the bundled one stays
                continue
        return dict(sorted(found.items(), key=lambda i: (DIFFICULTIES.index(i[1].scenario.difficulty), i[0])))

    def scenario_version(self, db: Session, user: User, scenario_id: str, version: int | None,
                         rulebook_version: int) -> Offered:
        """The scenario to play: the one offered now, or (``version``) a given company version;
        unpublished drafts only for authors."""
        if version is None:
            offered = self.offered(db, rulebook_version)
            if scenario_id not in offered:
                like = difflib.get_close_matches(scenario_id, list(offered), n=1)
                raise TrainingError(404, f"没有场景 {scenario_id}" + (f";是否要写 {like[0]}?" if like else ""))
            return offered[scenario_id]
        if version == 0:
            bundled = self._bundled_for(rulebook_version)
            if scenario_id not in bundled:
                raise TrainingError(404, f"没有自带场景 {scenario_id}")
            return Offered(bundled[scenario_id], 0)
        row = db.scalar(select(TrainingScenario).where(TrainingScenario.scenario_id == scenario_id,
                                                       TrainingScenario.version == version))
        if row is None or (not row.published and not allowed(user.role, Permission.AUTHOR)):
            raise TrainingError(404, f"没有场景 {scenario_id} 的版本 {version}")
        try:
            return Offered(self._company_scenario(row, rulebook_version), row.version, row.published)
        except ScenarioError as exc:
            raise TrainingError(422, str(exc)) from None

    def _scenario_of(self, db: Session, row: TrainingAttempt) -> Scenario:
        if row.scenario_version == 0:
            return self._bundled_for(row.rulebook_version)[row.scenario_id]
        version = db.scalar(select(TrainingScenario).where(TrainingScenario.scenario_id == row.scenario_id,
                                                           TrainingScenario.version == row.scenario_version))
        return self._company_scenario(version, row.rulebook_version)

    # -- attempts -------------------------------------------------------------------------------

    def start(self, db: Session, user: User, scenario_id: str, mode: str, seed: int | None = None,
              version: int | None = None) -> TrainingAttempt:
        """A new attempt; the user's attempt in progress, if any, is graded as abandoned."""
        self.rate(user)
        rulebook_version = self.rulebook_version(db)
        offered = self.scenario_version(db, user, scenario_id, version, rulebook_version)
        for left in db.scalars(select(TrainingAttempt).where(TrainingAttempt.user_id == user.id,
                                                             TrainingAttempt.status == AttemptStatus.IN_PROGRESS)):
            self._grade(db, left, "replaced")
        scenario = offered.scenario
        seed = random.randrange(1000) if seed is None else seed
        session = TrainingSession(scenario, self.checker(rulebook_version).engine, seed=seed,
                                  hints=mode == Mode.PRACTICE)
        assignment = db.scalar(select(TrainingAssignment).where(
            TrainingAssignment.user_id == user.id, TrainingAssignment.scenario_id == scenario.id,
            TrainingAssignment.done_at.is_(None)).order_by(TrainingAssignment.id).limit(1))
        now = utcnow()
        row = TrainingAttempt(
            user_id=user.id, scenario_id=scenario.id, scenario_version=offered.version, trial=not offered.published,
            mode=mode, seed=seed, clauses=list(scenario.clauses), rulebook_version=rulebook_version,
            status=AttemptStatus.IN_PROGRESS, answers=[], transcript=session.to_dict()["turns"],
            assignment_id=assignment.id if assignment else None, started_at=now, active_at=now,
            deadline=now + timedelta(seconds=self.exam_seconds) if mode == Mode.EXAM else None)
        db.add(row)
        db.flush()
        audit(db, user, "training.start", "training_attempt", row.id, None,
              {"scenario": scenario.id, "version": offered.version, "mode": mode})
        if session.finished:  # a scenario whose start is an end state: nothing to answer
            self._grade(db, row, "end", session)
        else:
            self._keep(row.id, session)
        db.commit()
        return row

    def attempt(self, db: Session, user: User, attempt_id: int, *, write: bool = False) -> TrainingAttempt:
        """The attempt if the user may see it (404 otherwise); ``write``: only its own trainee may
        answer or abandon it, and only while it is in progress (409)."""
        row = db.get(TrainingAttempt, attempt_id)
        if row is None or not self.coaches(user, db.get(User, row.user_id)):
            raise TrainingError(404, "没有这次练习")
        self._expire(db, row)
        if write:
            if row.user_id != user.id:
                raise TrainingError(403, "只能查看这次练习")
            if row.status != AttemptStatus.IN_PROGRESS:
                raise TrainingError(409, f"这次练习已结束 ({ENDED_REASONS.get(row.ended_reason or '', '')})")
        return row

    def answer(self, db: Session, user: User, attempt_id: int, text: str) -> tuple[TrainingAttempt, dict[str, Any]]:
        """The trainee's next answer (a reply, or ``[等待 N]``): the customer's lines and the hints
        due now; the report card once the customer is done."""
        self.rate(user)
        with self._attempt_lock(attempt_id):
            row = self.attempt(db, user, attempt_id, write=True)
            if len(row.answers) >= MAX_ANSWERS:
                raise TrainingError(409, f"一次练习最多 {MAX_ANSWERS} 句回答,请结束或放弃这次练习")
            try:
                answer = parse_answer(text)
            except GuifanError as exc:
                raise TrainingError(422, f"回答: {exc}") from None
            session = self.session(db, row)
            progress = session.answer(answer)
            state = session.to_dict()
            row.answers, row.transcript, row.active_at = state["answers"], state["turns"], utcnow()
            if progress.finished:
                self._grade(db, row, "end", session)
            db.commit()
            return row, {"customer": [{"turn": n, "text": t} for n, t in progress.customer], "hints": progress.hints,
                         "finished": progress.finished}

    def abandon(self, db: Session, user: User, attempt_id: int) -> TrainingAttempt:
        """放弃: the attempt graded as it stands (abandoned)."""
        with self._attempt_lock(attempt_id):
            row = self.attempt(db, user, attempt_id, write=True)
            self._grade(db, row, "abandon")
            db.commit()
            return row

    def session(self, db: Session, row: TrainingAttempt) -> TrainingSession:
        """The attempt's session: the one in memory, or restored from its answers."""
        with self._lock:
            session = self._sessions.get(row.id)
        if session is not None and len(session.answers) == len(row.answers):
            return session
        data = {"scenario": row.scenario_id, "seed": row.seed, "hints": row.mode == Mode.PRACTICE,
                "answers": row.answers, "outcome": Outcome.ABANDONED if row.status == AttemptStatus.ABANDONED else None}
        scenario = self._scenario_of(db, row)
        session = TrainingSession.restore(data, {scenario.id: scenario}, self.checker(row.rulebook_version).engine)
        if row.status == AttemptStatus.IN_PROGRESS:
            self._keep(row.id, session)
        return session

    def hints(self, db: Session, row: TrainingAttempt) -> list[dict[str, Any]]:
        if row.status != AttemptStatus.IN_PROGRESS or row.mode != Mode.PRACTICE:
            return []
        return self.session(db, row).hints()

    def _keep(self, attempt_id: int, session: TrainingSession) -> None:
        with self._lock:
            self._sessions[attempt_id] = session
            self._sessions.move_to_end(attempt_id)
            while len(self._sessions) > SESSIONS_KEPT:
                self._sessions.popitem(last=False)

    def _attempt_lock(self, attempt_id: int) -> threading.Lock:
        with self._lock:
            if len(self._attempt_locks) > 10 * SESSIONS_KEPT:
                self._attempt_locks = {k: v for k, v in self._attempt_locks.items() if v.locked()}
            return self._attempt_locks.setdefault(attempt_id, threading.Lock())

    def _grade(self, db: Session, row: TrainingAttempt, reason: str, session: TrainingSession | None = None) -> None:
        """Finish the attempt (abandoned if the customer is not done) and store its report card."""
        session = session or self.session(db, row)
        checker = self.checker(row.rulebook_version)
        card = grade(session, checker).to_dict(checker)
        abandoned = card["outcome"] == Outcome.ABANDONED
        row.status = AttemptStatus.ABANDONED if abandoned else AttemptStatus.FINISHED
        row.ended_reason = "end" if not abandoned else ("abandon" if reason == "end" else reason)
        row.outcome, row.score, row.passed = card["outcome"], card["score"], card["passed"]
        row.checklist, row.findings, row.faulted = card["checklist"], card["findings"], card["faulted_clauses"]
        row.transcript = card["transcript"]
        row.finished_at = utcnow()
        if row.passed and row.assignment_id is not None:
            assignment = db.get(TrainingAssignment, row.assignment_id)
            if assignment is not None and assignment.done_at is None:
                assignment.done_at = row.finished_at
        with self._lock:
            self._sessions.pop(row.id, None)

    def _expire(self, db: Session, row: TrainingAttempt) -> bool:
        """Grade the attempt as abandoned if it sat idle too long or its exam time is up."""
        if row.status != AttemptStatus.IN_PROGRESS:
            return False
        now = utcnow()
        if row.deadline is not None and aware(row.deadline) <= now:
            self._grade(db, row, "timeout")
        elif (now - aware(row.active_at)).total_seconds() > self.idle_seconds:
            self._grade(db, row, "idle")
        else:
            return False
        db.commit()
        return True

    def expire_idle(self, db: Session) -> None:
        """Attempts left idle (or past their exam's time) anywhere, graded as abandoned, a few at a call."""
        cutoff = utcnow() - timedelta(seconds=self.idle_seconds)
        rows = db.scalars(select(TrainingAttempt).where(
            TrainingAttempt.status == AttemptStatus.IN_PROGRESS,
            or_(TrainingAttempt.active_at < cutoff, TrainingAttempt.deadline < utcnow()))
            .order_by(TrainingAttempt.id).limit(EXPIRED_PER_CALL))
        for row in list(rows):
            self._expire(db, row)

    # -- what is shown --------------------------------------------------------------------------

    def card(self, db: Session, row: TrainingAttempt) -> dict[str, Any]:
        """The attempt: what it is, its transcript and, once graded, its report card."""
        person = db.get(User, row.user_id)
        rulebook = self.checker(row.rulebook_version).engine.rulebook
        try:
            scenario = self._scenario_of(db, row)
            title, difficulty, pass_score, goal = scenario.title, scenario.difficulty, scenario.pass_score, scenario.goal
        except (KeyError, AttributeError, ScenarioError):  # a scenario since removed
            title, difficulty, pass_score, goal = row.scenario_id, "", None, ()
        return {
            "id": row.id, "user_id": row.user_id, "username": person.username, "display_name": person.display_name,
            "scenario": row.scenario_id, "scenario_version": row.scenario_version, "title": title,
            "difficulty": difficulty, "trial": row.trial, "mode": row.mode, "mode_label": MODE_LABELS[row.mode],
            "seed": row.seed, "status": row.status, "status_label": STATUS_LABELS[row.status],
            "ended_reason": row.ended_reason, "ended_label": ENDED_REASONS.get(row.ended_reason or ""),
            "target_clauses": list(row.clauses),
            "clause_titles": {c: rulebook.clause_title(c) for c in row.clauses},
            "outcome": row.outcome, "outcome_label": OUTCOME_LABELS[Outcome(row.outcome)] if row.outcome else None,
            "goal_labels": [OUTCOME_LABELS[g] for g in goal],
            "score": row.score, "passed": row.passed, "pass_score": pass_score,
            "faulted_clauses": row.faulted or [], "checklist": row.checklist or [], "findings": row.findings or [],
            "transcript": row.transcript, "answers": len(row.answers),
            "started_at": _iso(row.started_at), "finished_at": _iso(row.finished_at), "deadline": _iso(row.deadline),
            "seconds_left": (max(0.0, (aware(row.deadline) - utcnow()).total_seconds())
                             if row.deadline and row.status == AttemptStatus.IN_PROGRESS else None),
        }

    def attempts(self, db: Session, user: User, *, person_id: int | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Attempts the user may see (their own; a trainer's trainees'), newest first."""
        self.expire_idle(db)
        query = self.scope(select(TrainingAttempt, User).join(User, User.id == TrainingAttempt.user_id), user)
        if person_id is not None:
            query = query.where(TrainingAttempt.user_id == person_id)
        rows = db.execute(query.order_by(TrainingAttempt.started_at.desc(), TrainingAttempt.id.desc()).limit(limit))
        titles = {sid: o.scenario.title for sid, o in self.offered(db).items()}
        return [{"id": a.id, "user_id": u.id, "username": u.username, "display_name": u.display_name,
                 "scenario": a.scenario_id, "scenario_version": a.scenario_version,
                 "title": titles.get(a.scenario_id, a.scenario_id), "trial": a.trial, "mode": a.mode,
                 "mode_label": MODE_LABELS[a.mode], "status": a.status, "status_label": STATUS_LABELS[a.status],
                 "score": a.score, "passed": a.passed, "started_at": _iso(a.started_at),
                 "finished_at": _iso(a.finished_at)} for a, u in rows]

    def learners(self, db: Session, user: User) -> list[User]:
        """The people whose practice the user follows: trainees and agents in scope."""
        query = self.scope(select(User).where(User.active.is_(True),
                                              User.role.in_([UserRole.TRAINEE, UserRole.AGENT])), user)
        return list(db.scalars(query.order_by(User.username)))

    def readiness(self, db: Session, user: User) -> dict[str, Any]:
        """Who is ready: passed every 考核 scenario in a 考核 attempt at the threshold or more."""
        self.expire_idle(db)
        threshold = float(self.workspace.setting(db, "training_ready_score"))
        exams = [o.scenario for o in self.offered(db).values() if o.scenario.difficulty == "考核"]
        people = self.learners(db, user)
        passed: dict[int, set[str]] = {}
        counts: Counter[int] = Counter()
        if people:
            rows = db.execute(select(TrainingAttempt.user_id, TrainingAttempt.scenario_id, TrainingAttempt.mode,
                                     TrainingAttempt.passed, TrainingAttempt.score)
                              .where(TrainingAttempt.user_id.in_([p.id for p in people]),
                                     TrainingAttempt.trial.is_(False),
                                     TrainingAttempt.status != AttemptStatus.IN_PROGRESS))
            for person_id, scenario_id, mode, ok, score in rows:
                counts[person_id] += 1
                if mode == Mode.EXAM and ok and score is not None and score >= threshold:
                    passed.setdefault(person_id, set()).add(scenario_id)
        return {
            "threshold": threshold,
            "exams": [{"id": s.id, "title": s.title} for s in exams],
            "people": [{"user_id": p.id, "username": p.username, "display_name": p.display_name, "role": p.role,
                        "attempts": counts[p.id],
                        "passed": [s.id for s in exams if s.id in passed.get(p.id, set())],
                        "missing": [s.id for s in exams if s.id not in passed.get(p.id, set())],
                        "ready": bool(exams) and all(s.id in passed.get(p.id, set()) for s in exams)}
                       for p in people],
        }

    def clause_progress(self, db: Session, user: User, person_id: int | None = None) -> list[dict[str, Any]]:
        """Per clause trained and ISO week: graded attempts, how many handled the clause (no counting
        finding on it, its checklist steps done) and their mean score."""
        query = self.scope(select(TrainingAttempt).join(User, User.id == TrainingAttempt.user_id), user).where(
            TrainingAttempt.trial.is_(False), TrainingAttempt.status != AttemptStatus.IN_PROGRESS)
        if person_id is not None:
            query = query.where(TrainingAttempt.user_id == person_id)
        cells: dict[tuple[str, str], list[tuple[bool, float]]] = {}
        for row in db.scalars(query.order_by(TrainingAttempt.started_at)):
            for clause in row.clauses:
                steps = [item for item in row.checklist or [] if clause in item["clauses"]]
                handled = clause not in (row.faulted or []) and all(item["done"] for item in steps)
                cells.setdefault((clause, iso_week(aware(row.started_at))), []).append((handled, row.score or 0.0))
        rulebook = self.checker(self.rulebook_version(db)).engine.rulebook
        return [{"clause": clause, "title": rulebook.clause_title(clause), "week": week, "attempts": len(results),
                 "handled": sum(ok for ok, _ in results),
                 "mean_score": round(sum(score for _, score in results) / len(results), 1)}
                for (clause, week), results in sorted(cells.items())]

    # -- from QA to practice --------------------------------------------------------------------

    def broken_clauses(self, db: Session, person: User, days: int = PROPOSAL_DAYS) -> Counter[str]:
        """How often the agent's conversations of the last ``days`` broke each clause: findings that
        count (not rejected, not waiting for review)."""
        since = utcnow() - timedelta(days=days)
        when = func.coalesce(Conversation.started_at, Conversation.imported_at)
        rows = db.execute(select(Finding.clauses, Finding.needs_review, Finding.status)
                          .join(Conversation, Conversation.id == Finding.conversation_id)
                          .where(Conversation.agent_id == person.id, when >= since,
                                 Finding.status != FindingStatus.REJECTED))
        counts: Counter[str] = Counter()
        for clauses, needs_review, status in rows:
            if needs_review and status == FindingStatus.OPEN:
                continue
            counts.update(clauses or [])
        return counts

    def proposals_for(self, db: Session, person: User, offered: dict[str, Offered]) -> list[dict[str, Any]]:
        """The scenarios that train the clauses the agent broke most: ranked by how often the
        clauses they train were broken (入门 before 考核 on a tie)."""
        broken = self.broken_clauses(db, person)
        ranked = []
        for sid, item in offered.items():
            hits = {c: broken[c] for c in item.scenario.clauses if broken[c]}
            if hits:
                ranked.append((-sum(hits.values()), DIFFICULTIES.index(item.scenario.difficulty), sid, hits))
        return [{"scenario": sid, "title": offered[sid].scenario.title, "difficulty": offered[sid].scenario.difficulty,
                 "clauses": sorted(hits, key=lambda c: -hits[c]), "findings": dict(hits)}
                for _, _, sid, hits in sorted(ranked)[:PROPOSALS_PER_AGENT]]

    def proposals(self, db: Session, user: User) -> list[dict[str, Any]]:
        """For each agent in scope: the clauses broken in the last 30 days, the scenarios proposed
        and the practice already assigned."""
        offered = self.offered(db)
        people = [p for p in self.learners(db, user) if p.role == UserRole.AGENT]
        open_assignments = self.assignments(db, user, open_only=True)
        result = []
        for person in people:
            broken = self.broken_clauses(db, person)
            result.append({"user_id": person.id, "username": person.username, "display_name": person.display_name,
                           "agent_code": person.agent_code, "broken": dict(broken.most_common(10)),
                           "proposals": self.proposals_for(db, person, offered),
                           "assigned": [a["scenario"] for a in open_assignments if a["user_id"] == person.id]})
        return result

    def assign(self, db: Session, user: User, person_id: int, scenario_id: str) -> TrainingAssignment:
        """A scenario for an agent to practise (team leads their team's; supervisors anyone's)."""
        self.rate(user)
        if not allowed(user.role, Permission.COACH):
            raise TrainingError(403, "没有权限布置练习")
        person = self.person(db, user, person_id)
        if person.id == user.id or not allowed(person.role, Permission.PRACTISE):
            raise TrainingError(400, "只能给坐席或学员布置练习")
        offered = self.offered(db)
        if scenario_id not in offered:
            raise TrainingError(404, f"没有场景 {scenario_id}")
        existing = db.scalar(select(TrainingAssignment).where(
            TrainingAssignment.user_id == person.id, TrainingAssignment.scenario_id == scenario_id,
            TrainingAssignment.done_at.is_(None)))
        if existing is not None:
            return existing
        broken = self.broken_clauses(db, person)
        clauses = [c for c in offered[scenario_id].scenario.clauses if broken[c]]
        row = TrainingAssignment(user_id=person.id, scenario_id=scenario_id, clauses=clauses, assigned_by=user.id)
        db.add(row)
        db.flush()
        audit(db, user, "training.assign", "training_assignment", row.id, None,
              {"user": person.username, "scenario": scenario_id})
        db.commit()
        return row

    def assignments(self, db: Session, user: User, *, open_only: bool = False) -> list[dict[str, Any]]:
        """Assigned practice the user may see: their own, and a trainer's trainees'."""
        query = self.scope(select(TrainingAssignment, User).join(User, User.id == TrainingAssignment.user_id), user)
        if open_only:
            query = query.where(TrainingAssignment.done_at.is_(None))
        titles = {sid: o.scenario.title for sid, o in self.offered(db).items()}
        names = dict(db.execute(select(User.id, User.display_name)).all())
        return [{"id": a.id, "user_id": u.id, "username": u.username, "display_name": u.display_name,
                 "scenario": a.scenario_id, "title": titles.get(a.scenario_id, a.scenario_id), "clauses": a.clauses,
                 "assigned_by": names.get(a.assigned_by, ""), "created_at": _iso(a.created_at),
                 "done_at": _iso(a.done_at)}
                for a, u in db.execute(query.order_by(TrainingAssignment.id.desc()).limit(500))]

    # -- authoring ------------------------------------------------------------------------------

    def validate(self, db: Session, text: str) -> tuple[Scenario, list[dict[str, Any]]]:
        """A pasted scenario validated against the active rulebook (every problem with line and key:
        422), and its example trainees played: whether each behaves, with its score."""
        rulebook_version = self.rulebook_version(db)
        checker = self.checker(rulebook_version)
        try:
            scenario = read_scenario(DRAFT_NAME, checker.engine.rulebook, text=text)
        except ScenarioError as exc:
            raise TrainingError(422, str(exc)) from None
        examples = [{"side": side, "behaves": behaves(side, card), "passed": card.passed, "score": card.score,
                     "outcome_label": OUTCOME_LABELS[card.outcome], "faulted_clauses": list(card.faulted),
                     "missed": [item.step for item in card.checklist if not item.done]}
                    for side, card in play_examples(scenario, checker)]
        return scenario, examples

    def save_draft(self, db: Session, user: User, text: str) -> TrainingScenario:
        """A valid scenario kept as the next version of its id, unpublished."""
        self.rate(user)
        scenario, _ = self.validate(db, text)
        newest = db.scalar(select(func.max(TrainingScenario.version)).where(TrainingScenario.scenario_id == scenario.id))
        row = TrainingScenario(scenario_id=scenario.id, version=(newest or 0) + 1, title=scenario.title[:200],
                               yaml=text, published=False, created_by=user.id)
        db.add(row)
        db.flush()
        audit(db, user, "training.draft", "training_scenario", row.id, None,
              {"scenario": scenario.id, "version": row.version})
        db.commit()
        return row

    def publish(self, db: Session, user: User, scenario_id: str, version: int) -> TrainingScenario:
        row = db.scalar(select(TrainingScenario).where(TrainingScenario.scenario_id == scenario_id,
                                                       TrainingScenario.version == version))
        if row is None:
            raise TrainingError(404, f"没有场景 {scenario_id} 的版本 {version}")
        try:
            self._company_scenario(row, self.rulebook_version(db))  # still valid under the active rulebook
        except ScenarioError as exc:
            raise TrainingError(422, str(exc)) from None
        if not row.published:
            row.published, row.published_at = True, utcnow()
            audit(db, user, "training.publish", "training_scenario", row.id, None,
                  {"scenario": scenario_id, "version": version})
            db.commit()
        return row

    def versions(self, db: Session) -> list[dict[str, Any]]:
        names = dict(db.execute(select(User.id, User.display_name)).all())
        return [{"scenario": r.scenario_id, "version": r.version, "title": r.title, "published": r.published,
                 "created_by": names.get(r.created_by, ""), "created_at": _iso(r.created_at),
                 "published_at": _iso(r.published_at)}
                for r in db.scalars(select(TrainingScenario).order_by(TrainingScenario.scenario_id,
                                                                      TrainingScenario.version.desc()).limit(1000))]

    def set_threshold(self, db: Session, user: User, score: int) -> None:
        self.workspace.set_setting(db, user, "training_ready_score", score)
        db.commit()
