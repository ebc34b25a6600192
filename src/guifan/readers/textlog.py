"""Plain-text chat logs.

    # id: c1                         (optional header lines: id, channel, started_at, agent_id,
    # channel: phone                  anything else goes into metadata)
    [00:00.0-00:02.5] 客服: 您好,…     (optional times: [mm:ss], [hh:mm:ss], [s.s-s.s], ranges)
    客户: 我想问一下…                 (客服/坐席/座席/agent vs 客户/用户/顾客/customer, ':' or ':')
    2026-02-17 10:00:05 客服: …       (chat export time stamps also work)
    ---                              (a line of --- or === starts the next conversation)

A line without a speaker prefix continues the previous turn. The rule examples are written in
this format, so it is also the quickest way to try a rule.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Iterator

from guifan.errors import InputError
from guifan.model import Channel, Conversation, Role, Turn

ROLE_PREFIXES = {
    "客服": Role.AGENT, "坐席": Role.AGENT, "座席": Role.AGENT, "agent": Role.AGENT, "a": Role.AGENT,
    "客户": Role.CUSTOMER, "用户": Role.CUSTOMER, "顾客": Role.CUSTOMER, "customer": Role.CUSTOMER, "c": Role.CUSTOMER,
    "系统": Role.SYSTEM, "system": Role.SYSTEM,
}
_CLOCK = r"\d{1,2}(?::\d{1,2}){1,2}(?:\.\d+)?|\d+(?:\.\d+)?"
_TIME = re.compile(rf"^\[\s*(?P<start>{_CLOCK})\s*(?:[-–~]\s*(?P<end>{_CLOCK})\s*)?\]\s*")
_STAMP = re.compile(r"^(?P<stamp>\d{4}-\d{2}-\d{2}[ T]\d{1,2}:\d{2}(?::\d{2})?)\s+")
_SPEAKER = re.compile(
    r"^(?P<who>客服|坐席|座席|客户|用户|顾客|系统|agent|customer|system|a|c)"
    r"(?:\s*[\(（\[【][^\)）\]】]*[\)）\]】]|[^\s:：]{0,8}?)\s*[:：]\s?(?P<text>.*)$",
    re.IGNORECASE,
)
_HEADER = re.compile(r"^#\s*(?P<key>[A-Za-z_][\w-]*)\s*[:：]\s*(?P<value>.*)$")
_SEPARATOR = re.compile(r"^(?:-{3,}|={3,})\s*$")


def parse_clock(value: str) -> float:
    """'01:02:03.5' -> 3723.5, '02:03' -> 123.0, '7.25' -> 7.25."""
    parts = value.split(":")
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + float(part)
    return seconds


def _header_value(key: str, value: str) -> Any:
    value = value.strip()
    try:
        return int(value)
    except ValueError:
        pass
    try:
        return float(value)
    except ValueError:
        return value


class _Builder:
    def __init__(self, path: str, first_line: int, index: int):
        self.path = path
        self.first_line = first_line
        self.index = index
        self.header: dict[str, Any] = {}
        self.turns: list[dict[str, Any]] = []
        self.first_stamp: datetime | None = None

    def build(self) -> Conversation | InputError | None:
        if not self.turns and not self.header:
            return None
        if not self.turns:
            return InputError(self.path, "没有任何对话轮次 (每行应以 客服: 或 客户: 开头)", self.first_line)
        header = dict(self.header)
        conv_id = str(header.pop("id", "") or f"{_stem(self.path)}#{self.index}")
        channel_raw = str(header.pop("channel", "chat")).lower()
        try:
            channel = Channel(channel_raw)
        except ValueError:
            return InputError(self.path, f"channel 应为 phone 或 chat,而不是 {channel_raw!r}", self.first_line, "channel")
        started_raw = header.pop("started_at", None)
        started_at = self.first_stamp
        if started_raw is not None:
            try:
                started_at = datetime.fromisoformat(str(started_raw))
            except ValueError:
                return InputError(self.path, f"started_at 不是 ISO 8601 时间: {started_raw!r}", self.first_line, "started_at")
        agent_id = header.pop("agent_id", None)
        turns = tuple(Turn(t["role"], t["text"].strip(), t["start"], t["end"]) for t in self.turns)
        return Conversation(
            id=conv_id,
            turns=turns,
            channel=channel,
            started_at=started_at,
            agent_id=str(agent_id) if agent_id is not None else None,
            metadata=header,
            source=f"{self.path}:{self.first_line}",
        )


def _stem(path: str) -> str:
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[0] if "." in name else name


def parse_chat_log(text: str, path: str = "<text>") -> Iterator[Conversation | InputError]:
    """Conversations (or errors) from a text chat log, in file order."""
    index = 1
    builder = _Builder(path, 1, index)
    failed = False
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if _SEPARATOR.match(line):
            result = None if failed else builder.build()
            if result is not None:
                yield result
                index += 1
            builder, failed = _Builder(path, lineno + 1, index), False
            continue
        header = _HEADER.match(line)
        if header and not builder.turns:
            builder.header[header["key"].lower()] = _header_value(header["key"], header["value"])
            continue
        if failed:
            continue
        start = end = None
        stamp = None
        time_match = _TIME.match(line)
        if time_match:
            try:
                start = parse_clock(time_match["start"])
                end = parse_clock(time_match["end"]) if time_match["end"] else start
            except ValueError:
                yield InputError(path, f"时间格式无法识别: {time_match.group(0).strip()}", lineno, "time")
                failed = True
                continue
            if end < start:
                yield InputError(path, f"结束时间早于开始时间: {time_match.group(0).strip()}", lineno, "time")
                failed = True
                continue
            line = line[time_match.end():]
        else:
            stamp_match = _STAMP.match(line)
            if stamp_match:
                stamp = datetime.fromisoformat(stamp_match["stamp"].replace(" ", "T"))
                line = line[stamp_match.end():]
        speaker = _SPEAKER.match(line)
        if speaker is None:
            if builder.turns and start is None and stamp is None:
                builder.turns[-1]["text"] += "\n" + line
                continue
            yield InputError(path, f"无法识别说话人 (应以 客服:/坐席: 或 客户:/用户: 开头): {line[:30]}", lineno, "role")
            failed = True
            continue
        if stamp is not None:
            builder.first_stamp = builder.first_stamp or stamp
            start = end = (stamp - builder.first_stamp).total_seconds()
        role = ROLE_PREFIXES[speaker["who"].lower()]
        builder.turns.append({"role": role, "text": speaker["text"], "start": start, "end": end})
    if not failed:
        result = builder.build()
        if result is not None:
            yield result


def parse_example(text: str) -> Conversation:
    """One conversation from a rule's documented example (raises on malformed examples)."""
    items = list(parse_chat_log(text, "<example>"))
    if len(items) != 1 or isinstance(items[0], InputError):
        raise ValueError(f"bad rule example: {items!r}")
    return items[0]
