"""The QA form: a score per conversation and per category, from the findings.

Each category of the rulebook's scorecard starts at its weight; every finding deducts its rule's
deduction (by severity unless the rulebook overrides it) from its rule's category, never below
zero; any fatal finding zeroes the whole score.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from guifan.engine import Engine, all_rules
from guifan.errors import InputError
from guifan.model import Conversation, Finding, Severity
from guifan.rulebook import Rulebook


@dataclass(frozen=True, slots=True)
class CategoryScore:
    key: str
    name: str
    weight: float
    score: float
    findings: int


@dataclass(frozen=True, slots=True)
class Score:
    total: float
    fatal: bool
    categories: tuple[CategoryScore, ...]


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One checked conversation: its findings, its score and the rulebook it was checked with."""

    conversation: Conversation
    findings: tuple[Finding, ...]
    score: Score
    rulebook: str
    # Rules not run because the conversation has no words (a recording without speech recognition).
    skipped: tuple[str, ...] = ()


@dataclass
class BatchSummary:
    read: int = 0
    checked: int = 0
    failed: int = 0
    errors: list[InputError] = field(default_factory=list)

    def count(self, outcome: object) -> None:
        """One conversation of the batch done: an InputError failed (and is kept), else checked."""
        self.read += 1
        if isinstance(outcome, InputError):
            self.failed += 1
            self.errors.append(outcome)
        else:
            self.checked += 1


@dataclass(frozen=True, slots=True)
class ResultStats:
    """What a batch's figures need of one checked conversation: a few numbers, so that a batch of
    any size is summed up as it goes without holding its results (see ``BatchTotals``)."""

    total: float
    fatal: bool
    rules: tuple[str, ...]  # the rule of each finding
    skipped: tuple[str, ...] = ()
    # A recording transcribed in this run: (its seconds, its turns the recognizer wrote no words for).
    heard: tuple[float, int] | None = None

    @classmethod
    def of(cls, result: CheckResult, fresh: bool = True) -> "ResultStats":
        """``fresh``: checked in this run (not resumed from a state file): its recognition counts."""
        audio = result.conversation.audio
        heard = None
        if fresh and audio is not None and audio.transcribed:
            heard = (audio.duration, sum(t.unrecognized for t in result.conversation.turns))
        return cls(result.score.total, result.score.fatal, tuple(f.rule for f in result.findings), result.skipped, heard)


class BatchTotals:
    """The figures of a batch's checked conversations, added up one ``ResultStats`` at a time."""

    def __init__(self) -> None:
        self.conversations = 0
        self.findings = 0
        self.fatal = 0
        self.flagged = 0  # conversations with at least one finding
        self.score_sum = 0.0
        self.rules: Counter[str] = Counter()
        self.skipped = 0  # conversations some rules were skipped on (recordings without ASR)
        self.skipped_rules: set[str] = set()
        self.heard = 0  # recordings transcribed in this run
        self.heard_seconds = 0.0
        self.unheard_turns = 0

    @classmethod
    def of(cls, results: Iterable[CheckResult]) -> "BatchTotals":
        totals = cls()
        for result in results:
            totals.add(ResultStats.of(result))
        return totals

    def add(self, stats: ResultStats) -> None:
        self.conversations += 1
        self.findings += len(stats.rules)
        self.fatal += stats.fatal
        self.flagged += bool(stats.rules)
        self.score_sum += stats.total
        self.rules.update(stats.rules)
        if stats.skipped:
            self.skipped += 1
            self.skipped_rules.update(stats.skipped)
        if stats.heard is not None:
            self.heard += 1
            self.heard_seconds += stats.heard[0]
            self.unheard_turns += stats.heard[1]

    @property
    def average(self) -> float | None:
        return round(self.score_sum / self.conversations, 1) if self.conversations else None

    def top_rules(self, limit: int = 10) -> list[tuple[str, int]]:
        """(code, count) of the most frequent rules, most frequent first."""
        return sorted(self.rules.items(), key=lambda item: (-item[1], item[0]))[:limit]


class Scorer:
    def __init__(self, rulebook: Rulebook):
        self.rulebook = rulebook
        card = rulebook.scorecard
        self._category = {code: cls.category for code, cls in all_rules().items()}
        self._deduction: dict[str, float] = {}
        for code, override in rulebook.rules.items():
            if override.category:
                self._category[code] = override.category
            if override.deduction is not None:
                self._deduction[code] = override.deduction
        self._card = card

    def category_of(self, rule: str) -> str:
        return self._category.get(rule, "courtesy")

    def deduction_of(self, finding: Finding) -> float:
        if finding.rule in self._deduction:
            return self._deduction[finding.rule]
        return self._card.deductions.get(finding.severity, 0.0)

    def needs_review(self, finding: Finding) -> bool:
        """待复核: a finding less sure than the rulebook's review threshold."""
        return finding.confidence < self.rulebook.review.confidence_below

    def counts(self, finding: Finding) -> bool:
        """Whether a finding deducts before anyone has reviewed it."""
        return self.rulebook.review.count_in_score or not self.needs_review(finding)

    def score(self, findings: Iterable[Finding], reviewed: bool = False) -> Score:
        """The score of ``findings``; ``reviewed``: a person has judged each of them (all count)."""
        lost: dict[str, float] = {}
        counts: dict[str, int] = {}
        fatal = False
        for finding in findings:
            if not reviewed and not self.counts(finding):
                continue
            fatal = fatal or finding.severity is Severity.FATAL
            key = self.category_of(finding.rule)
            lost[key] = lost.get(key, 0.0) + self.deduction_of(finding)
            counts[key] = counts.get(key, 0) + 1
        categories = tuple(
            CategoryScore(key, cat.name, cat.weight, max(0.0, cat.weight - lost.get(key, 0.0)), counts.get(key, 0))
            for key, cat in self._card.categories.items()
        )
        total = 0.0 if fatal else round(sum(c.score for c in categories), 2)
        return Score(total=total, fatal=fatal, categories=categories)


def check_error(conversation: Conversation, exc: Exception) -> InputError:
    """A conversation the rules failed on; the message is cut short, since an exception may carry
    the whole transcript."""
    detail = repr(exc)
    if len(detail) > 200:
        detail = detail[:199] + "…"
    return InputError(conversation.source or conversation.id, f"检查对话 {conversation.id} 时出错: {detail}")


class Checker:
    """Engine plus scorer: what the CLI, the web app and the benchmarks call."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.scorer = Scorer(engine.rulebook)

    def check(self, conversation: Conversation) -> CheckResult:
        return self.result(conversation, tuple(self.engine.check(conversation)))

    def result(self, conversation: Conversation, findings: tuple[Finding, ...]) -> CheckResult:
        """The scored result of findings already made (now, or in an earlier run being resumed)."""
        skipped = tuple(rule.code for rule in self.engine.skipped(conversation))
        return CheckResult(conversation, findings, self.scorer.score(findings), self.engine.rulebook.origin, skipped)

    def check_all(
        self, items: Iterable[Conversation | InputError], summary: BatchSummary | None = None
    ) -> Iterator[CheckResult]:
        """Check every readable conversation; count and keep every error in ``summary``."""
        summary = summary if summary is not None else BatchSummary()
        for item in items:
            summary.read += 1
            if isinstance(item, InputError):
                summary.failed += 1
                summary.errors.append(item)
                continue
            try:
                result = self.check(item)
            except Exception as exc:  # a rule bug must not lose the rest of the batch
                summary.failed += 1
                summary.errors.append(check_error(item, exc))
                continue
            summary.checked += 1
            yield result
