"""What rules see of one conversation: normalized turns, phrase hits, and shared analyses."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field, replace
from typing import Callable, Iterable, Iterator, Sequence, TypeVar

from guifan import text as textnorm
from guifan.engine import complaints
from guifan.engine.matcher import VETOED, Hit, PhraseMatcher
from guifan.engine.hearing import doubtful_turns, heard_with
from guifan.engine.judge import ModelJudge
from guifan.engine.meaning import Judgement, MeaningModel, unit_forms
from guifan.model import Conversation, Evidence, Role, Turn
from guifan.rulebook import Rulebook

_OPEN_QUOTES = "“「『‘《"
_CLOSE_QUOTES = "”」』’》"
T = TypeVar("T")
_ANY_QUOTE = _OPEN_QUOTES + '"'
_REPORTING_CUES = ("你说", "你提到", "你反映", "你觉得", "你认为", "你的意思是", "你刚才说", "你说的")


@dataclass(slots=True)
class TurnView:
    index: int
    turn: Turn
    basic: str
    loose: str
    _by_category: dict[str, list[Hit]]
    _recognizer: Recognizer | None = None
    # Per form, the positions in the text of the form's characters, built on first use (shared by
    # the views of one text: CheckContext._views).
    _offsets: dict[str, list[int]] = field(default_factory=dict)
    _heard: dict[str, list[Hit]] | None = None  # homophone-tolerant hits, on first use
    _judged: dict[str, Judgement | None] = field(default_factory=dict)  # meaning, per act, on first use
    # How far the turn's recognized words can be trusted when it was heard with doubt (engine.hearing).
    heard_with: float | None = None
    # What rules worked out about this turn that only this turn and the turns before it decide
    # (``memo``): a growing conversation (live assist) works it out once.
    _memo: dict = field(default_factory=dict)

    @property
    def role(self) -> Role:
        return self.turn.role

    @property
    def text(self) -> str:
        return self.turn.text

    @property
    def spoken(self) -> bool:
        """Something was said: the turn has words, or the recording heard speech (a turn of a
        recording checked without speech recognition has no words)."""
        return bool(self.basic) or self.turn.voice is not None

    @property
    def is_agent(self) -> bool:
        return self.turn.role is Role.AGENT

    @property
    def is_customer(self) -> bool:
        return self.turn.role is Role.CUSTOMER

    def find(self, category: str) -> list[Hit]:
        return self._by_category.get(category, [])

    def memo(self, key, compute: Callable[[], T]) -> T:
        """``compute()``, once per turn and ``key``: for what depends only on this turn and the
        turns before it, never on later ones."""
        try:
            return self._memo[key]
        except KeyError:
            value = self._memo[key] = compute()
            return value

    def has(self, *categories: str) -> bool:
        for category in categories:
            if category in self._by_category:
                return True
        return False

    def says(self, *categories: str) -> bool:
        """For must-say wording: a phrase of the categories, or (only then) the same wording
        misheard or said in other words (``recognizes``)."""
        return self.has(*categories) or self.recognizes(*categories)

    def recognizes(self, *categories: str) -> bool:
        """The agent says the categories' wording with homophone slips (请稍登) or in other words."""
        return self.act(*categories) is not None and not self.has(*categories)

    def act(self, *categories: str) -> Act | None:
        """The strongest evidence that the agent performs one of the acts here: a phrase (certain),
        the phrase misheard (sound), or the act in other words (meaning, with its probability)."""
        for category in categories:
            hit = self.first(category)
            if hit is not None:
                return Act(category, Evidence.PHRASE, 1.0, self.span(hit))
        if self._recognizer is None or not self.is_agent:
            return None
        for category in categories:
            for hit in self.heard(category):
                return Act(category, Evidence.SOUND, SOUND_CONFIDENCE, self.original("loose", hit.start, hit.end))
        judged = self.judged(categories)
        best = max(judged.values(), key=lambda j: j.probability, default=None)
        if best is None or best.probability < SAID_BY_MEANING:
            return None
        name = next(c for c, j in judged.items() if j is best)
        return Act(name, Evidence.MEANING, best.probability, (best.unit.start, best.unit.end), best.nearest)

    def by_meaning(self, *categories: str) -> bool:
        """The agent performs one of the acts here in other words (meaning alone, no phrase)."""
        if self._recognizer is None or self._recognizer.meaning is None:
            return False
        return any(j.probability >= SAID_BY_MEANING for j in self.judged(categories).values())

    def doubt(self, *categories: str) -> float:
        """How much a finding that the agent does not perform the acts here is in doubt: 1 when the
        agent does (a phrase, a sound, or meaning at SAID_BY_MEANING or above), 0 when the meaning
        stage finds the act unlikely (below DOUBT_FROM), in between when it is unsure."""
        if self.act(*categories) is not None:
            return 1.0
        if self.heard_with is not None:  # speech recognized with doubt: the act may be in it
            return 1.0 - self.heard_with
        if self.turn.asr is not None and self._recognizer is not None \
                and self._recognizer.matcher.near_sound(self.loose, categories) >= NEAR_SOUND:
            return NEAR_SOUND_DOUBT  # recognized words that sound much like the wording
        probability = max((j.probability for j in self.judged(categories).values()), default=0.0)
        return min(1.0, max(0.0, (probability - DOUBT_FROM) / (SAID_BY_MEANING - DOUBT_FROM)))

    def judged(self, categories: Iterable[str]) -> dict[str, Judgement]:
        """The meaning stage's judgement of this agent turn for each act (computed once per act)."""
        meaning = self._recognizer.meaning if self._recognizer is not None else None
        if meaning is None or self.turn.role is not Role.AGENT:
            return {}
        known = self._judged
        wanted = [c for c in categories if c not in known]
        if wanted:
            found = meaning.judge(self.text, [c for c in wanted if c in meaning.judgeable])
            for category in wanted:
                known[category] = found.get(category)
        return {c: judged for c in categories if (judged := known[c]) is not None}

    def heard(self, category: str) -> list[Hit]:
        """The category's phrases found by sound (guifan.engine.matcher), computed on first use."""
        if self._heard is None:
            self._heard = self._recognizer.matcher.scan_sound(self.loose) if self._recognizer else {}
        return self._heard.get(category, [])

    def first(self, category: str) -> Hit | None:
        found = self._by_category.get(category)
        return min(found, key=lambda h: h.start) if found else None

    def span(self, hit: Hit) -> tuple[int, int]:
        return self.original(hit.phrase.form, hit.start, hit.end)

    def original(self, form: str, start: int, end: int) -> tuple[int, int]:
        """Map a non-empty [start, end) span of a normalized form back to this turn's text."""
        positions = self._offsets.get(form)
        if positions is None:
            positions = self._offsets[form] = textnorm.offsets(textnorm.blank_emoticons(self.text), form)
        return positions[start], positions[end - 1] + 1

    def quote(self, hit: Hit) -> str:
        start, end = self.span(hit)
        return self.text[start:end]

    def ends_clause(self, hit: Hit, vocatives: tuple[str, ...] = ()) -> bool:
        """Nothing but fillers and vocatives (a trailing 亲) between the hit and the next
        punctuation, or the end of the turn: "我不知道哦亲" ends its clause."""
        text, at = self.text, self.span(hit)[1]
        while at < len(text):
            if text[at] in textnorm.FILLERS:
                at += 1
                continue
            word = next((v for v in vocatives if text.startswith(v, at)), None)
            if word:
                at += len(word)
                continue
            return not unicodedata.category(text[at]).startswith(("L", "N"))
        return True


@dataclass(frozen=True, slots=True)
class Act:
    """An act found in a turn, with what it rests on and how sure that is."""

    name: str
    evidence: Evidence
    confidence: float
    span: tuple[int, int]  # in the turn's text
    note: str = ""  # meaning: the closest exemplar; model: the model's rationale


# Phrase categories that are offences in themselves besides the must-not acts (rude openers, profanity).
OFFENCES = frozenset({"S-F9", "profanity"})
SOUND_CONFIDENCE = 0.9  # a phrase heard with at most one slip in three characters
# A must-say act counts as said by meaning from SAID_BY_MEANING on (measured on real chats, a lower
# bar took courtesies for apologies); between DOUBT_FROM and it, a finding about the act's absence
# is made, but less sure, and may go to review.
SAID_BY_MEANING = 0.9
# Recognized speech holding this share of a must-say phrase's sounds in order may be that phrase
# misheard: an absence finding on it is in this much doubt (待复核). Below 0.6, unrelated sentences
# start to share sounds with the short phrases.
NEAR_SOUND = 0.6
NEAR_SOUND_DOUBT = 0.5
DOUBT_FROM = 0.7


class Recognizer:
    """Acts beyond exact phrases: the same wording misheard (sound: one automaton pass over the
    turn), or the act in other words (meaning: guifan.engine.meaning). Both on demand."""

    def __init__(self, matcher: PhraseMatcher, meaning: MeaningModel | None, judge: ModelJudge | None = None):
        self.matcher = matcher
        self.meaning = meaning
        self.judge = judge


def _offences(ctx: CheckContext) -> list[tuple[TurnView, dict[str, Judgement]]]:
    """Each agent turn with the meaning stage's judgement of every must-not act, for ``meant``
    (asked once per act): the conversation's units are encoded first, in one batch."""
    meaning = ctx._recognizer.meaning
    meaning.encode([text for view in ctx.agent for text in unit_forms(view.text)])
    return list(zip(ctx.agent, meaning.offences([view.text for view in ctx.agent])))


def _mostly_quoted(text: str, start: int, end: int) -> bool:
    """Half or more of the stretch is inside quotation marks: the agent repeating the customer."""
    if not any(q in text for q in _ANY_QUOTE):
        return False
    inside = sum(_inside_quotes(text, i) for i in range(start, end))
    return 2 * inside >= end - start


def _inside_quotes(text: str, position: int) -> bool:
    if not any(q in text for q in _ANY_QUOTE):
        return False
    before = text[:position]
    if any(before.count(o) > before.count(c) for o, c in zip(_OPEN_QUOTES, _CLOSE_QUOTES)):
        return True
    return before.count('"') % 2 == 1


# Turn texts the matcher keeps normalized and scanned (about 3 KB each on JDDC chats: 30 MB).
PREPARED_TEXTS = 10_000


class CheckContext:
    """One conversation prepared for the rules. Built once; every rule reads it."""

    def __init__(
        self, conversation: Conversation, rulebook: Rulebook, matcher: PhraseMatcher,
        recognizer: Recognizer | None = None,
    ):
        self.conversation = conversation
        self.rulebook = rulebook
        self._matcher = matcher
        self._recognizer = recognizer
        self.settings = rulebook.settings
        self._shared: dict[Callable, object] = {}
        self._complaints: dict[int, bool] = {}  # customer turn -> complains (complaints.is_complaint)
        # Turns with words or times, and those of them without times (Conversation.timed, kept current).
        self._spoken = self._untimed = 0
        self._count_timing(conversation.turns)
        self._saved: list[tuple[int, set[str], int, int]] = []  # extend(): what truncate() goes back to
        self.recognized = any(turn.asr is not None for turn in conversation.turns)  # words from speech
        self.doubtful = doubtful_turns(conversation, rulebook) if self.recognized else {}
        self.turns: list[TurnView] = self._views(conversation.turns, 0)
        self.present_categories: set[str] = set().union(*(v._by_category for v in self.turns))
        self.agent: list[TurnView] = [v for v in self.turns if v.is_agent]
        self.customer: list[TurnView] = [v for v in self.turns if v.is_customer]
        self._expect_meaning(self.agent)

    def _expect_meaning(self, agent: Sequence[TurnView]) -> None:
        """Tell the meaning stage which turns its questions will be about (MeaningModel.expect)."""
        meaning = self._recognizer.meaning if self._recognizer is not None else None
        if meaning is not None and agent:
            meaning.expect([view.text for view in agent])

    def _views(self, turns: Sequence[Turn], first: int) -> list[TurnView]:
        """Turn views of ``turns`` (numbered from ``first``): each text normalized twice and
        scanned once, the texts seen before taken from the matcher's cache (``prepared``)."""
        prepared = self._matcher.prepared
        known = [prepared.get(turn.text) for turn in turns]
        fresh = [n for n, seen in enumerate(known) if seen is None]
        if fresh:
            if len(prepared) + len(fresh) > PREPARED_TEXTS:
                prepared.clear()
            basics = [textnorm.basic(textnorm.blank_emoticons(turns[n].text)) for n in fresh]
            looses = [textnorm.loosen(b) for b in basics]
            for n, basic, loose, found in zip(fresh, basics, looses, self._matcher.scan_many(basics, looses)):
                offsets: dict[str, list[int]] = {}
                found = self._clause_ends(turns[n], basic, loose, found, offsets)
                known[n] = prepared[turns[n].text] = (basic, loose, found, offsets)
        recognizer, doubtful = self._recognizer, self.doubtful
        return [
            TurnView(index, turn, basic, loose, found, recognizer, offsets, heard_with=doubtful.get(index))
            for index, (turn, (basic, loose, found, offsets)) in enumerate(zip(turns, known), first)
        ]

    def _clause_ends(self, turn: Turn, basic: str, loose: str, found: dict[str, list[Hit]],
                     offsets: dict[str, list[int]]) -> dict[str, list[Hit]]:
        """``found`` without the hits of phrases that must end a clause and do not (checked on the
        original punctuation, only for the rare categories holding such phrases)."""
        view = TurnView(0, turn, basic, loose, found, None, offsets)
        vocatives = self.rulebook.settings.vocatives
        for category in self._matcher.clause_end_categories.intersection(found):
            kept = [h for h in found[category] if not h.phrase.entry.ends_clause or view.ends_clause(h, vocatives)]
            if kept:
                found[category] = kept
            else:
                del found[category]
        return found

    # -- growing (live assist) ------------------------------------------------------------------

    def extend(self, turns: Sequence[Turn]) -> None:
        """Add turns at the end, as a live conversation grows: only the new turns are normalized
        and scanned; the shared analyses are computed again when next asked. ``truncate`` goes back."""
        first = len(self.turns)
        self._saved.append((first, set(self.present_categories), self._spoken, self._untimed))
        self.conversation = replace(self.conversation, turns=self.conversation.turns + tuple(turns))
        self.recognized = self.recognized or any(turn.asr is not None for turn in turns)
        for n, turn in enumerate(turns, first):
            trust = heard_with(turn, self.rulebook)
            if trust is not None:
                self.doubtful[n] = trust
        views = self._views(turns, first)
        self.turns.extend(views)
        for view in views:
            self.present_categories.update(view._by_category)
            if view.is_agent:
                self.agent.append(view)
            elif view.is_customer:
                self.customer.append(view)
        self._expect_meaning([view for view in views if view.is_agent])
        self._count_timing(turns)
        self._changed()

    def truncate(self, length: int) -> None:
        """Go back to the first ``length`` turns, as they were before the ``extend`` that went past
        them (a probe or a partial turn taken back)."""
        while self._saved and self._saved[-1][0] >= length:
            first, present, self._spoken, self._untimed = self._saved.pop()
            self.present_categories = present
            self.timed = self._spoken > 0 and self._untimed == 0
            del self.turns[first:]
            self.conversation = replace(self.conversation, turns=self.conversation.turns[:first])
            while self.agent and self.agent[-1].index >= first:
                self.agent.pop()
            while self.customer and self.customer[-1].index >= first:
                self.customer.pop()
            for n in [n for n in self.doubtful if n >= first]:
                del self.doubtful[n]
            self.recognized = any(turn.asr is not None for turn in self.conversation.turns)
            for n in [n for n in self._complaints if n >= first]:
                del self._complaints[n]
        if len(self.turns) != length:
            raise ValueError(f"truncate({length}): not a length an extend started from")
        self._changed()

    def settle(self) -> None:
        """The turns so far stay: forget the points ``truncate`` could go back to."""
        self._saved.clear()

    def _count_timing(self, turns: Sequence[Turn]) -> None:
        for turn in turns:
            if turn.text.strip() or turn.timed:
                self._spoken += 1
                self._untimed += not turn.timed
        self.timed = self._spoken > 0 and self._untimed == 0

    def _changed(self) -> None:
        self._shared.clear()

    # -- navigation -----------------------------------------------------------------------------

    def next_agent(self, index: int) -> TurnView | None:
        """The first agent turn after turn ``index``."""
        return next((v for v in self.turns[index + 1:] if v.is_agent), None)

    def agent_after(self, index: int) -> Iterator[TurnView]:
        return (v for v in self.turns[index + 1:] if v.is_agent)

    def prev_customer(self, index: int) -> TurnView | None:
        """The last customer turn before turn ``index``."""
        return next((v for v in reversed(self.turns[:index]) if v.is_customer), None)

    def prev_agent(self, index: int) -> TurnView | None:
        """The last agent turn before turn ``index``."""
        for view in reversed(self.turns[:index]):
            if view.is_agent:
                return view
        return None

    def agent_before(self, index: int) -> list[TurnView]:
        return [v for v in self.turns[:index] if v.is_agent]

    @property
    def last_agent(self) -> TurnView | None:
        return self.agent[-1] if self.agent else None

    @property
    def ends_with_agent(self) -> bool:
        spoken = [v for v in self.turns if v.role is not Role.SYSTEM]
        return bool(spoken) and spoken[-1].is_agent

    def agent_hits(self, category: str) -> Iterator[tuple[TurnView, Hit]]:
        """Every hit of a category in agent turns, in order, skipping the agent's quotes of the customer."""
        for view in self.agent:
            found = view._by_category.get(category)
            if not found:
                continue
            for hit in sorted(found, key=lambda h: h.start):
                if not self.is_quoted(view, hit):
                    yield view, hit

    # -- quotes ---------------------------------------------------------------------------------

    def is_quoted(self, view: TurnView, hit: Hit) -> bool:
        """True when the agent is quoting or restating the customer rather than speaking for itself.

        Either the phrase sits inside quotation marks, or the agent introduces it with a reporting
        cue (您说/您提到/您反映…) and the customer said it earlier.
        """
        return view.memo(("quoted", id(hit)), lambda: self._quoted(view, hit))  # the view holds its hits

    def _quoted(self, view: TurnView, hit: Hit) -> bool:
        if _inside_quotes(view.text, view.span(hit)[0]):
            return True
        loose_form = hit.phrase.form == "loose"
        prefix = (view.loose if loose_form else view.basic)[: hit.start]
        if not any(cue in prefix for cue in _REPORTING_CUES):
            return False
        return any(
            hit.phrase.key in (c.loose if loose_form else c.basic) for c in self.customer if c.index < view.index
        )

    # -- meaning --------------------------------------------------------------------------------

    def meant(self, act: str) -> Iterator[tuple[TurnView, Act]]:
        """Agent turns that perform a must-not act in other words: the meaning stage's judgement
        (probability at least one half) or, for the acts the rulebook sends to the optional model
        judge, the judge's answer on the uncertain ones. Leaves out what a near-miss guard cleared,
        the agent's quotes, and turns that also say an act excusing it (``semantic.excused_by``)."""
        recognizer = self._recognizer
        meaning = recognizer.meaning if recognizer is not None else None
        if meaning is None or act not in meaning.acts or not self.rulebook.semantic.create_findings:
            return
        config = self.rulebook.judge
        judge = recognizer.judge if act in config.acts else None
        low = config.band[0] if judge is not None else self.rulebook.semantic.finding_from
        excuses = self.rulebook.semantic.excused_by.get(act, ())
        for view, offences in self.shared(_offences):
            judged = offences.get(act)
            if judged is None or judged.probability < low:
                continue
            unit = judged.unit
            # One offence per stretch of words: a sentence that mocks is not also reported as
            # ordering and grumbling; the act it is most like takes it.
            if any(other.probability > judged.probability and other.unit.start < unit.end and unit.start < other.unit.end
                   for rival, other in offences.items() if rival != act):
                continue
            # Words an exact phrase already reports (of this act or another offence) are not reported again.
            taken = (view.span(hit) for category in meaning.must_not | OFFENCES for hit in view.find(category))
            if any(start < unit.end and unit.start < end for start, end in taken):
                continue
            cleared = (view.span(hit) for hit in view.find(VETOED + act))
            if any(start < unit.end and unit.start < end for start, end in cleared):
                continue
            if _mostly_quoted(view.text, unit.start, unit.end) or (excuses and view.says(*excuses)):
                continue
            trust = self.rulebook.semantic.trust
            found = Act(act, Evidence.MEANING, judged.probability * trust, (unit.start, unit.end), judged.nearest)
            if judge is not None and judged.probability < config.band[1]:
                customer = self.prev_customer(view.index)
                verdict = judge.judge(meaning.name(act), self.rulebook.clause_title(meaning.clause(act) or act),
                                      customer.text if customer else "", view.text)
                if verdict is not None:
                    if not verdict.performs:
                        continue
                    found = Act(act, Evidence.MODEL, config.confidence, found.span, verdict.rationale)
            if judged.probability >= self.rulebook.semantic.finding_from or found.evidence is Evidence.MODEL:
                yield view, found

    # -- timing ---------------------------------------------------------------------------------

    def gaps(self) -> Iterator[tuple[TurnView, TurnView, float]]:
        """Silences between consecutive timed turns: (before, after, seconds)."""
        timed = [v for v in self.turns if v.turn.timed]
        latest_end = None
        previous = None
        for view in timed:
            if previous is not None and latest_end is not None:
                gap = view.turn.start - latest_end
                if gap > 0:
                    yield previous, view, gap
            if latest_end is None or view.turn.end >= latest_end:
                latest_end = view.turn.end
                previous = view

    # -- shared analyses ------------------------------------------------------------------------

    def shared(self, analysis: Callable[["CheckContext"], T]) -> T:
        """``analysis(self)``, computed once per conversation however many rules ask for it."""
        try:
            return self._shared[analysis]
        except KeyError:
            result = self._shared[analysis] = analysis(self)
            return result

    @property
    def complaint_turns(self) -> list[TurnView]:
        """Customer turns that complain or show dissatisfaction (drives S-D1 and the D family);
        each turn is judged once."""
        memo = self._complaints
        found = []
        for view in self.customer:
            complains = memo.get(view.index)
            if complains is None:
                complains = memo[view.index] = complaints.is_complaint(view)
            if complains:
                found.append(view)
        return found
