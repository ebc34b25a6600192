"""Agreement with gold labels: precision, recall and F1 of the checker per clause.

Gold labels are JSONL, one dialogue per line (the format of the JDDC labels, see
``docs/evaluation.md``)::

    {"id": "jddc-…", "violations": {"S-A9": [11], "S-F10": [3, 7]}, "not_applicable": ["S-D1"]}

``violations`` maps a clause to the 0-based indexes of the turns where it is broken; a labelled
clause in neither field applies and is respected. Per dialogue, "the checker flagged the clause"
is compared with "the labels list a violation", over the dialogues where the clause applies. The
forbidden-language clauses (S-F1…S-F10) are also compared per agent turn. Complaint detection,
which drives the D family, is scored against S-D1's applicability.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from guifan.engine import Engine
from guifan.errors import InputError
from guifan.model import Conversation, Finding, Role

FORBIDDEN = tuple(f"S-F{i}" for i in range(1, 10))
FORBIDDEN_GROUP = "S-F1…F9"
# The clauses the labels cover, in report order; FORBIDDEN_GROUP is S-F1…S-F9 taken together.
LABELLED = ("S-A9", "S-A11", "S-D1", "S-E1", "S-E2", FORBIDDEN_GROUP, *FORBIDDEN, "S-F10", "S-G1")
PER_TURN = (FORBIDDEN_GROUP, *FORBIDDEN, "S-F10")
# Macro-F1 averages the clauses once each: the group stands for S-F1…S-F9.
MACRO = ("S-A9", "S-A11", "S-D1", "S-E1", "S-E2", FORBIDDEN_GROUP, "S-F10", "S-G1")
COMPLAINT = "complaint"


def _members(clause: str) -> tuple[str, ...]:
    return FORBIDDEN if clause == FORBIDDEN_GROUP else (clause,)


@dataclass(frozen=True, slots=True)
class GoldLabel:
    id: str
    violations: dict[str, frozenset[int]]
    not_applicable: frozenset[str]
    line: int

    def applies(self, clause: str) -> bool:
        return not any(member in self.not_applicable for member in _members(clause))

    def turns(self, clause: str) -> frozenset[int]:
        return frozenset().union(*(self.violations.get(m, frozenset()) for m in _members(clause)))


def read_labels(path: str | Path) -> dict[str, GoldLabel]:
    """Gold labels by dialogue id. Raises InputError naming the file, line and field at fault."""
    path = Path(path)
    name = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(name, f"无法读取标注文件: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(name, "标注文件不是 UTF-8 编码", line=line) from None
    labels: dict[str, GoldLabel] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        label = _parse_label(line, name, number)
        if label.id in labels:
            raise InputError(name, f"对话 {label.id} 重复标注 (首次在第 {labels[label.id].line} 行)", number, "id")
        labels[label.id] = label
    if not labels:
        raise InputError(name, "标注文件为空")
    return labels


def _parse_label(line: str, name: str, number: int) -> GoldLabel:
    try:
        item = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(name, f"JSON 格式错误: {exc.msg} (第 {exc.colno} 列)", number) from None
    if not isinstance(item, dict):
        raise InputError(name, "每行应是一个 JSON 对象", number)
    dialogue = item.get("id")
    if not isinstance(dialogue, str) or not dialogue:
        raise InputError(name, "缺少对话 id 或不是字符串", number, "id")
    violations = item.get("violations", {})
    if not isinstance(violations, dict):
        raise InputError(name, "violations 应是 条款 → 轮次列表 的对象", number, "violations")
    parsed: dict[str, frozenset[int]] = {}
    for clause, turns in violations.items():
        where = f"violations.{clause}"
        if not isinstance(turns, list) or not all(isinstance(t, int) and t >= 0 for t in turns):
            raise InputError(name, "应是非负整数 (从 0 起的轮次序号) 的列表", number, where)
        parsed[clause] = frozenset(turns)
    not_applicable = item.get("not_applicable", [])
    if not isinstance(not_applicable, list) or not all(isinstance(c, str) for c in not_applicable):
        raise InputError(name, "应是条款编号的列表", number, "not_applicable")
    return GoldLabel(dialogue, parsed, frozenset(not_applicable), number)


@dataclass(frozen=True, slots=True)
class Case:
    """One disagreement (or agreement) between the checker and the labels, for --explain."""

    dialogue: str
    turn: int | None
    quote: str
    rules: tuple[str, ...] = ()  # the rules that fired (empty for a miss)
    message: str = ""

    def to_dict(self) -> dict:
        return {"dialogue": self.dialogue, "turn": self.turn, "quote": self.quote, "rules": list(self.rules),
                "message": self.message}


@dataclass(slots=True)
class Score:
    """Counts for one clause at one level (dialogue or turn) and the cases behind the errors."""

    clause: str
    level: str  # "dialogue" or "turn"
    units: int = 0  # dialogues (or agent turns) where the clause applies
    tp: int = 0
    fp: int = 0
    fn: int = 0
    misses: list[Case] = field(default_factory=list)
    false_alarms: list[Case] = field(default_factory=list)

    @property
    def support(self) -> int:
        """Gold violations: dialogues (or turns) the labels mark."""
        return self.tp + self.fn

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    @property
    def f1(self) -> float | None:
        """None when there is nothing to find and nothing was flagged: F1 is undefined, not perfect."""
        denominator = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / denominator if denominator else None

    def count(self, gold: bool, predicted: bool, case: Case) -> None:
        self.units += 1
        if gold and predicted:
            self.tp += 1
        elif predicted:
            self.fp += 1
            self.false_alarms.append(case)
        elif gold:
            self.fn += 1
            self.misses.append(case)

    def to_dict(self, explain: bool) -> dict:
        row = {
            "clause": self.clause, "level": self.level, "units": self.units, "support": self.support,
            "tp": self.tp, "fp": self.fp, "fn": self.fn,
            "precision": self.precision, "recall": self.recall, "f1": self.f1,
        }
        if explain:
            row["misses"] = [c.to_dict() for c in self.misses]
            row["false_alarms"] = [c.to_dict() for c in self.false_alarms]
        return row


@dataclass(slots=True)
class Evaluation:
    dialogue: dict[str, Score]
    turn: dict[str, Score]
    complaint: Score
    labelled: int = 0  # dialogues both read and labelled
    unlabelled: int = 0  # dialogues read without a label (e.g. a held-back half)
    missing: list[str] = field(default_factory=list)  # labelled ids absent from the corpus
    errors: list[InputError] = field(default_factory=list)

    @property
    def macro_f1(self) -> float | None:
        """Mean per-dialogue F1 over the clauses of MACRO whose F1 is defined."""
        scores = [self.dialogue[c].f1 for c in MACRO if self.dialogue[c].f1 is not None]
        return sum(scores) / len(scores) if scores else None

    def weak_clauses(self, min_support: int = 3, floor: float = 0.85) -> list[str]:
        """Clauses with at least ``min_support`` gold violations and F1 below ``floor``, at any level."""
        weak = []
        for level in (self.dialogue, self.turn):
            for clause, score in level.items():
                if score.support >= min_support and (score.f1 or 0.0) < floor and clause not in weak:
                    weak.append(clause)
        return weak

    def to_dict(self, explain: bool = False) -> dict:
        return {
            "labelled": self.labelled,
            "unlabelled": self.unlabelled,
            "missing": self.missing,
            "errors": [e.to_dict() for e in self.errors],
            "macro_f1": self.macro_f1,
            "dialogue": [s.to_dict(explain) for s in self.dialogue.values()],
            "turn": [s.to_dict(explain) for s in self.turn.values()],
            "complaint": self.complaint.to_dict(explain),
        }


def evaluate(engine: Engine, items: Iterable[Conversation | InputError], labels: dict[str, GoldLabel],
             include_review: bool = False) -> Evaluation:
    """Agreement with the labels. A finding below the rulebook's review threshold (待复核) is a
    candidate for a reviewer, not a verdict: it is left out unless ``include_review``."""
    result = Evaluation(
        dialogue={c: Score(c, "dialogue") for c in LABELLED},
        turn={c: Score(c, "turn") for c in PER_TURN},
        complaint=Score(COMPLAINT, "dialogue"),
    )
    seen: set[str] = set()
    for item in items:
        if isinstance(item, InputError):
            result.errors.append(item)
            continue
        label = labels.get(item.id)
        if label is None:
            result.unlabelled += 1
            continue
        seen.add(item.id)
        result.labelled += 1
        _compare(engine, item, label, result, include_review)
    result.missing = [i for i in labels if i not in seen]
    return result


def _compare(engine: Engine, conversation: Conversation, label: GoldLabel, result: Evaluation,
             include_review: bool) -> None:
    ctx = engine.context(conversation)
    threshold = engine.rulebook.review.confidence_below
    findings = [f for f in engine.run(ctx) if include_review or f.confidence >= threshold]
    turns = conversation.turns

    def quote(index: int | None) -> str:
        return turns[index].text if index is not None and 0 <= index < len(turns) else ""

    def fired(clause: str) -> list[Finding]:
        members = _members(clause)
        return [f for f in findings if any(m in f.clauses for m in members)]

    def case(index: int | None, found: list[Finding]) -> Case:
        if found:
            first = found[0]
            return Case(conversation.id, first.turn, first.quote or quote(first.turn),
                        tuple(dict.fromkeys(f.rule for f in found)), first.message)
        return Case(conversation.id, index, quote(index))

    for clause, score in result.dialogue.items():
        if not label.applies(clause):
            continue
        gold = label.turns(clause)
        found = fired(clause)
        last_gold = max(gold) if gold else None
        score.count(bool(gold), bool(found), case(last_gold, found))
    agent_turns = [i for i, t in enumerate(turns) if t.role is Role.AGENT]
    for clause, score in result.turn.items():
        if not label.applies(clause):
            continue
        gold = label.turns(clause)
        by_turn: dict[int, list[Finding]] = {}
        for finding in fired(clause):
            if finding.turn is not None:
                by_turn.setdefault(finding.turn, []).append(finding)
        for index in sorted(set(agent_turns) | gold | set(by_turn)):
            found = by_turn.get(index, [])
            score.count(index in gold, bool(found), case(index, found))
    complained = ctx.complaint_turns
    if complained:
        detected = Case(conversation.id, complained[0].index, complained[0].text)
    else:  # a missed complaint: show what the customer said
        said = " | ".join(t.text.strip()[:40] for t in turns if t.role is Role.CUSTOMER)
        detected = Case(conversation.id, None, said)
    result.complaint.count(label.applies("S-D1"), bool(complained), detected)


def iter_cases(evaluation: Evaluation) -> Iterator[tuple[Score, str, Case]]:
    """Every miss and false alarm, clause by clause: (score, "miss" | "false_alarm", case)."""
    for level in (evaluation.dialogue, evaluation.turn):
        for score in level.values():
            for c in score.misses:
                yield score, "miss", c
            for c in score.false_alarms:
                yield score, "false_alarm", c
    for c in evaluation.complaint.misses:
        yield evaluation.complaint, "miss", c
    for c in evaluation.complaint.false_alarms:
        yield evaluation.complaint, "false_alarm", c
