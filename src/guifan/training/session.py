"""One practice attempt: the scenario's customer played against the trainee, through live assist.

``TrainingSession`` is a client of live assist (``guifan.assist.LiveSession``): every turn, the
customer's and the trainee's, goes into a live session, which keeps the conversation's check
context (the engine's), its hints, and its clock. What the trainee did is read from that context
(``TurnView.says``: the rulebook's phrases, their homophones and, with the meaning stage, other
words) and from the rules themselves (``faulted``: the engine's rules fault the turn), never from
a second copy of the rules' logic.

Time is a virtual clock: a turn takes as long as its words take to say, the next one starts a
second later, and ``wait(n)`` lets n seconds pass. The same scenario, seed and answers therefore
give the same conversation, times included. The state is JSON: the scenario, the seed and the
answers so far; ``TrainingSession.restore`` plays them again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from guifan.assist.live import LiveSession
from guifan.engine import Engine
from guifan.engine.context import TurnView
from guifan.model import Conversation, Recognition, Role, Voice
from guifan.training.answers import Answer, AnswerError, Say, Spoken, Wait, parse_answer
from guifan.training.scenario import Condition, Outcome, Scenario, ScenarioError, State, clause_matches

SPEECH_CHARS_PER_SECOND = 4.0  # how fast a line is said (240 characters a minute, the standard's pace)
RESPONSE_SECONDS = 1.0  # the pause before each turn
MIN_TURN_SECONDS = 1.0
CALL_TIME = time(10, 0)  # a scenario's date is a call at 10:00 (within the default service hours)
CHINA = timezone(timedelta(hours=8))

if TYPE_CHECKING:  # voice practice needs guifan[audio]; typed practice does not
    from guifan.audio.asr import Transcriber


class CustomerVoice(Protocol):
    """An optional rewording of the customer's lines (an LLM on the company's own server, say).
    It may only change the words of a line the state machine chose; it never decides a transition
    or a score. Off by default: the scenario's own variants are used as written."""

    def reword(self, line: str, *, scenario: Scenario, state: str) -> str: ...


class VirtualClock:
    """The session's time: advanced by the turns and the waits, never by the wall clock."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Progress:
    """What one answer led to: the customer's lines (turn index, text), the hints due now (empty
    when hints are off), and whether the conversation is over."""

    customer: list[tuple[int, str]] = field(default_factory=list)
    hints: list[dict[str, Any]] = field(default_factory=list)
    finished: bool = False


def pick(variants: tuple[str, ...], *key: object) -> str:
    """One of ``variants``, chosen by a stable hash of ``key`` (the seed, the state, the visit)."""
    digest = hashlib.sha256("\x1f".join(map(str, key)).encode("utf-8")).digest()
    return variants[int.from_bytes(digest[:8], "big") % len(variants)]


def does(when: Condition, view: TurnView) -> bool:
    """Whether a turn says what ``when`` asks (its ``says``, ``says_all`` and ``not_says``), by the
    rulebook's phrases, their homophones and, when the context has it, the meaning stage."""
    if when.says and not view.says(*when.says):
        return False
    if any(not view.says(category) for category in when.says_all):
        return False
    return not (when.not_says and view.says(*when.not_says))


def duration(text: str) -> float:
    return max(MIN_TURN_SECONDS, round(len(text) / SPEECH_CHARS_PER_SECOND, 2))


class TrainingSession:
    """A trainee playing one scenario. ``answer`` (a reply or a wait) moves it on until the
    customer reaches an end state; ``finish`` ends it early (abandoned)."""

    def __init__(self, scenario: Scenario, engine: Engine, *, seed: int = 0, hints: bool = True,
                 meaning: bool = False, voice: CustomerVoice | None = None,
                 listener: Transcriber | None = None, recordings: Path | None = None):
        """``listener``: the recognizer of spoken answers (voice practice, ``[录音 answer.wav]``),
        whose recordings lie in ``recordings`` (the answers file's folder)."""
        self.scenario = scenario
        self.engine = engine
        self.seed = seed
        self.hints_on = hints
        self.meaning = meaning
        self.voice = voice
        self.listener = listener
        self.recordings = recordings or Path.cwd()
        self.clock = VirtualClock()
        started = datetime.combine(scenario.date, CALL_TIME, CHINA) if scenario.date else None
        conversation = Conversation(f"train-{scenario.id}-{seed}", (), scenario.channel, started_at=started,
                                    metadata={**scenario.metadata, "training": scenario.id})
        self.live = LiveSession(engine, conversation, clock=self.clock, meaning=meaning)
        self.answers: list[Answer] = []
        self.heard: dict[int, str] = {}  # the customer's turns as the trainee heard them (reworded or not)
        self.path: list[str] = []  # the states entered, in order
        self.outcome: Outcome | None = None
        self._quiet_since = 0.0  # the latest turn's end, or when the current state was entered
        self._opening = self._enter(scenario.start)

    # -- the conversation -----------------------------------------------------------------------

    @property
    def conversation(self) -> Conversation:
        return self.live.conversation

    @property
    def state(self) -> str:
        return self.path[-1]

    @property
    def finished(self) -> bool:
        return self.outcome is not None

    def opening(self) -> Progress:
        """What the customer said before the trainee's first answer (a chat's first message)."""
        return Progress(self._opening, self.hints(), self.finished)

    def hints(self) -> list[dict[str, Any]]:
        return self.live.hints() if self.hints_on else []

    # -- answers --------------------------------------------------------------------------------

    def answer(self, answer: Answer | str) -> Progress:
        """The trainee's next answer: a reply, or a wait (``[等待 N]``)."""
        answer = parse_answer(answer if isinstance(answer, str) else answer.to_line())
        if self.finished:
            raise AnswerError("对话已经结束,不能再回答")
        self.answers.append(answer)
        if isinstance(answer, Wait):
            said = self._wait(answer.seconds)
        elif isinstance(answer, Spoken):
            said = self._reply(*self._hear(answer))
        else:
            said = self._reply(answer.text)
        return Progress(said, self.hints(), self.finished)

    def finish(self) -> Outcome:
        """End the attempt: the outcome reached, or abandoned when the customer is not done."""
        if self.outcome is None:
            self.outcome = Outcome.ABANDONED
        return self.outcome

    def _hear(self, answer: Spoken) -> tuple[str, tuple[float, Voice, Recognition]]:
        """A spoken answer's words (the listener's) and how it was said: its length, voice and
        recognition, measured as a recording's turn (speech rate, level, sentence ends: S-H1…S-H3)."""
        import soundfile

        from guifan.audio.frontend import measure_utterance

        if self.listener is None:
            raise AnswerError("录音回答需要语音识别:请用 --asr 指定识别后端 (如 faster-whisper)")
        path = self.recordings / answer.path
        try:
            data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
        except (OSError, RuntimeError) as exc:  # missing, or not audio soundfile can decode
            raise AnswerError(f"{path}: 无法读取录音 ({exc})") from None
        samples = data[:, 0]
        measured = measure_utterance(samples, rate, Role.AGENT)
        if measured is None:
            raise AnswerError(f"{path}: 录音中没有听到说话")
        start, end, voice = measured
        heard = self.listener.recognize(samples[int(start * rate):int(end * rate)], rate)
        recognition = Recognition(self.listener.name, heard.confidence, heard.no_speech)
        return heard.text.strip(), (round(end - start, 2), voice, recognition)

    def _reply(self, text: str, spoken: tuple[float, Voice, Recognition] | None = None) -> list[tuple[int, str]]:
        index = self._speak(Role.AGENT, text, spoken)
        view = self.live.ctx.turns[index]
        state = self.scenario.states[self.state]
        for transition in (*self.scenario.always, *state.next):
            if self.holds(transition.when, view):
                return self._enter(transition.goto)
        return []

    def _wait(self, seconds: float) -> list[tuple[int, str]]:
        """Let ``seconds`` pass: the current state's timeouts fire in order, each a new state (and
        usually the customer speaking), until the time is up or the customer is done."""
        said: list[tuple[int, str]] = []
        until = self.clock.now + seconds
        while not self.finished:
            timeouts = [t for t in self.scenario.states[self.state].wait if self._quiet_since + t.seconds <= until]
            if not timeouts:
                break
            timeout = min(timeouts, key=lambda t: t.seconds)
            # The customer's line starts when the silence reaches the timeout.
            self.clock.now = max(self.clock.now, self._quiet_since + timeout.seconds - RESPONSE_SECONDS)
            said += self._enter(timeout.goto)
        self.clock.now = max(self.clock.now, until)
        self.live.tick()  # timer hints (a long hold, a silent call) fall due on the session's clock
        return said

    def _enter(self, name: str) -> list[tuple[int, str]]:
        state: State = self.scenario.states[name]
        visit = self.path.count(name)
        self.path.append(name)
        self._quiet_since = self.clock.now
        said = []
        if state.say:
            line = pick(state.say, self.seed, self.scenario.id, name, visit)
            # The trainee hears the rewording; the conversation graded holds the scenario's own line.
            heard = self.voice.reword(line, scenario=self.scenario, state=name) or line if self.voice else line
            index = self._speak(Role.CUSTOMER, line)
            self.heard[index] = heard
            said.append((index, heard))
        if state.end is not None:
            self.outcome = state.end
        return said

    def _speak(self, role: Role, text: str, spoken: tuple[float, Voice, Recognition] | None = None) -> int:
        """A turn said now: as long as its words take, or as its recording (``spoken``: seconds,
        voice, recognition)."""
        start = round(self.clock.now + RESPONSE_SECONDS, 2)
        end = round(start + (spoken[0] if spoken else duration(text)), 2)
        self.clock.now = end
        if spoken:
            self.live.add(role.value, text, start, end, voice=spoken[1], asr=spoken[2])
        else:
            self.live.add(role.value, text, start, end)
        self._quiet_since = end
        return len(self.live.ctx.turns) - 1

    # -- what the trainee did -------------------------------------------------------------------

    def holds(self, when: Condition, view: TurnView) -> bool:
        """Whether the agent's turn ``view`` does what ``when`` asks, as the engine sees it."""
        return does(when, view) and (not when.faulted or self._faulted(view, when.faulted))

    def _faulted(self, view: TurnView, clauses: tuple[str, ...]) -> bool:
        """The engine's rules of ``clauses`` fault this turn, in the conversation so far."""
        engine, ctx = self.engine, self.live.ctx
        for rule, severity in engine.planned(ctx):
            if not any(clause_matches(c, clauses) for c in rule.clauses):
                continue
            for finding in engine.findings_of(rule, severity, ctx):
                if finding.turn == view.index and any(clause_matches(c, clauses) for c in finding.clauses):
                    return True
        return False

    # -- state ----------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """JSON state: enough to restore the attempt (``restore``) and to show it."""
        return {
            "scenario": self.scenario.id,
            "seed": self.seed,
            "hints": self.hints_on,
            "meaning": self.meaning,
            "answers": [a.to_dict() for a in self.answers],
            "state": self.state,
            "path": list(self.path),
            "outcome": self.outcome.value if self.outcome else None,
            "clock": self.clock.now,
            "turns": [{"role": t.role.value, "text": t.text, "start": t.start, "end": t.end}
                      for t in self.conversation.turns],
        }

    @classmethod
    def restore(cls, data: dict[str, Any], scenarios: dict[str, Scenario], engine: Engine,
                voice: CustomerVoice | None = None, listener: Transcriber | None = None,
                recordings: Path | None = None) -> TrainingSession:
        """The attempt of ``to_dict``, played again from its answers (deterministic: the same
        conversation; an abandoned attempt stays abandoned)."""
        scenario = scenarios.get(data.get("scenario"))
        if scenario is None:
            raise ScenarioError(f"没有场景 {data.get('scenario')!r}")
        session = cls(scenario, engine, seed=int(data.get("seed", 0)), hints=bool(data.get("hints", True)),
                      meaning=bool(data.get("meaning", False)), voice=voice, listener=listener,
                      recordings=recordings)
        for item in data.get("answers", []):
            if "wait" in item:
                session.answer(Wait(float(item["wait"])))
            elif "spoken" in item:
                session.answer(Spoken(str(item["spoken"])))
            else:
                session.answer(Say(str(item["say"])))
        if data.get("outcome") == Outcome.ABANDONED and not session.finished:
            session.finish()
        return session
