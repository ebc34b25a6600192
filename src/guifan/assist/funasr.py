"""FunASR's WebSocket server messages (runtime ``funasr-wss-server-2pass``), read as turns.

FunASR streams one audio channel per connection and answers with JSON messages
(``runtime/docs/websocket_protocol.md`` of modelscope/FunASR)::

    {"mode": "2pass-online", "wav_name": "…", "text": "我要投", "is_final": false}
    {"mode": "2pass-offline", "wav_name": "…", "text": "我要投诉你们的快递员。", "is_final": false,
     "timestamp": "[[12400,12640],[12640,12900]]", "stamp_sents": [{"start": 12400, "end": 15000, …}]}

``2pass-online`` results are increments of the sentence being spoken (FunASR's own clients append
them); a ``2pass-offline`` result is the corrected sentence once voice activity detection ends it,
and replaces the increments. ``is_final`` marks the end of the stream (after the client's
``{"is_speaking": false}``), not of a sentence. ``online`` / ``offline`` (single-mode servers) read
the same way. Times are milliseconds from the start of the stream.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Mapping

MODES = ("2pass-online", "2pass-offline", "online", "offline")
MAX_TEXT = 10_000


class FunAsrError(ValueError):
    """A message that is not FunASR's (the Chinese text names the field)."""


@dataclass(frozen=True, slots=True)
class Recognized:
    """What one message says about the speaker's current sentence."""

    text: str
    final: bool  # the sentence is complete (offline result, or the stream ended)
    start: float | None = None  # seconds from the start of the stream (plus its offset)
    end: float | None = None


class FunAsrStream:
    """One speaker's stream: online increments build the partial sentence, an offline result (or
    the end of the stream) makes it final."""

    def __init__(self, offset: float = 0.0):
        self.offset = offset
        self.partial = ""
        self._start: float | None = None

    def read(self, message: Mapping[str, Any]) -> Recognized | None:
        """The sentence as it now stands, or None when the message adds nothing (an empty end-of-
        stream message). Raises ``FunAsrError`` for a message that is not FunASR's."""
        if not isinstance(message, Mapping):
            raise FunAsrError("FunASR 消息应为 JSON 对象")
        mode = message.get("mode")
        if mode not in MODES:
            raise FunAsrError(f"FunASR 消息字段 mode: 应为 {'、'.join(MODES)} 之一")
        text = message.get("text", "")
        if not isinstance(text, str):
            raise FunAsrError("FunASR 消息字段 text: 应为文本")
        ended = message.get("is_final", False)
        if not isinstance(ended, bool):
            raise FunAsrError("FunASR 消息字段 is_final: 应为 true 或 false")
        start, end = _times(message)
        if start is not None:
            start, end = start + self.offset, end + self.offset
        if mode.endswith("offline"):
            sentence = text or self.partial
            start = start if start is not None else self._start
            self.partial, self._start = "", None
            return Recognized(sentence, True, start, end) if sentence else None
        self.partial += text
        if len(self.partial) > MAX_TEXT:
            raise FunAsrError(f"FunASR 识别中的句子超过 {MAX_TEXT} 个字符")
        if self._start is None:
            self._start = start
        if ended:
            sentence, first = self.partial, self._start
            self.partial, self._start = "", None
            return Recognized(sentence, True, first, end) if sentence else None
        return Recognized(self.partial, False, self._start, end) if self.partial else None


def _times(message: Mapping[str, Any]) -> tuple[float | None, float | None]:
    """(start, end) in seconds from ``timestamp`` (a JSON string of [start_ms, end_ms] pairs) or
    ``stamp_sents`` (start/end in ms); (None, None) when the model gives neither."""
    pairs: list[tuple[float, float]] = []
    raw = message.get("timestamp")
    if isinstance(raw, str) and raw.strip():
        try:
            raw = json.loads(raw)
        except ValueError:
            raise FunAsrError("FunASR 消息字段 timestamp: 应为 [[开始毫秒, 结束毫秒], …]") from None
    if isinstance(raw, list):
        pairs += [(p[0], p[1]) for p in raw if isinstance(p, (list, tuple)) and len(p) >= 2]
    sentences = message.get("stamp_sents")
    if not pairs and isinstance(sentences, list):
        pairs += [(s.get("start"), s.get("end")) for s in sentences if isinstance(s, Mapping)]
    numbers = [(a, b) for a, b in pairs if _number(a) and _number(b)]
    if not numbers:
        return None, None
    start, end = min(a for a, _ in numbers) / 1000, max(b for _, b in numbers) / 1000
    if start < 0 or end < start:
        raise FunAsrError("FunASR 消息的时间戳无效")
    return start, end


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
