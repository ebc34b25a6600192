"""Plain-text chat logs (.txt, .log).

    # id: c1                         (optional header lines: id, channel, started_at, agent_id,
    # channel: phone                  anything else goes into metadata)
    [00:00.0-00:02.5] 客服: 您好,…     (optional times: [mm:ss], [hh:mm:ss], [s.s-s.s], ranges)
    客户: 我想问一下…                 (客服/坐席/座席/agent vs 客户/用户/顾客/customer, ':' or ':')
    2026-02-17 10:00:05 客服: …       (chat export time stamps also work)
    ---                              (a line of --- or === starts the next conversation)

A line without a speaker prefix continues the previous turn; a line starting with "#" after the
first turn is a comment. The rule examples are written in this format, so it is also the
quickest way to try a rule.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

from guifan.errors import InputError
from guifan.model import Conversation, Role
from guifan.readers.fields import ROLE_ALIASES, FieldError, build, parse_clock, scalar, speaker_pattern

__all__ = ["ROLE_PREFIXES", "parse_chat_log", "parse_clock", "parse_example"]

# Single letters only here: "A:" / "C:" are common in hand-written transcripts.
ROLE_PREFIXES: dict[str, Role] = {**ROLE_ALIASES, "a": Role.AGENT, "c": Role.CUSTOMER}
_CLOCK = r"\d{1,2}(?::\d{1,2}){1,2}(?:\.\d+)?|\d+(?:\.\d+)?"
_TIME = re.compile(rf"^\[\s*(?P<start>{_CLOCK})\s*(?:[-–~]\s*(?P<end>{_CLOCK})\s*)?\]\s*")
_STAMP = re.compile(r"^(?P<stamp>\d{4}-\d{1,2}-\d{1,2}[ T]\d{1,2}:\d{2}(?::\d{2})?)\s+")
SPEAKER = re.compile(rf"^{speaker_pattern(('a', 'c'))}\s*[:：]\s?(?P<text>.*)$", re.IGNORECASE)
# Voice measurements after the times, as in the rule examples of the voice clauses:
# "[00:00-00:05]{语音=4.5 音量=-42 音节=30 音高=200→150} 客服: …" (音高: the turn's median → its end).
_VOICE = re.compile(r"^\{(?P<body>[^{}]*)\}\s*")
_VOICE_KEYS = {"语音": "speech_seconds", "音量": "level_dbfs", "音节": "syllables"}
_HEADER = re.compile(r"^#\s*(?P<key>[A-Za-z_][\w-]*)\s*[:：]\s*(?P<value>.*)$")
_SEPARATOR = re.compile(r"^(?:-{3,}|={3,})\s*$")
# Header keys that are conversation fields, kept as written ("007" stays "007").
_FIELDS = ("id", "channel", "started_at", "agent_id")


class _Builder:
    def __init__(self, path: str, first_line: int, index: int):
        self.path = path
        self.first_line = first_line
        self.index = index
        self.header: dict[str, Any] = {}
        self.header_lines: dict[str, int] = {}
        self.turns: list[dict[str, Any]] = []

    def build(self) -> Conversation | InputError | None:
        if not self.turns and not self.header:
            return None
        if not self.turns:
            return InputError(self.path, "没有任何对话轮次 (每行应以 客服: 或 客户: 开头)", self.first_line)
        raw: dict[str, Any] = {key: self.header.get(key) for key in _FIELDS}
        raw["id"] = raw["id"] or f"{_stem(self.path)}#{self.index}"
        raw["metadata"] = {k: v for k, v in self.header.items() if k not in _FIELDS}
        raw["turns"] = [{**turn, "text": turn["text"].strip()} for turn in self.turns]
        try:
            return build(raw, f"{self.path}:{self.turns[0]['line']}")
        except FieldError as exc:
            if exc.index is not None:
                line = self.turns[exc.index]["line"]
            else:
                line = self.header_lines.get(exc.key or "", self.first_line)
            return InputError(self.path, exc.message, line, exc.key)


def _stem(path: str) -> str:
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[0] if "." in name else name


def parse_chat_log(text: str, path: str = "<text>") -> Iterator[Conversation | InputError]:
    """Conversations (or errors) from a text chat log, in file order."""
    index = 1
    builder = _Builder(path, 1, index)
    failed = False
    # Only "\n" ends a line, so that line numbers agree with editors (str.splitlines also splits
    # on form feeds and U+2028).
    for lineno, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip()
        if not line:
            continue
        if _SEPARATOR.match(line):
            result = None if failed else builder.build()
            if result is not None:
                yield result
            if failed or result is not None:
                index += 1  # ids number the conversations of the file, failed ones included
            builder, failed = _Builder(path, lineno + 1, index), False
            continue
        if line.startswith("#"):
            header = _HEADER.match(line)
            if header and not builder.turns:
                key = header["key"].lower()
                value = header["value"].strip()
                builder.header[key] = value if key in _FIELDS else scalar(value)
                builder.header_lines[key] = lineno
            continue
        if failed:
            continue
        # Times stay text here: the shared time parser checks them and turns stamps into offsets.
        start = end = None
        timing = _TIME.match(line)
        if timing:
            start, end = timing["start"], timing["end"]
        else:
            timing = _STAMP.match(line)
            start = timing["stamp"] if timing else None
        if timing:
            line = line[timing.end():]
        voice = _VOICE.match(line)
        if voice:
            line = line[voice.end():]
        speaker = SPEAKER.match(line)
        if speaker is None:
            if builder.turns and start is None:
                builder.turns[-1]["text"] += "\n" + line
                continue
            yield InputError(path, f"无法识别说话人 (应以 客服:/坐席: 或 客户:/用户: 开头): {line[:30]}", lineno, "role")
            failed = True
            continue
        role = ROLE_PREFIXES[speaker["who"].lower()]
        turn = {"role": role, "text": speaker["text"], "start": start, "end": end, "line": lineno}
        if voice:
            turn["voice"] = _voice_tag(voice["body"])
        builder.turns.append(turn)
    if not failed:
        result = builder.build()
        if result is not None:
            yield result


def _voice_tag(body: str) -> dict[str, Any]:
    """The voice tag's values under the interchange keys; what does not parse is left as text for
    the shared field check to report."""
    found: dict[str, Any] = {}
    for item in body.split():
        key, _, value = item.partition("=")
        if key == "音高":
            median, _, final = value.partition("→")
            found["pitch_hz"], found["final_pitch_hz"] = scalar(median), scalar(final) if final else None
        else:
            found[_VOICE_KEYS.get(key, key)] = scalar(value)
    return found


def parse_example(text: str) -> Conversation:
    """One conversation from a rule's documented example (raises on malformed examples)."""
    items = list(parse_chat_log(text, "<example>"))
    if len(items) != 1 or isinstance(items[0], InputError):
        raise ValueError(f"bad rule example: {items!r}")
    return items[0]
