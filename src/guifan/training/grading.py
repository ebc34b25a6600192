"""The report card of an attempt: the full QA check of its transcript plus the scenario's checklist.

The transcript is checked exactly as ``guifan check`` checks a conversation (the same engine,
rules, rulebook and scorecard: ``Checker``). The checklist is read from the same check context:
a step is done at the first agent turn, from the previous step's turn on, that does the step's
``when`` (``TurnView.says``), and only when the rules fault none of the step's clauses.

An attempt is **passed** when all four hold:

1. the customer reached one of the scenario's ``goal`` end states (an abandoned attempt fails);
2. the QA score is at least the scenario's ``pass_score`` (default 80);
3. no finding that counts in the score (not 待复核) is on one of the scenario's target clauses;
4. every checklist step is done.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from guifan.engine.context import CheckContext
from guifan.model import Finding, Role
from guifan.reporters.common import finding_record, turn_record
from guifan.scoring import Checker, CheckResult
from guifan.training.scenario import OUTCOME_LABELS, Outcome, Scenario, Step
from guifan.training.session import TrainingSession, does


@dataclass(frozen=True, slots=True)
class ChecklistItem:
    step: str
    clauses: tuple[str, ...]
    done: bool
    turn: int | None  # the turn (from 0) where it was done, or where it was attempted
    wording: str  # the standard wording for the step
    problem: str | None  # why it is not done (in Chinese)

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step, "clauses": list(self.clauses), "done": self.done, "turn": self.turn,
                "wording": self.wording, "problem": self.problem}


@dataclass(frozen=True, slots=True)
class ReportCard:
    scenario: Scenario
    seed: int
    outcome: Outcome
    end_state: str
    result: CheckResult
    checklist: tuple[ChecklistItem, ...]
    faulted: tuple[str, ...]  # target clauses with a finding that counts
    passed: bool

    @property
    def score(self) -> float:
        return self.result.score.total

    def to_dict(self, checker: Checker) -> dict[str, Any]:
        rulebook = checker.engine.rulebook
        return {
            "scenario": self.scenario.id,
            "title": self.scenario.title,
            "seed": self.seed,
            "passed": self.passed,
            "score": self.score,
            "pass_score": self.scenario.pass_score,
            "outcome": self.outcome.value,
            "outcome_label": OUTCOME_LABELS[self.outcome],
            "end_state": self.end_state,
            "target_clauses": list(self.scenario.clauses),
            "faulted_clauses": list(self.faulted),
            "checklist": [item.to_dict() for item in self.checklist],
            "findings": [finding_record(f, rulebook) for f in self.result.findings],
            "transcript": [turn_record(n, turn, rulebook) for n, turn in enumerate(self.result.conversation.turns)],
        }


def grade(session: TrainingSession, checker: Checker) -> ReportCard:
    """Finish the attempt (abandoned if the customer is not done) and grade it."""
    outcome = session.finish()
    scenario = session.scenario
    engine = checker.engine
    ctx = engine.context(session.conversation)
    result = checker.result(session.conversation, tuple(engine.run(ctx)))
    counted = [f for f in result.findings if checker.scorer.counts(f)]
    checklist = _checklist(scenario, ctx, counted, checker)
    faulted = tuple(c for c in scenario.clauses if any(c in f.clauses for f in counted))
    passed = (outcome in scenario.goal and result.score.total >= scenario.pass_score and not faulted
              and all(item.done for item in checklist))
    return ReportCard(scenario, session.seed, outcome, session.state, result, checklist, faulted, passed)


EXAMPLE_SIDES = ("good", "bad")


def behaves(side: str, card: ReportCard) -> bool:
    """Whether an example trainee did as it should: the good one passes, the bad one fails on one
    of the scenario's target clauses."""
    return card.passed if side == "good" else not card.passed and bool(card.faulted)


def play_examples(scenario: Scenario, checker: Checker) -> list[tuple[str, ReportCard]]:
    """The scenario's scripted trainees (``examples``) played with seed 0 and graded: ("good",
    card) and ("bad", card); none when the scenario has no examples. Answers left once the
    customer has ended the conversation are not played."""
    if scenario.examples is None:
        return []
    cards = []
    for side in EXAMPLE_SIDES:
        session = TrainingSession(scenario, checker.engine)
        for answer in getattr(scenario.examples, side):
            if not session.finished:
                session.answer(answer)
        cards.append((side, grade(session, checker)))
    return cards


def _checklist(scenario: Scenario, ctx: CheckContext, counted: list[Finding], checker: Checker) -> tuple[ChecklistItem, ...]:
    turns: list[int | None] = []
    since = 0  # the previous step's turn: steps are done in order
    for n, step in enumerate(scenario.checklist):
        turn = _first_turn(step, ctx, since + step.next_turn if n else 0)
        turns.append(turn)
        since = turn if turn is not None else since
    faults = _faults_by_step(scenario.checklist, turns, counted)
    items = []
    for step, turn, fault in zip(scenario.checklist, turns, faults):
        wording = scenario.wording(step, checker.engine.rulebook)
        if turn is None:
            earlier = _first_turn(step, ctx, 0)
            problem = "顺序不对:应在上一步之后" if earlier is not None else "没有做到"
            items.append(ChecklistItem(step.step, step.clauses, False, earlier, wording, problem))
        else:
            items.append(ChecklistItem(step.step, step.clauses, fault is None, turn, wording,
                                       fault.message if fault is not None else None))
    return tuple(items)


def _faults_by_step(steps: tuple[Step, ...], turns: list[int | None], counted: list[Finding]) -> list[Finding | None]:
    """The first finding against each step: a finding goes to the last step of its clauses done at
    or before its turn (several steps of one protocol share a clause), else to the first of them."""
    faults: list[Finding | None] = [None] * len(steps)
    for finding in counted:
        candidates = [n for n, step in enumerate(steps) if set(step.clauses) & set(finding.clauses)]
        if not candidates:
            continue
        before = [n for n in candidates if turns[n] is not None and finding.turn is not None and turns[n] <= finding.turn]
        for n in candidates if finding.turn is None else [before[-1] if before else candidates[0]]:
            faults[n] = faults[n] or finding
    return faults


def _first_turn(step: Step, ctx: CheckContext, since: int) -> int | None:
    for view in ctx.turns[since:]:
        if view.role is Role.AGENT and does(step.when, view):
            return view.index
    return None
