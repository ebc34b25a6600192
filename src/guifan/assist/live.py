"""A conversation checked while it happens: the engine's client for live assist.

``LiveSession`` keeps the conversation's ``CheckContext`` and grows it turn by turn (only the new
turn is normalized and scanned). After every change it asks the rules that declare hints
(``Rule.hints``, guifan.engine.hints) whether a hint is due, by *probing*: the conversation so far
plus hypothetical agent words, checked by the rule itself.

* ``next``: three neutral agent turns ("嗯。"): due when the rule faults one of them (the agent
  still owes an apology, a reply to thanks, the surname …);
* ``close``: the agent closing now (the closing checklist, holiday wishes);
* ``wait``: the agent speaking again at the session's clock now (timers: holds, silent calls);
* ``said``: no probe: the rule's findings on the agent's latest words (a partial, a sent turn, a
  draft) are warnings;
* ``window``: the agent's speech of the last ``voice.rate_window_seconds`` as one turn (live audio:
  speech rate drifting, S-H1).

Only the rules a turn can concern are asked again (a hint already due, or a turn holding the
hint's trigger phrases), so a turn costs what its text and those few rules cost, not the whole
conversation again. The meaning stage (sentence encoder) is left out of the live path by default:
hints and drafts rest on the rulebook's phrases and their homophones; the result stored at the end
is the full check (``Checker``), meaning included.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Mapping

from guifan import text as textnorm
from guifan.assist.funasr import FunAsrError, FunAsrStream
from guifan.engine import Engine, Rule
from guifan.engine.context import CheckContext, Recognizer, TurnView
from guifan.engine.hints import WINDOW_SECONDS, Hint, HintKind, Probe
from guifan.engine.voice import spoken_characters
from guifan.model import CallAudio, Channel, Conversation, Finding, Recognition, Role, Severity, Turn, Voice

NEUTRAL = "嗯。"  # agent words that say nothing to the point: no phrase of the rulebook matches them
PROBE_TURNS = 3  # the agent's next turns in a NEXT probe (replies are judged over two, the surname over three)
PROBE_STEP = 0.5  # seconds between probe turns of a timed conversation
ROLES = {"agent": Role.AGENT, "customer": Role.CUSTOMER, "system": Role.SYSTEM}
MAX_TURNS = 2000
MAX_TEXT = 10_000
# Clauses whose hints are alerts on the supervisors' live board, and of which kind.
ALERT_CLAUSES = {"S-C8": "abuse", "S-D6": "threat", "S-B3": "long_hold"}
FORBIDDEN = frozenset(f"S-F{n}" for n in range(1, 10))  # 服务忌语: a sent one is an alert
# What a streaming partial is warned about at once: forbidden language, and speaking over a customer
# who is still speaking (S-H4). What the rest of the sentence may still say (a reply to thanks, the
# reason for a transfer) waits for the final turn.
PARTIAL_WARNINGS = FORBIDDEN | {"S-F10", "S-F11", "S-H4"}
PROFANITY_RULE = "FBD020"
_PUNCTUATION = ",，。.!！?？;；、~～…"


class AssistError(Exception):
    """A request live assist refuses: ``status`` (HTTP) and the Chinese explanation."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(slots=True)
class DueHint:
    """A hint that is due: which rule and declaration, which step, and the finding behind it."""

    rule: Rule
    hint: Hint
    step: int
    severity: Severity
    finding: Finding | None
    id: str
    turn: int | None
    since: float  # session clock when it fell due
    expires_at: float | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.rule.code, self.hint.name)


@dataclass
class Update:
    """What a change did: the hints due now (visible ones), those that cleared since, and the
    events to keep (dismissals, warnings ignored, alerts)."""

    turn: int | None
    final: bool
    hints: list[dict[str, Any]]
    cleared: list[str]
    alerts: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"turn": self.turn, "final": self.final, "hints": self.hints, "cleared": self.cleared}


class LiveSession:
    """One live conversation: its turns so far, its open partial turns, and the hints due."""

    def __init__(
        self,
        engine: Engine,
        conversation: Conversation,
        *,
        stamp_times: bool = True,
        meaning: bool = False,
        clock: Callable[[], float] = time.monotonic,
        asr_offset: float = 0.0,
    ):
        self.engine = engine
        self.rulebook = engine.rulebook
        recognizer = engine.recognizer if meaning else Recognizer(engine.matcher, None)
        self._meaning = meaning and engine.meaning is not None
        self.ctx = CheckContext(replace(conversation, turns=()), engine.rulebook, engine.matcher, recognizer)
        self.stamp_times = stamp_times
        self._clock = clock
        self._origin = clock()
        self._client: tuple[float, float] | None = None  # (client time, server clock then)
        self._partials: dict[Role, Turn] = {}
        # Live audio whose words come from the client: the voice heard in a final turn's time
        # (guifan.assist.audio.LiveAudio.voice_of), given to the turns the client sends.
        self.voice_source: Callable[[Role, float | None, float | None], Voice | None] | None = None
        self._streams: dict[Role, FunAsrStream] = {}
        self._asr_offset = asr_offset
        self._hinted = [(rule, tuple(rule.hints)) for rule in engine.rules if rule.hints]
        self._said = [(rule, tuple(h for h in hints if h.probe is Probe.SAID)) for rule, hints in self._hinted]
        self._said = [(rule, hints) for rule, hints in self._said if hints]
        self.active: dict[tuple[str, str], DueHint] = {}
        self.warnings: dict[str, DueHint] = {}  # on the agent's latest words, by id
        self.dismissed: set[str] = set()
        self.alerted: set[str] = set()
        self._warned: set[tuple[str, str]] = set()  # (rule, words) a draft was warned about
        self._timers: list[float] = []  # session-clock times at which a timer hint may fall due
        self._shown: list[str] = []  # ids of the last answer, for ``cleared``
        for turn in conversation.turns:  # a resumed session: its turns, already judged
            self.ctx.extend([turn])
        self.ctx.settle()
        if conversation.turns:
            last = conversation.turns[-1]
            if last.end is not None:
                self._client = (last.end, self._clock())
        self._evaluate(None, start=True)
        self._shown = [h["id"] for h in self.hints()]

    # -- the conversation -------------------------------------------------------------------------

    @property
    def conversation(self) -> Conversation:
        """The final turns so far (partials are not part of it)."""
        return self.ctx.conversation

    @property
    def channel(self) -> Channel:
        return self.ctx.conversation.channel

    def now(self) -> float:
        """The session's clock: the client's call time when its turns carry times, else seconds
        since the session began."""
        if self._client is not None:
            client, at = self._client
            return client + (self._clock() - at)
        return self._clock() - self._origin

    def add(self, role: str, text: str, start: float | None = None, end: float | None = None,
            final: bool = True, *, voice: Voice | None = None, asr: Recognition | None = None) -> Update:
        """A turn (``final``) or a streaming partial of it, which the next partial or the final turn
        of the same speaker replaces. Live audio (guifan.assist.audio) gives its ``voice`` and, when
        the server recognized the words, how sure the recognizer was (``asr``)."""
        speaker = ROLES.get(role)
        if speaker is None:
            raise AssistError(422, "字段 role: 应为 agent、customer 或 system 之一")
        if len(text) > MAX_TEXT:
            raise AssistError(422, f"字段 text: 最多 {MAX_TEXT} 个字符")
        if final and len(self.ctx.turns) >= MAX_TURNS:
            raise AssistError(413, f"实时会话的轮次已达上限 {MAX_TURNS}")
        turn = self._timed(speaker, text, start, end, final)
        if voice is None and final and self.voice_source is not None:
            voice = self.voice_source(speaker, turn.start, turn.end)
        if voice is not None or asr is not None:
            turn = replace(turn, voice=voice, asr=asr)
        if final:
            self._partials.pop(speaker, None)
            self.ctx.extend([turn])
            self.ctx.settle()
            index = len(self.ctx.turns) - 1
        else:
            self._partials[speaker] = turn
            index = len(self.ctx.turns) + list(self._partials).index(speaker)
        self._schedule()
        return self._answer(index, final, self._evaluate(index))

    @property
    def open_partials(self) -> frozenset[Role]:
        """The speakers whose turn is still being said (a partial stands for it)."""
        return frozenset(self._partials)

    def hear(self, audio: CallAudio | None) -> None:
        """What live audio has measured of the call so far (without words from a recognizer, only
        the rules that need none run, as on a recording checked without speech recognition)."""
        self.ctx.conversation = replace(self.ctx.conversation, audio=audio)

    def observe(self, at: float) -> None:
        """The call's clock has reached ``at`` seconds (live audio heard up to there): timers count
        from it even while nobody speaks."""
        self._client = (at, self._clock())

    def funasr(self, role: str, message: Mapping[str, Any]) -> Update:
        """A message of FunASR's WebSocket server for the stream of ``role`` (see guifan.assist.funasr)."""
        speaker = ROLES.get(role)
        if speaker is None or speaker is Role.SYSTEM:
            raise AssistError(422, "字段 role: 应为 agent 或 customer 之一")
        stream = self._streams.setdefault(speaker, FunAsrStream(self._asr_offset))
        try:
            heard = stream.read(message)
        except FunAsrError as exc:
            raise AssistError(422, str(exc)) from None
        if heard is None:
            return self._answer(None, True, [])
        return self.add(role, heard.text, heard.start, heard.end, heard.final)

    def _timed(self, speaker: Role, text: str, start: float | None, end: float | None, final: bool) -> Turn:
        if start is None and end is None:
            if not self.stamp_times:
                return Turn(speaker, text)
            now = round(self.now(), 3)
            began = self._partials.get(speaker)
            first = began.start if began is not None and began.start is not None else now
            return Turn(speaker, text, first, max(first, now))
        start = end if start is None else start
        end = start if end is None else end
        if end < start:
            raise AssistError(422, "字段 end: 不能早于 start")
        self._client = (end, self._clock())
        return Turn(speaker, text, start, end)

    # -- hints ------------------------------------------------------------------------------------

    def hints(self) -> list[dict[str, Any]]:
        """The hints due now, dismissed ones and those waiting for an earlier clause excepted."""
        due = [h for h in (*self.active.values(), *self.warnings.values()) if h.id not in self.dismissed]
        waiting = {h.hint.clause for h in due if h.hint.kind is HintKind.NEXT_STEP}
        shown = [h for h in due if not (set(h.hint.after) & waiting)]
        shown.sort(key=lambda h: (_KIND_ORDER[h.hint.kind], h.since, h.id))
        return [self._hint_dict(h) for h in shown]

    def dismiss(self, hint_id: str) -> Update:
        due = {h.id for h in (*self.active.values(), *self.warnings.values())}
        if hint_id not in due and hint_id not in self.dismissed:
            raise AssistError(404, "没有这条提示(可能已经消失)")
        events = []
        if hint_id not in self.dismissed:
            self.dismissed.add(hint_id)
            found = next(h for h in (*self.active.values(), *self.warnings.values()) if h.id == hint_id)
            events.append(self._event("dismissed", found))
        update = self._answer(None, True, [])
        update.events = events
        return update

    def tick(self) -> Update | None:
        """Timers: when a wait has run out, ask the timer hints; None when nothing changed."""
        now = self.now()
        if not self._timers or self._timers[0] > now:
            return None
        self._timers = [t for t in self._timers if t > now]
        before = [h["id"] for h in self.hints()]
        alerts = self._evaluate(None, timers=True)
        after = [h["id"] for h in self.hints()]
        if after == before and not alerts:
            return None
        return self._answer(None, True, alerts)

    def next_timer(self) -> float | None:
        """When (on the server's monotonic clock) a timer hint may next fall due, or None."""
        if not self._timers:
            return None
        return self._clock() + (self._timers[0] - self.now())

    def _schedule(self) -> None:
        """The times at which the wait since the latest turn reaches a timer hint's wait."""
        turns = [*self.ctx.conversation.turns, *self._partials.values()]
        ends = [t.end for t in turns if t.end is not None]
        if not ends:
            self._timers = []
            return
        base = max(ends)
        settings = self.rulebook.settings
        typing = settings.chat_typing_seconds if self.channel is Channel.CHAT else 0.0
        times = set()
        for rule, hints in self._hinted:
            for hint in hints:
                if hint.probe is not Probe.WAIT or hint.wait is None:
                    continue
                wait = getattr(settings, hint.wait)
                if isinstance(wait, Mapping):
                    wait = wait.get(self.channel, 0.0)
                times.add(base + float(wait) + 0.01)
                if typing and rule.needs_timing:  # timing rules count a chat wait after the typing time
                    times.add(base + float(wait) + typing + 0.01)
        self._timers = sorted(times)

    def _evaluate(self, index: int | None, *, timers: bool = False, start: bool = False) -> list[dict[str, Any]]:
        """Bring the due hints up to date; ``index``: the turn (or partial) just added. Returns the
        alerts that fell due."""
        ctx = self.ctx
        base = len(ctx.turns)
        partials = list(self._partials.values())
        if partials:
            ctx.extend(partials)
        try:
            new = ctx.turns[index] if index is not None else None
            plan = {rule.code: severity for rule, severity in self.engine.planned(ctx, every=True)}
            groups: dict[tuple[Probe, str | None], list[tuple[Rule, Severity | None, Hint]]] = defaultdict(list)
            for rule, hints in self._hinted:
                if rule.code not in plan:
                    continue
                for hint in hints:
                    if hint.probe is Probe.SAID:
                        continue
                    active = (rule.code, hint.name) in self.active
                    if hint.probe is Probe.WINDOW:
                        if not (active or (new is not None and new.index < base and new.is_agent
                                           and new.turn.voice is not None)):
                            continue  # asked when a final agent turn adds measured speech
                    elif hint.probe is Probe.WAIT:
                        if not (timers or active):
                            continue  # a timer is asked when its wait runs out, then on every change
                    elif not active and not start and not _concerns(hint, new):
                        continue
                    if hint.only and not any(v.has(*hint.only) for v in ctx.turns[-2:]):
                        continue
                    groups[(hint.probe, hint.say)].append((rule, plan[rule.code], hint))
            due: dict[tuple[str, str], tuple[Rule, Severity | None, Hint, int, Finding | None]] = {}
            for (probe, say), asked in groups.items():
                self._probe(probe, say, asked, due)
            alerts = self._settle(due, base)
            if new is not None and new.is_agent:
                alerts += self._said_warnings(new, plan, final=new.index < base)
            return alerts
        finally:
            if partials:
                ctx.truncate(base)

    def _probe(self, probe: Probe, say: str | None, asked: list[tuple[Rule, Severity | None, Hint]],
               due: dict) -> None:
        if probe is Probe.WINDOW:
            self._probe_window(asked, due)
            return
        ctx = self.ctx
        first = len(ctx.turns)
        ctx.extend(self._probe_turns(probe, say))
        try:
            if probe is Probe.CLOSE:
                targets = {ctx.agent[-1].index} if ctx.agent else set()
            else:
                targets = set(range(first, len(ctx.turns)))
            findings: dict[str, list[Finding]] = {}
            for rule, severity, hint in asked:
                if rule.code not in findings:
                    findings[rule.code] = self.engine.findings_of(rule, severity, ctx)
                found = [f for f in findings[rule.code] if f.turn in targets and hint.clause in f.clauses]
                step = rule.hint_step(hint, ctx, found)
                if step is not None:
                    due[(rule.code, hint.name)] = (rule, severity, hint, min(step, len(hint.steps) - 1),
                                                   found[0] if found else None)
        finally:
            ctx.truncate(first)

    def _probe_window(self, asked: list[tuple[Rule, Severity | None, Hint]], due: dict) -> None:
        """The agent's measured speech of the last ``voice.rate_window_seconds`` (up to their latest
        words) as one turn of its own conversation, checked by the rules asked."""
        finals = len(self.ctx.conversation.turns)
        voiced = [v.turn for v in self.ctx.agent if v.index < finals and v.turn.voice is not None and v.turn.end is not None]
        if not voiced:
            return
        seconds = self.rulebook.voice.rate_window_seconds
        recent = [t for t in voiced if t.end > voiced[-1].end - seconds]
        characters = [spoken_characters(t) for t in recent]
        speech = sum(t.voice.speech_seconds for t in recent)
        # Too little speech says nothing about a pace: a third of the window, and never less than a rated turn.
        if any(c is None for c in characters) or speech < max(self.rulebook.voice.rate_min_seconds, seconds / 3):
            return
        window = Turn(Role.AGENT, "", recent[0].start, recent[-1].end,
                      voice=Voice(speech_seconds=round(speech, 2), syllables=sum(characters)))
        probe = CheckContext(Conversation(id="window", turns=(window,), channel=self.channel,
                                          metadata={WINDOW_SECONDS: self.rulebook.voice.rate_window_seconds}),
                             self.rulebook, self.engine.matcher)
        for rule, severity, hint in asked:
            found = [f for f in self.engine.findings_of(rule, severity, probe) if hint.clause in f.clauses]
            if found:
                finding = replace(found[0], turn=len(self.ctx.turns) - 1, quote="")
                due[(rule.code, hint.name)] = (rule, severity, hint, 0, finding)

    def _probe_turns(self, probe: Probe, say: str | None) -> list[Turn]:
        ctx = self.ctx
        timed = self.stamp_times or ctx.timed
        now = self.now()

        def agent(text: str, n: int = 0) -> Turn:
            at = round(now + n * PROBE_STEP, 3)
            return Turn(Role.AGENT, text, at, at + 0.1) if timed else Turn(Role.AGENT, text)

        if say is not None:
            return [agent(self._wording_ref(say)[0] if self._wording_ref(say) else NEUTRAL)]
        if probe is Probe.NEXT:
            return [agent(NEUTRAL, n) for n in range(PROBE_TURNS)]
        if probe is Probe.CLOSE:
            spoken = [v for v in ctx.turns if v.role is not Role.SYSTEM]
            return [] if spoken and spoken[-1].is_agent else [agent(NEUTRAL)]
        return [agent(NEUTRAL)]

    def _said_warnings(self, new: TurnView, plan: dict[str, Severity | None], final: bool) -> list[dict[str, Any]]:
        """Warnings on the agent's latest words (``new``, a final turn or a partial); a final one
        with a forbidden phrase is an alert, and a warning ignored when a draft had it."""
        self.warnings = {}
        alerts = []
        for finding, rule, hint, severity in self._findings_on(new.index, plan):
            if not final and rule.code != PROFANITY_RULE and not PARTIAL_WARNINGS & set(finding.clauses):
                continue
            turn_id = f"{rule.code}:{hint.name}:{new.index}"
            due = DueHint(rule, hint, 0, severity or rule.severity, finding, turn_id, new.index, self.now())
            self.warnings[turn_id] = due
            if final and turn_id not in self.alerted and (rule.code == PROFANITY_RULE or FORBIDDEN & set(finding.clauses)):
                ignored = (rule.code, _words(finding.quote)) in self._warned
                alerts.append(self._alert("forbidden_sent", due, sent_after_warning=ignored))
        return alerts

    def _findings_on(self, index: int, plan: Mapping[str, Severity | None]) -> Iterable[tuple[Finding, Rule, Hint, Severity | None]]:
        """The said-warnings' findings on turn ``index`` of the context as it stands."""
        view = self.ctx.turns[index]
        for rule, hints in self._said:
            if rule.code not in plan:
                continue
            # Words that hold none of a warning's trigger phrases cannot be faulted by it (without the
            # meaning stage, which finds the same acts in other words).
            if not self._meaning and all(h.triggers and not view.has(*h.triggers) for h in hints):
                continue
            findings = [f for f in self.engine.findings_of(rule, plan[rule.code], self.ctx) if f.turn == index]
            for finding in findings:
                hint = next((h for h in hints if h.clause in finding.clauses), None)
                if hint is not None:
                    yield finding, rule, hint, plan[rule.code]

    def _settle(self, due: dict, finals: int) -> list[dict[str, Any]]:
        """The new set of due hints: ones still due keep their id, new ones get the latest turn
        (a partial's, when a partial made them due)."""
        latest = len(self.ctx.turns) - 1
        turn = latest if latest >= 0 else None
        alerts = []
        active: dict[tuple[str, str], DueHint] = {}
        for key, (rule, severity, hint, step, finding) in due.items():
            kept = self.active.get(key)
            if kept is not None and kept.step == step:
                kept.finding = finding or kept.finding
                active[key] = kept
                continue
            name = f"{rule.code}:{hint.name}:{turn if turn is not None else 's'}" + (f"-{step}" if step else "")
            fresh = DueHint(rule, hint, step, severity or rule.severity, finding, name, turn, self.now())
            active[key] = fresh
            kind = ALERT_CLAUSES.get(hint.clause)
            if kind is not None and name not in self.alerted:
                alerts.append(self._alert(kind, fresh))
        self.active = active
        return alerts

    def _alert(self, kind: str, due: DueHint, **extra: Any) -> dict[str, Any]:
        self.alerted.add(due.id)
        message = due.finding.message if due.finding is not None else due.hint.steps[due.step].message
        return {"kind": kind, "rule": due.rule.code, "clauses": list(due.rule.clauses if kind == "forbidden_sent"
                                                                     else (due.hint.clause,)),
                "message": message, "turn": due.turn, "hint_id": due.id,
                "at": datetime.now(timezone.utc).isoformat(), **extra}

    def _event(self, kind: str, due: DueHint, **detail: Any) -> dict[str, Any]:
        return {"kind": kind, "hint_id": due.id, "rule": due.rule.code, "clause": due.hint.clause,
                "turn": due.turn, "detail": detail, "at": datetime.now(timezone.utc).isoformat()}

    def _answer(self, index: int | None, final: bool, alerts: list[dict[str, Any]]) -> Update:
        hints = self.hints()
        ids = [h["id"] for h in hints]
        cleared = [i for i in self._shown if i not in ids]
        self._shown = ids
        events = [{"kind": "alert", "hint_id": a["hint_id"], "rule": a["rule"], "clause": a["clauses"][0],
                   "turn": a["turn"], "detail": a, "at": a["at"]} for a in alerts]
        events += [{"kind": "sent_after_warning", "hint_id": a["hint_id"], "rule": a["rule"],
                    "clause": a["clauses"][0], "turn": a["turn"], "detail": {"quote": a["message"]}, "at": a["at"]}
                   for a in alerts if a.get("sent_after_warning")]
        return Update(index, final, hints, cleared, alerts, events)

    def _hint_dict(self, due: DueHint) -> dict[str, Any]:
        hint, step = due.hint, due.hint.steps[due.step]
        finding = due.finding
        message = step.message.replace("{message}", finding.message if finding is not None else "")
        if step.wording:
            wording = [w for ref in step.wording for w in self._wording_ref(ref)]
        elif finding is not None and finding.suggestion and hint.kind is not HintKind.WARNING:
            wording = [w for w in finding.suggestion.split(" / ") if w]
        else:
            wording = list(self.rulebook.wording(hint.clause))
        return {
            "id": due.id, "kind": hint.kind.value, "rule": due.rule.code,
            "clauses": [hint.clause] if hint.kind is not HintKind.WARNING or finding is None else list(finding.clauses),
            "title": self.rulebook.clause_title(hint.clause), "message": message, "wording": wording,
            "turn": due.turn, "step": due.step, "severity": due.severity.value,
            "expires": {"when": hint.clears, "at": due.expires_at},
        }

    def _wording_ref(self, ref: str) -> list[str]:
        clause, _, number = ref.partition("#")
        wording = self.rulebook.wording(clause)
        if not number:
            return list(wording)
        n = int(number)
        return [wording[n]] if n < len(wording) else []

    # -- drafts -----------------------------------------------------------------------------------

    def draft(self, text: str) -> dict[str, Any]:
        """The check before sending: the draft as the agent's next turn, in the conversation so far."""
        if len(text) > MAX_TEXT:
            raise AssistError(422, f"字段 text: 最多 {MAX_TEXT} 个字符")
        ctx = self.ctx
        base = len(ctx.turns)
        ctx.extend([*self._partials.values(), self._timed_draft(text)])
        try:
            index = len(ctx.turns) - 1
            # A draft is words: how it would be spoken (S-H…) is for the call's audio to tell.
            plan = {rule.code: severity for rule, severity in self.engine.planned(ctx, every=True) if rule.needs_text}
            findings = []
            for finding, rule, hint, _ in self._findings_on(index, plan):
                findings.append(self._draft_finding(text, finding, hint))
                self._warned.add((rule.code, _words(finding.quote)))
            satisfies = self._satisfied_by_draft(plan)
        finally:
            ctx.truncate(base)
        findings.sort(key=lambda f: (f["span"] or [1 << 30])[0])
        return {"ok": not findings, "text": text, "findings": findings, "satisfies": satisfies}

    def _timed_draft(self, text: str) -> Turn:
        if not (self.stamp_times or self.ctx.timed):
            return Turn(Role.AGENT, text)
        now = round(self.now(), 3)
        return Turn(Role.AGENT, text, now, now)

    def _satisfied_by_draft(self, plan: Mapping[str, Severity | None]) -> list[str]:
        """Ids of the next steps due now that the draft, as the agent's next turn, would clear."""
        shown = {h["id"] for h in self.hints()}
        asked = [(due.rule, plan.get(due.rule.code), due.hint) for due in self.active.values()
                 if due.id in shown and due.hint.probe in (Probe.NEXT, Probe.CLOSE) and due.rule.code in plan]
        still: dict = {}
        groups: dict[tuple[Probe, str | None], list] = defaultdict(list)
        for item in asked:
            groups[(item[2].probe, item[2].say)].append(item)
        for (probe, say), items in groups.items():
            self._probe(probe, say, items, still)
        return [due.id for key, due in self.active.items() if due.id in shown
                and due.hint.probe in (Probe.NEXT, Probe.CLOSE) and key not in still]

    def _draft_finding(self, text: str, finding: Finding, hint: Hint) -> dict[str, Any]:
        replacement = None
        if finding.span is not None and hint.replace is not None:
            words = finding.suggestion if hint.replace == "suggestion" else next(iter(self.rulebook.wording(hint.clause)), "")
            if words:
                replacement = _replace(text, finding.span, words)
        return {"rule": finding.rule, "clauses": list(finding.clauses), "severity": finding.severity.value,
                "span": list(finding.span) if finding.span else None, "quote": finding.quote,
                "message": finding.message, "suggestion": finding.suggestion, "replacement": replacement,
                "confidence": round(finding.confidence, 3), "evidence": finding.evidence.value}


_KIND_ORDER = {HintKind.WARNING: 0, HintKind.TIMER: 1, HintKind.NEXT_STEP: 2, HintKind.REMINDER: 3}


def _concerns(hint: Hint, new: TurnView | None) -> bool:
    """Whether the turn just added can make the hint due (its declared triggers)."""
    if new is None:
        return False
    if not hint.triggers:
        return True
    for trigger in hint.triggers:
        if trigger == "customer":
            if new.is_customer:
                return True
        elif trigger == "agent":
            if new.is_agent:
                return True
        elif new.has(trigger):
            return True
    return False


def _words(quote: str) -> str:
    return textnorm.basic(quote)


def _replace(text: str, span: tuple[int, int] | list[int], words: str) -> str:
    """The text with ``span`` replaced by ``words``; a clause end the words already have is not doubled."""
    start, end = span
    rest = text[end:]
    if words and words[-1] in _PUNCTUATION and rest[:1] and rest[0] in _PUNCTUATION:
        rest = rest[1:]
    return text[:start] + words + rest
