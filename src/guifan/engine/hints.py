"""Live hints, as the rules declare them.

A rule says which hints it gives (``Rule.hints``): what the agent should say next, what the words
just said or typed break, what a wait calls for. A declaration is data (kind, clause, the Chinese
instruction, when it shows and what clears it, the standard wording to offer); whether a hint is due
is never decided by a second copy of the rule's logic but by asking the rule itself about a
*probe*: the conversation so far plus hypothetical agent words (``Probe``). A live client
(``guifan.assist``) builds the probes; the rule reference (``guifan docs``, ``guifan rule``) prints
the declarations.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class HintKind(StrEnum):
    NEXT_STEP = "next_step"  # what to say next
    WARNING = "warning"  # what was just said or typed breaks a clause
    TIMER = "timer"  # a wait ran out (pushed without a message from the client)
    REMINDER = "reminder"  # a checklist (the closing)


class Probe(StrEnum):
    """How a hint's rule is asked whether the hint is due."""

    # The agent's next turns say nothing to the point (neutral words): due when the rule then faults
    # one of them (an apology the agent still owes, a thanks still unanswered …).
    NEXT = "next"
    # The agent's latest words (a draft before sending, a streaming partial, a sent turn): the rule's
    # findings on them are warnings.
    SAID = "said"
    # The agent speaks again now: due when the rule faults that turn for the wait so far (timers).
    WAIT = "wait"
    # The agent closes now: due when the rule faults the closing as it stands (the checklist).
    CLOSE = "close"
    # Live audio: the agent's measured speech of the last ``voice.rate_window_seconds`` as one turn:
    # due when the rule faults that turn (the speech rate drifting out of range).
    WINDOW = "window"


# The metadata key of a WINDOW probe's conversation: how many seconds its one turn stands for.
WINDOW_SECONDS = "live_window_seconds"

KIND_NAMES = {
    HintKind.NEXT_STEP: "下一步",
    HintKind.WARNING: "警示",
    HintKind.TIMER: "计时",
    HintKind.REMINDER: "清单",
}


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a hint: the instruction and the standard wording to offer.

    ``wording`` refers to the rulebook's clauses: ``"S-C8"`` (all of its wording) or ``"S-C8#1"``
    (its second). Empty: the suggestion of the rule's finding on the probe (already the fitting
    wording, e.g. 王先生/女士 for the surname heard), else the hint's clause's wording.
    """

    message: str
    wording: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Hint:
    kind: HintKind
    clause: str  # one of the rule's clauses: the probe's findings of this clause make it due
    steps: tuple[Step, ...]  # one for most hints; protocols (S-C8, S-C9 …) have several (Rule.hint_step)
    when: str  # 何时提示 (Chinese, for the rule reference)
    clears: str  # 何时消失 (Chinese, for the reference and the hint's ``expires``)
    probe: Probe = Probe.NEXT
    # What a new turn must hold for the hint to be worth asking about again (besides being due
    # already): phrase categories, or "customer" / "agent" for any turn of that side; empty: any turn.
    # For a warning (``said``): the phrase categories the words must hold for the rule to fault them
    # by phrase (the meaning stage, when on, may fault them in other words).
    triggers: tuple[str, ...] = ()
    after: tuple[str, ...] = ()  # clauses whose due hints go first (S-D2/S-D3 after the apology, S-D1)
    wait: str | None = None  # timers: the ``settings`` attribute holding the seconds of the wait
    say: str | None = None  # the probe's words: a wording reference ("S-A1#0") instead of neutral words
    # Shown only while one of these phrase categories occurs in the last two turns (the closing
    # checklist, when the conversation is ending).
    only: tuple[str, ...] = ()
    # Warnings: what replaces the offending words in a draft: "suggestion" (the finding's own, e.g.
    # 您 for 你) or "wording" (the clause's first standard wording); None: nothing does.
    replace: str | None = None
    key: str = ""  # tells two hints of one clause apart (ids are RULE:KEY:TURN); the clause by default

    @property
    def name(self) -> str:
        return self.key or self.clause


def next_step(clause: str, message: str, when: str, clears: str, **options) -> Hint:
    return Hint(HintKind.NEXT_STEP, clause, (Step(message, options.pop("wording", ())),), when, clears, **options)


def warning(clause: str, when: str, replace: str | None = "wording", **options) -> Hint:
    """A warning on the agent's latest words: the finding's own message, the clause's wording."""
    message = options.pop("message", "{message}")
    return Hint(HintKind.WARNING, clause, (Step(message, options.pop("wording", ())),), when,
                "客服说出或写下下一句话后消失", probe=Probe.SAID, replace=replace, **options)


def timer(clause: str, message: str, when: str, clears: str, wait: str, **options) -> Hint:
    return Hint(HintKind.TIMER, clause, (Step(message, options.pop("wording", ())),), when, clears,
                probe=Probe.WAIT, wait=wait, **options)
