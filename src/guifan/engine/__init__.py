"""The engine: runs the registered rules over conversations and returns findings."""

from __future__ import annotations

from dataclasses import replace
from typing import Iterable, Iterator

from guifan import text as textnorm
from guifan.cache import cache_dir, package_stamp
from guifan.engine.context import CheckContext, Recognizer
from guifan.engine.hearing import qualify
from guifan.engine.matcher import PhraseMatcher
from guifan.engine.judge import ModelJudge
from guifan.engine.meaning import MeaningModel
from guifan.engine.registry import Rule, all_rules, get_rule, register, select_rules
from guifan.model import Conversation, Finding, Severity
from guifan.rulebook import PhraseEntry, Rulebook, default_rulebook

__all__ = ["Engine", "is_text_free", "Rule", "register", "all_rules", "get_rule", "select_rules", "CheckContext"]


def build_matcher(rulebook: Rulebook) -> PhraseMatcher:
    categories = dict(rulebook.phrases)
    for clause, forbidden in rulebook.forbidden.items():
        categories[clause] = forbidden.phrases
    categories["profanity"] = rulebook.profanity
    categories["jargon"] = tuple(PhraseEntry(text=term) for term in rulebook.company.jargon)
    settings = rulebook.settings
    aliases = {textnorm.basic(k): [textnorm.basic(w) for w in v] for k, v in settings.aliases.items()}
    return PhraseMatcher(
        categories,
        sound_categories=settings.homophone_categories,
        aliases=aliases,
        vocatives=[textnorm.basic(v) for v in settings.vocatives],
        # Named for this machine's code too: a rulebook can come from another machine (a cluster's driver).
        cache=cache_dir() / f"phrases-{rulebook.fingerprint}-{package_stamp()}.pickle" if rulebook.fingerprint else None,
    )


def is_text_free(conversation: Conversation) -> bool:
    """A recording read without speech recognition: turns with times and voice, but no words."""
    return conversation.audio is not None and not conversation.audio.transcribed


class Engine:
    """Checks conversations against a rulebook with a chosen set of rules."""

    def __init__(
        self,
        rulebook: Rulebook | None = None,
        select: Iterable[str] | None = None,
        ignore: Iterable[str] | None = None,
        judge: ModelJudge | None = None,
    ):
        self.rulebook = rulebook or default_rulebook()
        self.matcher = build_matcher(self.rulebook)
        self.meaning = MeaningModel(self.rulebook) if self.rulebook.semantic.backend != "off" else None
        self.recognizer = Recognizer(self.matcher, self.meaning, judge)
        chosen = select_rules(list(select or []), list(ignore or []))
        overrides = self.rulebook.rules
        self.rules: list[Rule] = []
        for cls in chosen:
            override = overrides.get(cls.code)
            if override is not None and override.enabled is False:
                continue
            self.rules.append(cls(self.rulebook))
        # Per rule, resolved once: the phrase categories it needs, its channels (rulebook override
        # or the rule's own) and an overriding severity.
        self._plan = []
        for rule in self.rules:
            override = overrides.get(rule.code)
            channels = frozenset(override.channels) if override and override.channels else rule.channels
            severity = override.severity if override else None
            self._plan.append((rule, rule.required_categories(), channels, severity))
        # Skipping rules whose trigger phrases are absent is an optimization; tests turn it off to
        # prove that it changes no result.
        self.skip_untriggered = True

    def context(self, conversation: Conversation) -> CheckContext:
        return CheckContext(conversation, self.rulebook, self.matcher, self.recognizer)

    def check(self, conversation: Conversation) -> list[Finding]:
        return self.run(self.context(conversation))

    def skipped(self, conversation: Conversation) -> list[Rule]:
        """The chosen rules that cannot run on this conversation because it has no words: a
        recording checked without speech recognition."""
        if not is_text_free(conversation):
            return []
        return [rule for rule, _, channels, _ in self._plan if rule.needs_text and conversation.channel in channels]

    def run(self, ctx: CheckContext) -> list[Finding]:
        """The findings of a prepared context (callers that also read the context's analyses,
        such as complaint detection, prepare it once)."""
        findings = []
        for rule, severity in self.planned(ctx):
            findings.extend(self.findings_of(rule, severity, ctx))
        findings.sort(key=lambda f: (f.turn if f.turn is not None else 1 << 30, f.rule))
        return findings

    def planned(self, ctx: CheckContext, *, every: bool = False) -> Iterator[tuple[Rule, Severity | None]]:
        """The chosen rules that run on this context (channel, times, words), each with the
        rulebook's overriding severity; ``every``: also those whose trigger phrases are absent."""
        present = ctx.present_categories
        channel, timed = ctx.conversation.channel, ctx.timed
        text_free = is_text_free(ctx.conversation)
        skip = self.skip_untriggered and not every
        for rule, required, channels, severity in self._plan:
            if required and skip and present.isdisjoint(required):
                continue
            if channel not in channels or (rule.needs_timing and not timed) or (rule.needs_text and text_free):
                continue
            yield rule, severity

    def findings_of(self, rule: Rule, severity: Severity | None, ctx: CheckContext) -> list[Finding]:
        """One rule's findings on a context, as ``run`` reports them (doubt of recognized speech,
        the rulebook's severity)."""
        found = list(rule.check(ctx))
        if not found:
            return found
        if ctx.recognized and rule.needs_text:
            found = qualify(found, ctx.conversation, ctx.doubtful, self.rulebook.review.confidence_below)
        return found if severity is None else [replace(f, severity=severity) for f in found]
