"""Raw call audio in a live session: one PCM stream per speaker, turned into turns and states.

A desktop that streams the call's audio (16-bit PCM, 8 or 16 kHz, one stream per channel) gets
from each stream (``guifan.audio.stream.ChannelStream``): whether the speaker is talking and since
when (the silent-customer and hold timers count from the last speech heard, the call's clock from
the audio itself), partial turns every half second while someone talks (an agent talking over a
customer who has not finished is warned at once, S-H4), and final turns measured like a recording's
(speech rate, level, pitch: S-H1…S-H3; the agent's rate over their latest 30 s, S-H1).

Where the words come from, per stream (``words``):

* ``server``: the server's recognizer (``guifan serve --assist-asr``). A streaming one
  (sherpa-onnx online) gives words with every partial; any other recognizes each turn when it ends.
* ``client``: the call center's own recognizer sends the words as turns (generic or FunASR, times
  on the audio's clock); the stream gives those turns their voice, and partials only while the
  client has none open for that speaker.
* ``none``: no words; the turns carry their voice only, as ``guifan check call.wav`` without
  speech recognition, and only the rules that need no words run on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from guifan.assist.live import AssistError, LiveSession, Update
from guifan.audio.asr import Transcriber
from guifan.audio.stream import RATES, ChannelStream, Spoken
from guifan.model import CallAudio, Interval, Recognition, Role

WORDS = ("server", "client", "none")
MAX_CHUNK = 64_000  # bytes of PCM in one message: 2 s at 16 kHz


@dataclass
class _Source:
    stream: ChannelStream
    words: str
    utterance: Any = None  # the streaming recognizer's open utterance (``server`` with sherpa online)
    given: int = 0  # samples of the open turn already given to it


class LiveAudio:
    """The audio streams of one live session."""

    def __init__(self, session: LiveSession, transcriber: Transcriber | None = None):
        self.session = session
        self.transcriber = transcriber
        self.sources: dict[Role, _Source] = {}  # a stream ended stays, measured, until another opens
        self._speech: dict[Role, list[Interval]] = {Role.AGENT: [], Role.CUSTOMER: []}

    def open(self, role: str, rate: int, words: str | None = None, offset: float | None = None) -> dict[str, Any]:
        """Start (or restart) the stream of ``role``; ``offset``: where its first sample lies on the
        call's clock (default: the session's clock now)."""
        speaker = {"agent": Role.AGENT, "customer": Role.CUSTOMER}.get(role)
        if speaker is None:
            raise AssistError(422, "字段 role: 应为 agent 或 customer 之一")
        if rate not in RATES:
            raise AssistError(422, f"字段 rate: 应为 {' 或 '.join(str(r) for r in RATES)}(16 位 PCM 单声道)")
        words = words or ("server" if self.transcriber is not None else "none")
        if words not in WORDS:
            raise AssistError(422, f"字段 words: 应为 {'、'.join(WORDS)} 之一")
        if words == "server" and self.transcriber is None:
            raise AssistError(422, "服务器没有配置语音识别(guifan serve --assist-asr):请改用 words=client 或 none")
        if offset is not None and not 0 <= offset <= 86_400:
            raise AssistError(422, "字段 offset: 应为 0–86400 秒")
        start = self.session.now() if offset is None else offset
        self.sources[speaker] = _Source(ChannelStream(speaker, rate, offset=start), words)
        self.session.voice_source = self.voice_of
        self._measured()
        return {"role": role, "rate": rate, "words": words, "offset": round(start, 3)}

    def feed(self, role: Role, pcm: bytes) -> list[Update]:
        """PCM of ``role``'s stream: the updates of the turns it opened, grew or closed."""
        source = self._source(role)
        if len(pcm) > MAX_CHUNK:
            raise AssistError(413, f"音频块过大(最多 {MAX_CHUNK} 字节)")
        if len(pcm) % 2:
            raise AssistError(422, "音频应为 16 位 PCM:字节数必须是偶数")
        heard = source.stream.feed(pcm)
        if any(spoken.final for spoken in heard):
            self._measured(spoken for spoken in heard if spoken.final)
        updates = [self._spoken(source, spoken) for spoken in heard]
        self.session.observe(max(s.stream.now for s in self.sources.values()))
        return [u for u in updates if u is not None]

    def close(self, role: Role) -> list[Update]:
        """The end of ``role``'s stream: its open turn is final."""
        source = self._source(role)
        heard = source.stream.flush()
        self._measured(heard)
        updates = [self._spoken(source, spoken) for spoken in heard]
        return [u for u in updates if u is not None]

    def voice_of(self, role: Role, start: float | None, end: float | None):
        """The voice heard in [start, end) on ``role``'s stream, for a turn whose words the client sent."""
        source = self.sources.get(role)
        if source is None or source.words != "client" or start is None or end is None:
            return None
        return source.stream.voice_between(start, end)

    def state(self) -> dict[str, Any]:
        """Who is talking, and since when (the call's clock)."""
        return {role.value: {"speaking": s.stream.speaking, "since": round(s.stream.since, 3), "words": s.words}
                for role, s in self.sources.items()}

    def _measured(self, finals: Iterable[Spoken] = ()) -> None:
        """The call's audio as measured so far, for the session's rules: the speech heard per side,
        and whether the words come from a recognizer at all."""
        for spoken in finals:
            self._speech[spoken.role].append(Interval(spoken.start, spoken.end))
        streams = list(self.sources.values())
        worded = [s.words for s in streams if s.words != "none"]
        self.session.hear(CallAudio(
            duration=max(s.stream.now for s in streams), sample_rate=max(s.stream.rate for s in streams),
            agent_speech=tuple(self._speech[Role.AGENT]), customer_speech=tuple(self._speech[Role.CUSTOMER]),
            transcriber=(self.transcriber.name if "server" in worded else "client") if worded else None,
        ))

    def _source(self, role: Role) -> _Source:
        source = self.sources.get(role)
        if source is None:
            raise AssistError(409, f"{'客服' if role is Role.AGENT else '客户'}的音频流尚未开始(先发送 audio 消息)")
        return source

    def _spoken(self, source: _Source, spoken: Spoken) -> Update | None:
        role = spoken.role.value
        if source.words == "client":
            if spoken.final or spoken.role in self.session.open_partials:
                return None  # the client's own words make the turns
            return self.session.add(role, "", spoken.start, spoken.end, False, voice=spoken.voice)
        text, asr = "", None
        if source.words == "server":
            text, asr = self._recognize(source, spoken)
        return self.session.add(role, text, spoken.start, spoken.end, spoken.final, voice=spoken.voice, asr=asr)

    def _recognize(self, source: _Source, spoken: Spoken) -> tuple[str, Recognition | None]:
        transcriber = self.transcriber
        assert transcriber is not None
        stream = source.stream
        if getattr(transcriber, "streaming", False):
            if source.utterance is None:
                source.utterance, source.given = transcriber.open(), 0
            fresh = spoken.samples[source.given:] if spoken.final else stream.open_samples(source.given)
            source.given += fresh.size
            text = source.utterance.accept(fresh, stream.rate)
            if not spoken.final:
                return text, Recognition(transcriber.name)
            heard = source.utterance.finish()
            source.utterance = None
        elif not spoken.final:
            return "", None  # the words come when the turn ends
        else:
            heard = transcriber.recognize(spoken.samples, stream.rate)
        return heard.text.strip(), Recognition(transcriber.name, heard.confidence, heard.no_speech)
