"""Field values shared by every reader, and the one place where a conversation is validated.

Readers only find raw values in their files (a JSON value, a CSV string, an Excel cell) and put
them in a mapping shaped like the interchange JSON; `build` turns that mapping into a
`Conversation` or raises `FieldError` saying which key of which turn is wrong, and the reader
translates that into its own location (a JSON path, a CSV row and column, a text line).
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, time, timedelta
from typing import Any, Iterable

from guifan.model import CallAudio, Channel, Conversation, Interval, Recognition, Role, Turn, Voice


class FieldError(ValueError):
    """A value that cannot be used. `key` names the field, `index` the turn it belongs to (if any)."""

    def __init__(self, message: str, key: str | None = None, index: int | None = None):
        super().__init__(message)
        self.message = message
        self.key = key
        self.index = index


MISSING = "缺少必填字段"

# Bounds on what one conversation may hold. Real turns are far shorter (a chat message, a few
# minutes of recognized speech); the bounds keep one absurd input from taking gigabytes and
# minutes of the batch, and keep ids within the workspace's columns.
MAX_TURNS = 10_000
MAX_TURN_CHARS = 20_000
MAX_ID_CHARS = 200
MAX_AGENT_ID_CHARS = 64
MAX_SECONDS = 31 * 24 * 3600  # a conversation longer than a month is not one conversation
YEARS = (1970, 2100)  # started_at outside these years is a typing or export error
# A lone UTF-16 surrogate ("\ud800" in JSON) cannot be written as UTF-8 by any report.
_SURROGATE = re.compile("[\ud800-\udfff]")

ROLE_ALIASES: dict[str, Role] = {
    "agent": Role.AGENT, "客服": Role.AGENT, "坐席": Role.AGENT, "座席": Role.AGENT,
    "customer": Role.CUSTOMER, "客户": Role.CUSTOMER, "用户": Role.CUSTOMER, "顾客": Role.CUSTOMER,
    "system": Role.SYSTEM, "系统": Role.SYSTEM,
}
CHANNEL_ALIASES: dict[str, Channel] = {
    "phone": Channel.PHONE, "电话": Channel.PHONE, "语音": Channel.PHONE, "通话": Channel.PHONE,
    "热线": Channel.PHONE, "chat": Channel.CHAT, "在线": Channel.CHAT, "文字": Channel.CHAT,
    "聊天": Channel.CHAT, "在线客服": Channel.CHAT, "im": Channel.CHAT,
}


def speaker_pattern(extra: Iterable[str] = ()) -> str:
    """Regex for a speaker name: a role word, optionally followed by a short name or number.

    "客服小王", "坐席(1024)" and "agent_2" are agents; Latin words must end there, so that
    "admin" or "systematic" are not read as a role. The role word is captured as `who`.
    """
    chinese = [k for k in ROLE_ALIASES if not k.isascii()]
    latin = [k for k in ROLE_ALIASES if k.isascii()] + list(extra)
    return (
        rf"(?P<who>{'|'.join(chinese)}|(?:{'|'.join(latin)})(?![a-z]))"
        r"(?:\s*[\(（\[【][^\)）\]】]*[\)）\]】]|[^\s:：]{0,8}?)"
    )


_SPEAKER_NAME = re.compile(rf"^{speaker_pattern()}$", re.IGNORECASE)


def parse_role(value: Any) -> Role:
    role = ROLE_ALIASES.get(value) if isinstance(value, str) else None
    if role is not None:  # the common case, without a regex
        return role
    if value is None or (isinstance(value, str) and not value.strip()):
        raise FieldError(MISSING, "role")
    if isinstance(value, str):
        match = _SPEAKER_NAME.match(value.strip())
        if match:
            return ROLE_ALIASES[match["who"].lower()]
    raise FieldError(f"无法识别的角色 {value!r} (应为 agent / customer / system,或 客服 / 客户 / 系统)", "role")


def parse_channel(value: Any) -> Channel:
    if value is None or value == "":
        return Channel.CHAT
    channel = CHANNEL_ALIASES.get(value.strip().lower()) if isinstance(value, str) else None
    if channel is None:
        raise FieldError(f"无法识别的渠道 {value!r} (应为 phone 或 chat,或 电话 / 在线)", "channel")
    return channel


def parse_identifier(value: Any, key: str, limit: int = MAX_ID_CHARS) -> str | None:
    """Ids may be numbers in JSON and Excel; 1024.0 from a spreadsheet means "1024"."""
    if value is None:
        return None
    if isinstance(value, str):
        found = value.strip() or None
    elif isinstance(value, int) and not isinstance(value, bool) and value.bit_length() <= 4 * limit:
        found = str(value)
    elif isinstance(value, float) and math.isfinite(value):
        found = str(int(value)) if value.is_integer() else str(value)
    else:
        raise FieldError(f"应为字符串或数字,而不是 {_shown(value)}", key)
    if found is not None:
        if len(found) > limit:
            raise FieldError(f"过长 ({len(found)} 个字符,最多 {limit})", key)
        writable(found, key)
    return found


def writable(value: str, key: str) -> str:
    """A string that can be written to a report: no lone surrogate."""
    bad = _SURROGATE.search(value)
    if bad:
        raise FieldError(f"含无效字符 (孤立的 UTF-16 代理 \\u{ord(bad.group()):04x},第 {bad.start() + 1} 个字符)", key)
    return value


def _shown(value: Any, limit: int = 40) -> str:
    """A value quoted in a message, cut short: messages never carry a whole transcript."""
    if isinstance(value, int) and value.bit_length() > 128:  # repr() fails past 4,300 digits
        return f"约 {int(value.bit_length() * math.log10(2)) + 1} 位的整数"
    shown = repr(value)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


_DATE_TIME = re.compile(
    r"^(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})(?:(?P<sep>[ T]+)(?P<h>\d{1,2})(?P<rest>:.*))?$"
)


def parse_datetime(value: Any, key: str = "started_at") -> datetime | None:
    """ISO 8601; also the "2026/2/17 10:00" that spreadsheets and chat exports write."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return _plausible(value, key)
    if isinstance(value, date):
        return _plausible(datetime(value.year, value.month, value.day), key)
    if isinstance(value, str):
        text = value.strip()
        match = _DATE_TIME.match(text)
        if match:  # zero-pad and use "-" so that fromisoformat accepts it
            text = f"{match['y']}-{int(match['m']):02d}-{int(match['d']):02d}"
            if match["h"]:
                text += f"T{int(match['h']):02d}{match['rest']}"
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            pass
        else:
            return _plausible(value, key)
    raise FieldError(f"{_shown(value)} 不是 ISO 8601 时间 (如 2026-02-17T10:00:00+08:00)", key)


def _plausible(moment: datetime, key: str) -> datetime:
    if not YEARS[0] <= moment.year <= YEARS[1]:
        raise FieldError(f"{moment.isoformat()} 不在合理的年份范围 ({YEARS[0]}–{YEARS[1]})", key)
    return moment


_NUMBER = re.compile(r"^[+]?(?:\d+(?:\.\d*)?|\.\d+)$")
_CLOCK = re.compile(r"^(?:(?P<h>\d+):)?(?P<m>\d{1,2}):(?P<s>\d{1,2}(?:[.,]\d+)?)$")


def parse_clock(value: str) -> float:
    """'01:02:03.5' -> 3723.5, '02:03' -> 123.0, '7.25' -> 7.25 (no range checks)."""
    seconds = 0.0
    for part in value.replace(",", ".").split(":"):
        seconds = seconds * 60 + float(part)
    return seconds


def parse_time(value: Any, key: str) -> float | datetime | None:
    """Seconds from the start of the conversation, or an absolute time stamp (chat exports).

    Accepts numbers, numeric strings, mm:ss / hh:mm:ss(.fff), Excel time and duration cells,
    and date-times; None or "" means no time.
    """
    if value is None or value == "":
        return None
    seconds: float | None = None
    if value.__class__ is float:  # the common case first
        seconds = value
    elif isinstance(value, bool):
        pass
    elif isinstance(value, (int, float)):
        seconds = _float(value)
    elif isinstance(value, datetime):
        return value
    elif isinstance(value, time):
        seconds = value.hour * 3600 + value.minute * 60 + value.second + value.microsecond / 1e6
    elif isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, str):
        text = value.strip()
        clock = _CLOCK.match(text)
        if _NUMBER.match(text):
            seconds = _float(text)
        elif clock and float(clock["s"].replace(",", ".")) < 60 and (clock["h"] is None or int(clock["m"]) < 60):
            # "75:30" is fine (long recordings count minutes past 59); "1:75:00" and "1:75" are not.
            seconds = parse_clock(text)
        elif _DATE_TIME.match(text):
            return parse_datetime(text, key)
    if seconds is None:
        raise FieldError(f"{_shown(value)} 不是数字 (应为秒数如 12.5,或 mm:ss / hh:mm:ss)", key)
    if not math.isfinite(seconds):
        raise FieldError(f"{_shown(value)} 超出数值范围", key)
    if seconds < 0:
        raise FieldError(f"{_shown(value)} 不能为负数", key)
    if seconds > MAX_SECONDS:
        raise FieldError(f"{_shown(value)} 秒超出合理范围 (一通对话最长 {MAX_SECONDS // 86400} 天)", key)
    return seconds


def _float(value: int | float | str) -> float:
    """float() that gives inf, not OverflowError, for a number too big for a float."""
    try:
        return float(value)
    except OverflowError:
        return math.inf


def resolve_times(pairs: list[tuple[Any, Any]]) -> tuple[list[tuple[float | None, float | None]], datetime | None]:
    """Parse every turn's (start, end) into seconds from the start of the conversation.

    Absolute time stamps (a chat export's send times) become offsets from the earliest stamp,
    which is returned so that it can serve as `started_at`. A turn with only a start is an
    instant (end = start), like a chat message.
    """
    parsed: list[tuple[Any, Any]] = []
    for index, (start, end) in enumerate(pairs):
        try:
            parsed.append((parse_time(start, "start"), parse_time(end, "end")))
        except FieldError as exc:
            exc.index = index
            raise
    origin = None
    if any(isinstance(value, datetime) for pair in parsed for value in pair):
        origin = _origin(parsed)
    result: list[tuple[float | None, float | None]] = []
    for index, (start, end) in enumerate(parsed):
        if origin is not None:
            start = (start - origin).total_seconds() if start is not None else None
            end = (end - origin).total_seconds() if end is not None else None
        if end is None:
            end = start
        elif start is None:
            raise FieldError("有结束时间却没有开始时间", "start", index)
        elif end < start:
            raise FieldError(f"结束时间 {end:g} 秒早于开始时间 {start:g} 秒", "end", index)
        result.append((start, end))
    return result, origin


def _origin(parsed: list[tuple[Any, Any]]) -> datetime:
    """The earliest stamp, once every time is known to be a stamp of the same kind."""
    values = [(index, key, value) for index, pair in enumerate(parsed)
              for key, value in zip(("start", "end"), pair) if value is not None]
    first = values[0][2]
    for index, key, value in values:
        if isinstance(value, datetime) != isinstance(first, datetime):
            raise FieldError("同一对话中不能混用时间戳和秒数", key, index)
        if isinstance(value, datetime) and (value.tzinfo is None) != (first.tzinfo is None):
            raise FieldError("同一对话中的时间戳有的带时区,有的不带", key, index)
    return min(value for _, _, value in values)


def scalar(value: str) -> Any:
    """A metadata value written as text: "8" is the number 8 (rules compare ring_seconds etc.)."""
    value = value.strip()
    for kind in (int, float):
        try:
            number = kind(value)
        except ValueError:
            continue
        return number if math.isfinite(number) else value
    return value


def type_name(value: Any) -> str:
    """The JSON name of a value's type, for messages."""
    if value is None:
        return "null"
    for kind, name in ((bool, "布尔值"), ((int, float), "数字"), (str, "字符串"), (dict, "对象"), (list, "列表")):
        if isinstance(value, kind):
            return name
    return type(value).__name__


def _turn(raw: Any, index: int) -> tuple[Role, str]:
    if not isinstance(raw, dict):
        raise FieldError(f"应为对象,而不是{type_name(raw)}", None, index)
    try:
        role = parse_role(raw.get("role"))
        text = raw.get("text")
        if text is None:
            raise FieldError(MISSING, "text")
        if not isinstance(text, str):
            raise FieldError(f"应为字符串,而不是{type_name(text)}", "text")
        if len(text) > MAX_TURN_CHARS:
            raise FieldError(f"过长 ({len(text)} 个字符,一轮最多 {MAX_TURN_CHARS});请检查导出是否把整通对话写进了一轮", "text")
        writable(text, "text")
    except FieldError as exc:
        exc.index = index
        raise
    return role, text


_VOICE_FIELDS = {"speech_seconds": float, "level_dbfs": float, "syllables": int, "pitch_hz": float, "final_pitch_hz": float}


def _number(value: Any, key: str, kind: type) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FieldError(f"应为数字,而不是{type_name(value)}", key)
    if not math.isfinite(_float(value)):
        raise FieldError(f"{_shown(value)} 超出数值范围", key)
    if kind is int and value != int(value):
        raise FieldError(f"应为整数,而不是 {value!r}", key)
    return kind(value)


def parse_voice(raw: Any, index: int) -> Voice | None:
    """A turn's voice measurements (see `Voice`); ``speech_seconds`` is required."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise FieldError(f"应为对象,而不是{type_name(raw)}", "voice", index)
    values = {}
    for name, kind in _VOICE_FIELDS.items():
        if raw.get(name) is not None:
            try:
                values[name] = _number(raw[name], f"voice.{name}", kind)
            except FieldError as exc:
                exc.index = index
                raise
    if "speech_seconds" not in values:
        raise FieldError(MISSING, "voice.speech_seconds", index)
    return Voice(**values)


def parse_recognition(raw: Any, index: int) -> Recognition | None:
    """Who recognized a turn's words from speech and how sure it was (see `Recognition`)."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise FieldError(f"应为对象,而不是{type_name(raw)}", "asr", index)
    recognizer = raw.get("recognizer")
    if not isinstance(recognizer, str) or not recognizer.strip() or len(recognizer) > 64:
        raise FieldError("应为识别引擎名称 (1-64 个字符)", "asr.recognizer", index)
    values = {}
    for name in ("confidence", "no_speech"):
        if raw.get(name) is not None:
            try:
                value = _number(raw[name], f"asr.{name}", float)
            except FieldError as exc:
                exc.index = index
                raise
            if not 0 <= value <= 1:
                raise FieldError(f"应在 0 到 1 之间,而不是 {value}", f"asr.{name}", index)
            values[name] = value
    return Recognition(recognizer.strip(), **values)


def _intervals(raw: Any, key: str) -> tuple[Interval, ...]:
    if not isinstance(raw, list):
        raise FieldError(f"应为列表,而不是{type_name(raw)}", key)
    found = []
    for n, pair in enumerate(raw):
        if not (isinstance(pair, list) and len(pair) == 2):
            raise FieldError("应为 [开始秒, 结束秒]", f"{key}[{n}]")
        start, end = (_number(v, f"{key}[{n}]", float) for v in pair)
        if end < start:
            raise FieldError("结束时间早于开始时间", f"{key}[{n}]")
        found.append(Interval(start, end))
    return tuple(found)


def parse_audio(raw: Any) -> CallAudio | None:
    """What the audio front end measured over a call (the ``audio`` object of the JSON report)."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise FieldError(f"应为对象,而不是{type_name(raw)}", "audio")
    for key in ("duration", "sample_rate"):
        if raw.get(key) is None:
            raise FieldError(MISSING, f"audio.{key}")
    transcriber = raw.get("transcriber")
    if transcriber is not None and not isinstance(transcriber, str):
        raise FieldError(f"应为字符串,而不是{type_name(transcriber)}", "audio.transcriber")
    return CallAudio(
        duration=_number(raw["duration"], "audio.duration", float),
        sample_rate=_number(raw["sample_rate"], "audio.sample_rate", int),
        **{key: _intervals(raw.get(key, []), f"audio.{key}") for key in ("agent_speech", "customer_speech", "holds", "rings")},
        transcriber=transcriber,
    )


def _check_metadata(value: Any, key: str) -> None:
    """Metadata is carried into every report: every string in it must be writable, every number
    finite (a JSON integer of 400 digits is not a float any writer accepts)."""
    stack = [(value, key)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            writable(item, where)
        elif isinstance(item, dict):
            for name, nested in item.items():
                writable(name, where)
                stack.append((nested, f"{where}.{name}"))
        elif isinstance(item, list):
            stack.extend((nested, f"{where}[{n}]") for n, nested in enumerate(item))
        elif isinstance(item, (int, float)) and not isinstance(item, bool) and not math.isfinite(_float(item)):
            raise FieldError(f"{_shown(item)} 超出数值范围", where)


def build(raw: dict[str, Any], source: str | None = None) -> Conversation:
    """Validate one conversation given in the interchange JSON shape; unknown keys are ignored.

    Raises FieldError naming the key (and the turn index) of the first problem found.
    """
    conv_id = parse_identifier(raw.get("id"), "id")
    if conv_id is None:
        raise FieldError(MISSING, "id")
    turns = raw.get("turns")
    if turns is None:
        raise FieldError(MISSING, "turns")
    if not isinstance(turns, list):
        raise FieldError(f"应为列表,而不是{type_name(turns)}", "turns")
    if not turns:
        raise FieldError("没有任何对话轮次", "turns")
    if len(turns) > MAX_TURNS:
        raise FieldError(f"轮次过多 ({len(turns)},最多 {MAX_TURNS})", "turns")
    channel = parse_channel(raw.get("channel"))
    started_at = parse_datetime(raw.get("started_at"))
    agent_id = parse_identifier(raw.get("agent_id"), "agent_id", MAX_AGENT_ID_CHARS)
    metadata = raw.get("metadata")
    if metadata is not None:
        if not isinstance(metadata, dict):
            raise FieldError(f"应为对象,而不是{type_name(metadata)}", "metadata")
        _check_metadata(metadata, "metadata")
    spoken = [_turn(turn, index) for index, turn in enumerate(turns)]
    times, origin = resolve_times([(turn.get("start"), turn.get("end")) for turn in turns])
    voices = [parse_voice(turn.get("voice"), index) for index, turn in enumerate(turns)]
    heard = [parse_recognition(turn.get("asr"), index) for index, turn in enumerate(turns)]
    return Conversation(
        id=conv_id,
        turns=tuple(
            Turn(role, text, start, end, voice, asr)
            for (role, text), (start, end), voice, asr in zip(spoken, times, voices, heard)
        ),
        channel=channel,
        started_at=started_at or origin,
        agent_id=agent_id,
        metadata=dict(metadata or {}),
        source=source,
        audio=parse_audio(raw.get("audio")),
    )
