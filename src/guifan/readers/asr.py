"""Transcripts that speech recognition already produced: FunASR, Whisper (WhisperX) and sentence-level
JSON with speaker or channel and begin/end times (Alibaba Cloud, iFlytek and most call-centre ASR).

Each becomes the interchange shape (``{"id", "channel": "phone", "turns": [{"role", "text",
"start", "end"}]}``), one turn per recognized sentence, times in seconds, so every timing clause
works without the audio. The shapes are described in docs/input-formats.md.

Speakers become roles through, in order: a ``roles`` object (``{"0": "agent", "1": "customer"}``,
keyed by speaker or channel), ``agent_speaker`` / ``agent_channel``, a role word as the speaker
("agent", "客服" …), or else the first speaker heard is taken as the agent (an inbound call opens
with the agent's greeting) and ``metadata.roles_guessed`` says so.
"""

from __future__ import annotations

import math
from typing import Any

from guifan.readers.fields import ROLE_ALIASES, FieldError, type_name

# (list key, the shape's name, times in milliseconds?)
_SHAPES = (
    ("sentence_info", "FunASR", True),
    ("Sentences", "sentences", True),  # Alibaba Cloud file transcription
    ("sentences", "sentences", False),
    ("utterances", "sentences", False),
    ("segments", "Whisper", False),
)
SHAPES = _SHAPES
_TEXT = ("text", "Text", "onebest", "transcript", "content")
_START = ("start", "begin", "BeginTime", "begin_time", "start_time", "bg")
_END = ("end", "EndTime", "end_time", "ed")
_SPEAKER = ("role", "speaker", "spk", "SpeakerId", "speaker_id", "channel", "ChannelId", "channel_id")
_MS_KEYS = {"BeginTime", "EndTime", "bg", "ed"}


def is_asr(obj: dict) -> bool:
    return "turns" not in obj and any(isinstance(obj.get(key), list) for key, _, _ in _SHAPES)


Row = tuple[str, str | None, float, float, int]  # speaker, text (None: none given), start, end, index


def rows(obj: dict, *, text_required: bool = True, shapes: tuple = _SHAPES) -> tuple[str, str, list[Row]]:
    """The list key, the shape's name and one row per recognized sentence (in the file's order,
    times in seconds); FieldError names the offending field. Without ``text_required`` a sentence
    may lack text (diarization output: who spoke when, no words)."""
    key, shape, ms = next((k, s, m) for k, s, m in shapes if isinstance(obj.get(k), list))
    unit = obj.get("time_unit")
    if unit is not None and unit not in ("ms", "s"):
        raise FieldError(f"应为 ms 或 s,而不是 {unit!r}", "time_unit")
    items = obj[key]
    if not items:
        raise FieldError("没有任何识别结果", key)
    found: list[Row] = []
    for index, item in enumerate(items):
        where = f"{key}[{index}]"
        if not isinstance(item, dict):
            raise FieldError(f"应为对象,而不是{type_name(item)}", where)
        text = _first(item, _TEXT)
        if text is None:
            if text_required:
                raise FieldError("缺少识别文本 (text)", where)
        elif not isinstance(text, str):
            raise FieldError("缺少识别文本 (text)" if text_required else f"识别文本应为字符串,而不是{type_name(text)}", where)
        start_key = next((k for k in _START if k in item), None)
        end_key = next((k for k in _END if k in item), None)
        if start_key is None or end_key is None:
            raise FieldError("缺少开始或结束时间 (start/end)", where)
        scale = 0.001 if (unit == "ms" or (unit is None and (ms or start_key in _MS_KEYS))) else 1.0
        try:
            start, end = float(item[start_key]) * scale, float(item[end_key]) * scale
        except (TypeError, ValueError, OverflowError):
            start = end = math.nan
        if not (math.isfinite(start) and math.isfinite(end)):
            raise FieldError("开始和结束时间应为有限的数字", where)
        speaker = _first(item, _SPEAKER)
        if speaker is None:
            hint = "Whisper 需要带说话人 (speaker) 的结果,如 WhisperX 的说话人分离" if shape == "Whisper" else ""
            raise FieldError(f"缺少说话人或声道 (speaker/channel){';' + hint if hint else ''}", where)
        found.append((str(speaker), text.strip() if text is not None else None, round(start, 3), round(end, 3), index))
    return key, shape, found


def from_asr(obj: dict, default_id: str) -> dict[str, Any]:
    """The interchange object for one ASR result; FieldError names the offending field."""
    _key, shape, found = rows(obj)
    roles, guessed = speaker_roles(obj, found)
    metadata = dict(obj.get("metadata") or {}) if isinstance(obj.get("metadata"), dict) else {}
    metadata["asr_format"] = shape
    if guessed:
        metadata["roles_guessed"] = "first_speaker_is_agent"
    return {
        "id": obj.get("id") or obj.get("key") or default_id,
        "channel": obj.get("channel") if isinstance(obj.get("channel"), str) else "phone",
        "started_at": obj.get("started_at"),
        "agent_id": obj.get("agent_id"),
        "metadata": metadata,
        "turns": [
            {"role": roles[speaker], "text": text, "start": start, "end": end}
            for speaker, text, start, end, _ in sorted(found, key=lambda r: (r[2], r[3]))
            if text
        ],
    }


def _first(item: dict, keys: tuple[str, ...]) -> Any:
    return next((item[k] for k in keys if k in item), None)


def speaker_roles(obj: dict, found: list[Row]) -> tuple[dict[str, str], bool]:
    """Speaker -> role word, and whether the roles were guessed (the first speaker heard is the agent)."""
    speakers = list(dict.fromkeys(s for s, *_ in sorted(found, key=lambda r: r[2])))
    given = obj.get("roles")
    if given is not None:
        if not isinstance(given, dict):
            raise FieldError(f"应为 说话人 → 角色 的对象,而不是{type_name(given)}", "roles")
        mapping = {str(k): str(v) for k, v in given.items()}
        missing = [s for s in speakers if s not in mapping]
        if missing:
            raise FieldError(f"没有说话人 {', '.join(missing)} 的角色", "roles")
        return mapping, False
    agent = obj.get("agent_speaker", obj.get("agent_channel"))
    if agent is not None:
        return {s: "agent" if s == str(agent) else "customer" for s in speakers}, False
    if all(s.lower() in ROLE_ALIASES for s in speakers):
        return {s: s.lower() for s in speakers}, False
    return {s: "agent" if i == 0 else "customer" for i, s in enumerate(speakers)}, True
