"""Rules and their registry, keyed by a stable code.

A rule is a class with its documentation as data (what it checks, why, the clauses, bad and good
examples) and a ``check`` method that yields findings. The examples are conversations written in
the plain-text chat format (``客服: …`` / ``客户: …``, optional ``[mm:ss-mm:ss]`` times and
``# key: value`` header lines); the test suite and the rule reference both run them.
"""

from __future__ import annotations

import re
from typing import ClassVar, Iterable, Iterator

from guifan.engine.context import Act, CheckContext, TurnView
from guifan.engine.hints import Hint
from guifan.engine.matcher import Hit
from guifan import rulebook
from guifan.model import Channel, Evidence, Finding, Severity

_CODE = re.compile(r"^[A-Z]{3}\d{3}$")
_NAME = re.compile(r"^[a-z][a-z0-9-]+$")
QUOTE_LIMIT = 60
MIN_CONFIDENCE = 0.05


class Rule:
    code: ClassVar[str]
    name: ClassVar[str]  # kebab-case, names the anti-pattern
    clauses: ClassVar[tuple[str, ...]]
    severity: ClassVar[Severity] = Severity.MAJOR
    category: ClassVar[str]  # scorecard category key
    what: ClassVar[str]  # 检查什么 (Chinese, shown to users)
    why: ClassVar[str]  # 为什么 (Chinese)
    bad: ClassVar[tuple[str, ...]]  # example conversations that must produce a finding of this rule
    good: ClassVar[tuple[str, ...]]  # example conversations that must not
    channels: ClassVar[frozenset[Channel]] = frozenset(Channel)
    needs_timing: ClassVar[bool] = False  # silent unless every turn has start/end times
    # Reads what was said; skipped on recordings checked without speech recognition (the engine
    # reports which). Timing and voice rules read only times and audio measurements.
    needs_text: ClassVar[bool] = True
    # Phrase categories of which at least one must occur in the conversation for the rule to have
    # anything to check; the engine skips the rule otherwise (most situations never arise).
    requires: ClassVar[tuple[str, ...]] = ()
    # What the rule's findings rest on unless a finding says otherwise (meaning, sound …).
    evidence: ClassVar[Evidence] = Evidence.PHRASE
    # The meaning stage's acts whose presence makes a finding of this rule (must-not acts): a
    # reviewer's rejected finding is a near miss of them, a manual finding an example.
    acts: ClassVar[tuple[str, ...]] = ()
    # The live hints the rule gives (guifan.engine.hints): asked of the rule itself through probes.
    hints: ClassVar[tuple[Hint, ...]] = ()

    def __init__(self, rulebook) -> None:
        self.rulebook = rulebook
        self._suggestions: dict[str | None, str] = {}

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        raise NotImplementedError

    def required_categories(self) -> frozenset[str]:
        return frozenset(self.requires)

    def hint_step(self, hint: Hint, ctx: CheckContext, found: list[Finding]) -> int | None:
        """Which step of ``hint`` is due in the probed context ``ctx`` (None: the hint is not due).
        ``found``: this rule's findings of the hint's clause on the probe's turns. By default the
        hint is due (its first step) exactly when there are any: the rule would fault the agent."""
        return 0 if found else None

    def suggestion(self, clause: str | None = None) -> str:
        try:
            return self._suggestions[clause]
        except KeyError:
            wording = self.rulebook.wording(clause or self.clauses[0])
            text = self._suggestions[clause] = " / ".join(wording[:2])
            return text

    def absence_confidence(self, views: Iterable[TurnView], *categories: str) -> float:
        """How sure a finding about the acts' absence is: less sure when the meaning stage nearly
        took words of the turns searched for them (``TurnView.doubt``)."""
        return max(MIN_CONFIDENCE, 1.0 - max((v.doubt(*categories) for v in views), default=0.0))

    def meant_finding(self, view: TurnView, act: Act, label: str) -> Finding:
        """A must-not act found by meaning or by the model judge, saying which and why."""
        quote = view.text[act.span[0]:act.span[1]]
        if act.evidence is Evidence.MODEL:
            why = f"模型判定:{act.note}" if act.note else "模型判定属于此类"
        else:
            why = f"语义接近「{act.note}」"
        return self.finding(view, f"客服的话语近似{label}:「{quote}」({why})", span=act.span,
                            confidence=act.confidence, evidence=act.evidence)

    def finding(
        self,
        view: TurnView | None,
        message: str,
        hit: Hit | None = None,
        *,
        span: tuple[int, int] | None = None,
        clause: str | None = None,
        suggestion: str | None = None,
        confidence: float = 1.0,
        evidence: Evidence | None = None,
    ) -> Finding:
        """A finding at a turn (or the whole conversation when ``view`` is None).

        The quote is the hit (or the explicit ``span``) in the original text, else the whole turn.
        """
        quote = ""
        if view is not None:
            if hit is not None:
                span = view.span(hit)
            if span is not None:
                quote = view.text[span[0]:span[1]]
            else:
                quote = view.text.strip()
                if len(quote) > QUOTE_LIMIT:
                    quote = quote[:QUOTE_LIMIT] + "…"
        return Finding(
            rule=self.code,
            clauses=(clause,) if clause else self.clauses,
            severity=self.severity,
            turn=view.index if view is not None else None,
            span=span,
            quote=quote,
            message=message,
            suggestion=suggestion if suggestion is not None else self.suggestion(clause),
            confidence=confidence,
            evidence=evidence or self.evidence,
        )


_REGISTRY: dict[str, type[Rule]] = {}


def register(cls: type[Rule]) -> type[Rule]:
    """Class decorator: add a rule to the registry, checking its declaration."""
    for attr in ("code", "name", "clauses", "category", "what", "why", "bad", "good"):
        if not hasattr(cls, attr):
            raise TypeError(f"{cls.__name__} lacks {attr}")
    if not _CODE.match(cls.code):
        raise TypeError(f"{cls.__name__}: code {cls.code!r} must look like ABC123")
    if not _NAME.match(cls.name):
        raise TypeError(f"{cls.__name__}: name {cls.name!r} must be kebab-case")
    if cls.code in _REGISTRY and _REGISTRY[cls.code] is not cls:
        raise TypeError(f"rule code {cls.code} registered twice ({_REGISTRY[cls.code].__name__}, {cls.__name__})")
    if not cls.bad or not cls.good:
        raise TypeError(f"{cls.code}: every rule documents at least one bad and one good example")
    names = [hint.name for hint in cls.hints]
    if len(set(names)) != len(names):
        raise TypeError(f"{cls.code}: two hints share a key")
    for hint in cls.hints:
        if hint.clause not in cls.clauses:
            raise TypeError(f"{cls.code}: hint clause {hint.clause} is not one of the rule's clauses")
    _REGISTRY[cls.code] = cls
    return cls


def all_rules() -> dict[str, type[Rule]]:
    """Every registered rule, by code, in code order."""
    import guifan.rules  # noqa: F401  (importing the families registers them)

    return dict(sorted(_REGISTRY.items()))


def _catalogue() -> dict[str, str]:
    return {code: cls.name for code, cls in all_rules().items()}


rulebook.rule_catalogue = _catalogue  # overrides name rules by code: checked when they are loaded


def get_rule(code: str) -> type[Rule]:
    rules = all_rules()
    key = code.strip().upper()
    if key in rules:
        return rules[key]
    by_name = {cls.name: cls for cls in rules.values()}
    if code in by_name:
        return by_name[code]
    raise KeyError(code)


def select_rules(select: list[str] | None, ignore: list[str] | None) -> list[type[Rule]]:
    """Rules chosen by code, code prefix, name or clause id (``S-F`` selects S-F1…S-F11)."""
    rules = list(all_rules().values())

    def matches(cls: type[Rule], selector: str) -> bool:
        s = selector.strip()
        up = s.upper()
        return (
            cls.code.startswith(up)
            or cls.name == s
            or any(c == up or (up.startswith("S-") and _clause_prefix(c, up)) for c in cls.clauses)
        )

    for selector in (select or []) + (ignore or []):
        if not any(matches(cls, selector) for cls in rules):
            raise KeyError(selector)
    if select:
        rules = [cls for cls in rules if any(matches(cls, s) for s in select)]
    if ignore:
        rules = [cls for cls in rules if not any(matches(cls, s) for s in ignore)]
    return rules


def _clause_prefix(clause: str, prefix: str) -> bool:
    """'S-F' matches S-F1 and S-F10; 'S-F1' matches S-F1 only, not S-F10."""
    if clause == prefix:
        return True
    return clause.startswith(prefix) and not prefix[-1].isdigit()
