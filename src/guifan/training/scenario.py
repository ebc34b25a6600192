"""Training scenarios as data: a simulated customer (a small state machine) and the protocol the
trainee should follow, read from YAML and validated with the file, line and key of every problem.

The bundled scenarios live in ``guifan/training/scenarios/*.yaml``; a company adds or replaces
them with directories of its own (``load_scenarios([dir])``: a scenario with the same ``id``
replaces the bundled one). Phrase categories and clauses named in a scenario are checked against
the rulebook the scenario is played with, so a typo is an error at load time, not a customer who
never reacts.
"""

from __future__ import annotations

import re
import datetime as dt
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from guifan.errors import GuifanError
from guifan.model import Channel
from guifan.rulebook import Problem, Rulebook, default_rulebook, key_problem, read_yaml_lines, validation_problems
from guifan.training.answers import answer_problem

DIFFICULTIES = ("入门", "进阶", "考核")
PASS_SCORE = 80.0  # the default threshold of a passed attempt (a scenario may set its own)
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,63}$")
MAX_SCENARIO_BYTES = 1 << 20


class ScenarioError(GuifanError):
    """A scenario file that is not valid, or no such scenario; the message names file, line and key."""


class Outcome(StrEnum):
    """How an attempt ended: the end state the customer reached, or abandoned on the way."""

    SATISFIED = "satisfied"
    HUNG_UP = "hung_up"  # the customer hung up (or left the chat) angry
    ESCALATED = "escalated"  # handed on: a supervisor's call-back, a complaint escalated
    ENDED = "ended"  # the agent ended the conversation by the protocol (silent call, abuse, wrong number)
    ABANDONED = "abandoned"  # the trainee stopped before an end state (never a scenario's end state)


OUTCOME_LABELS = {
    Outcome.SATISFIED: "客户满意",
    Outcome.HUNG_UP: "客户愤而挂断",
    Outcome.ESCALATED: "已升级处理",
    Outcome.ENDED: "通话按规范结束",
    Outcome.ABANDONED: "中途放弃",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Condition(_Strict):
    """What the agent's latest turn did, as the engine recognizes it. Every key given must hold;
    an empty condition always holds (a fallback)."""

    says: tuple[str, ...] = ()  # one of these phrase categories (the rulebook's acts), by phrase, sound or meaning
    says_all: tuple[str, ...] = ()  # every one of these, in the same turn
    not_says: tuple[str, ...] = ()  # none of these
    # The rules fault the turn on one of these clauses ("S-F" stands for S-F1…S-F11): the customer
    # reacts to forbidden language as QA would flag it.
    faulted: tuple[str, ...] = ()

    def categories(self) -> tuple[str, ...]:
        return (*self.says, *self.says_all, *self.not_says)


class Transition(_Strict):
    when: Condition = Condition()
    goto: str


class Timeout(_Strict):
    """The customer's reaction to silence: after ``seconds`` without a word from anyone."""

    seconds: float = Field(gt=0, le=3600)
    goto: str


class State(_Strict):
    """A customer state: what the customer says on entering it (one variant, chosen by the seed;
    none: silence), how the agent's next turn moves them on, and how silence does."""

    say: tuple[str, ...] = ()
    next: tuple[Transition, ...] = ()
    wait: tuple[Timeout, ...] = ()
    end: Literal[Outcome.SATISFIED, Outcome.HUNG_UP, Outcome.ESCALATED, Outcome.ENDED] | None = None

    @field_validator("say", mode="before")
    @classmethod
    def _one_line(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("say")
    @classmethod
    def _not_blank(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not line.strip() for line in value):
            raise ValueError("客户的话不能为空 (不说话的状态写 say: [])")
        return value


class Step(_Strict):
    """One protocol step of the checklist, in order: done at the first agent turn (from the
    previous step's turn on) that does ``when``, unless the rules fault one of ``clauses``."""

    step: str
    clauses: tuple[str, ...] = Field(min_length=1)
    when: Condition
    wording: str | None = None  # what to say; by default the first standard wording of the first clause
    next_turn: bool = False  # must come after the previous step's turn, not in the same turn

    @field_validator("when")
    @classmethod
    def _says_something(cls, value: Condition) -> Condition:
        if not (value.says or value.says_all) or value.faulted:
            raise ValueError("清单步骤的 when 须给出 says 或 says_all (不能用 faulted)")
        return value


class Examples(_Strict):
    """Scripted trainees: answer lines (``[等待 N]`` lets N seconds pass). The tests play every
    bundled scenario with both: the good one must pass, the bad one must fail on a target clause."""

    good: tuple[str, ...] = Field(min_length=1)
    bad: tuple[str, ...] = Field(min_length=1)


class Scenario(_Strict):
    id: str
    title: str
    clauses: tuple[str, ...] = Field(min_length=1)  # the clauses it trains (its targets)
    difficulty: Literal["入门", "进阶", "考核"]
    channel: Channel
    persona: str
    date: dt.date | None = None  # the day of the call (a holiday: S-A2)
    metadata: dict[str, Any] = {}  # the conversation's metadata (direction: outbound, ticket …)
    start: str
    states: dict[str, State]
    always: tuple[Transition, ...] = ()  # asked before the state's own transitions, in every state
    goal: tuple[Outcome, ...] = (Outcome.SATISFIED,)  # the end states that count as handled
    pass_score: float = Field(default=PASS_SCORE, ge=0, le=100)
    checklist: tuple[Step, ...] = Field(min_length=1)
    examples: Examples | None = None
    source: str = Field(default="", exclude=True)  # the file it was read from

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError("id 只能由小写字母、数字和连字符组成 (2-64 个字符)")
        return value

    def wording(self, step: Step, rulebook: Rulebook) -> str:
        if step.wording:
            return rulebook.fill(step.wording)
        return next(iter(rulebook.wording(step.clauses[0])), rulebook.clause_title(step.clauses[0]))


def clause_matches(clause: str, wanted: Iterable[str]) -> bool:
    """``clause`` is one of ``wanted``, where a letter prefix such as "S-F" stands for its family."""
    return any(clause == w or (not w[-1].isdigit() and clause.startswith(w)) for w in wanted)


def known_categories(rulebook: Rulebook) -> set[str]:
    """The phrase categories a condition may name: the rulebook's phrases and forbidden clauses."""
    return {*rulebook.phrases, *rulebook.forbidden, "profanity"}


def _reference_problems(scenario: Scenario, rulebook: Rulebook) -> list[tuple[tuple, str]]:
    """What the schema cannot see: unknown states, categories and clauses, unusable end states."""
    problems: list[tuple[tuple, str]] = []
    categories = known_categories(rulebook)

    def condition(loc: tuple, when: Condition) -> None:
        for key in ("says", "says_all", "not_says"):
            for n, name in enumerate(getattr(when, key)):
                if name not in categories:
                    problems.append(((*loc, key, n), f"规则手册中没有短语类别 {name!r}"))
        for n, clause in enumerate(when.faulted):
            if not any(clause_matches(c, [clause]) for c in rulebook.clauses):
                problems.append(((*loc, "faulted", n), f"规则手册中没有条款 {clause!r}"))

    def goto(loc: tuple, target: str) -> None:
        if target not in scenario.states:
            problems.append(((*loc, "goto"), f"没有状态 {target!r} (已有: {', '.join(scenario.states)})"))

    for n, clause in enumerate(scenario.clauses):
        if clause not in rulebook.clauses:
            problems.append((("clauses", n), f"规则手册中没有条款 {clause!r}"))
    if scenario.start not in scenario.states:
        problems.append((("start",), f"没有状态 {scenario.start!r}"))
    for n, transition in enumerate(scenario.always):
        condition(("always", n, "when"), transition.when)
        goto(("always", n), transition.goto)
    for name, state in scenario.states.items():
        if state.end is not None and (state.next or state.wait):
            problems.append((("states", name, "end"), "结束状态不能再有 next 或 wait"))
        for n, transition in enumerate(state.next):
            condition(("states", name, "next", n, "when"), transition.when)
            goto(("states", name, "next", n), transition.goto)
        for n, timeout in enumerate(state.wait):
            goto(("states", name, "wait", n), timeout.goto)
    if not any(state.end in scenario.goal for state in scenario.states.values()):
        problems.append((("goal",), "没有哪个结束状态 (end) 属于 goal:练习无法完成"))
    for n, step in enumerate(scenario.checklist):
        condition(("checklist", n, "when"), step.when)
        for m, clause in enumerate(step.clauses):
            if clause not in rulebook.clauses:
                problems.append((("checklist", n, "clauses", m), f"规则手册中没有条款 {clause!r}"))
    if scenario.examples is not None:
        for side in ("good", "bad"):
            for n, line in enumerate(getattr(scenario.examples, side)):
                problem = answer_problem(line)
                if problem:
                    problems.append((("examples", side, n), problem))
    return problems


def read_scenario(path: Path | str, rulebook: Rulebook, text: str | None = None) -> Scenario:
    """One scenario file, validated against the schema and the rulebook; every problem is reported
    together, each with its line and key."""
    name = str(path)
    if text is None:
        try:
            if Path(path).stat().st_size > MAX_SCENARIO_BYTES:
                raise ScenarioError(f"{name}: 场景文件过大 (最多 {MAX_SCENARIO_BYTES // 1024} KB)")
        except OSError:
            raise ScenarioError(f"{name}: 文件不存在") from None
    data, lines = read_yaml_lines(path, text, error=ScenarioError)
    files = [(name, lines)]
    problems: list[Problem] = []
    scenario = None
    try:
        scenario = Scenario.model_validate({**data, "source": name})
    except ValidationError as exc:
        problems = validation_problems(exc, files, root=Scenario)
    if scenario is not None:
        problems = [key_problem(loc, message, files) for loc, message in _reference_problems(scenario, rulebook)]
    if problems:
        raise ScenarioError("\n".join([f"{name}: 场景校验失败", *(text for _, text in sorted(problems))]))
    return scenario


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def bundled_folder() -> Path:
    return Path(str(resources.files("guifan.training").joinpath("scenarios")))


def load_scenarios(extra: Iterable[Path | str] = (), rulebook: Rulebook | None = None) -> dict[str, Scenario]:
    """The bundled scenarios, then each extra directory's (or file's): a scenario with an id seen
    before replaces it. Two files of one directory with the same id are an error."""
    rulebook = rulebook or default_rulebook()
    scenarios: dict[str, Scenario] = {}
    errors: list[str] = []
    for folder in (bundled_folder(), *(Path(p) for p in extra)):
        if not folder.exists():
            errors.append(f"{folder}: 场景目录不存在")
            continue
        seen: dict[str, str] = {}
        for path in _files(folder) if folder.is_dir() else [folder]:
            try:
                scenario = read_scenario(path, rulebook)
            except ScenarioError as exc:
                errors.append(str(exc))
                continue
            if scenario.id in seen:
                errors.append(f"{path}: 场景 id {scenario.id!r} 与 {seen[scenario.id]} 重复")
                continue
            seen[scenario.id] = str(path)
            scenarios[scenario.id] = scenario
    if errors:
        raise ScenarioError("\n".join(errors))
    return dict(sorted(scenarios.items(), key=lambda item: (DIFFICULTIES.index(item[1].difficulty), item[0])))
