"""SRT and WebVTT subtitles of a recorded call: one conversation per file.

Each cue's text names its speaker with a prefix (`客服: 文本`, `客户：文本`) or a WebVTT voice tag
(`<v 客服>文本`, `<v agent>`). A cue without a speaker continues with the previous cue's speaker,
as subtitle files name the speaker only when it changes. Cue times become the turns' start and
end; the conversation id is the file name without extension and the channel is phone.
"""

from __future__ import annotations

import html
import re
from typing import Any, Iterator

from guifan.errors import InputError
from guifan.model import Channel, Conversation, Role
from guifan.readers.fields import ROLE_ALIASES, FieldError, build, parse_role, speaker_pattern

_STAMP = r"(?:\d+:)?\d{1,2}:\d{2}(?:[.,]\d{1,3})?"
_TIMING = re.compile(rf"^(?P<start>{_STAMP})\s*-->\s*(?P<end>{_STAMP})(?:\s.*)?$")
_VOICE = re.compile(r"<v(?:\.[^\s>]*)?\s+([^>]*)>")
_TAG = re.compile(r"<[^>]*>")  # <i>, <b>, <c.x>, </v>, karaoke time stamps …
_DASH = re.compile(r"^[-–—]\s*")  # "- 客服: …" dialogue dashes
_SPEAKER = re.compile(rf"^{speaker_pattern()}\s*[:：]\s*(?P<text>.*)$", re.IGNORECASE)
_VTT_BLOCKS = ("NOTE", "STYLE", "REGION")


class _CueError(Exception):
    def __init__(self, message: str, line: int, field: str | None = None):
        super().__init__(message)
        self.message, self.line, self.field = message, line, field


def _blocks(text: str) -> Iterator[list[tuple[int, str]]]:
    """Runs of non-blank lines with their line numbers."""
    block: list[tuple[int, str]] = []
    for lineno, line in enumerate(text.split("\n"), start=1):
        line = line.strip()
        if line:
            block.append((lineno, line))
        elif block:
            yield block
            block = []
    if block:
        yield block


def _pieces(line: str) -> list[tuple[str | None, str]]:
    """(voice name or None, text) pieces of one cue line."""
    parts = _VOICE.split(line)
    return [(None, parts[0])] + [(parts[i], parts[i + 1]) for i in range(1, len(parts), 2)]


def _segments(lines: list[tuple[int, str]], previous: Role | None) -> list[dict[str, Any]]:
    """The turns of one cue: a new turn at each speaker prefix or voice tag."""
    segments: list[dict[str, Any]] = []
    for lineno, line in lines:
        for voice, piece in _pieces(line):
            piece = html.unescape(_TAG.sub("", piece)).strip()
            role = None
            if voice is not None:
                try:
                    role = parse_role(voice)
                except FieldError:
                    raise _CueError(f"无法识别说话人 {voice.strip()!r} (应为 客服/坐席/agent 或 客户/用户/customer)", lineno, "role") from None
            elif piece:
                piece = _DASH.sub("", piece)
                speaker = _SPEAKER.match(piece)
                if speaker:
                    role, piece = ROLE_ALIASES[speaker["who"].lower()], speaker["text"].strip()
            if role is None:
                if not piece:
                    continue
                if segments:
                    segments[-1]["text"] += "\n" + piece
                    continue
                if previous is None:
                    raise _CueError(f"无法识别说话人 (字幕应以 客服: / 客户: 开头,或用 <v 客服>): {piece[:30]}", lineno, "role")
                role = previous
            segments.append({"role": role, "text": piece, "line": lineno})
            previous = role
    return segments


def _turns(text: str, vtt: bool) -> list[dict[str, Any]]:
    turns: list[dict[str, Any]] = []
    blocks = _blocks(text)
    if vtt:
        first = next(blocks, None)
        if first is None or not first[0][1].startswith("WEBVTT"):
            raise _CueError("不是 WebVTT 文件 (第一行应为 WEBVTT)", first[0][0] if first else 1)
    previous: Role | None = None
    for block in blocks:
        # The timing line comes first, or second after a cue number (SRT) or identifier (WebVTT).
        at = next((i for i, (_, line) in enumerate(block[:2]) if _TIMING.match(line)), None)
        if at is None:
            if vtt and block[0][1].split(" ", 1)[0] in _VTT_BLOCKS:
                continue
            raise _CueError("缺少时间轴 (应为 00:00:01,000 --> 00:00:02,500)", block[0][0])
        timing = _TIMING.match(block[at][1])
        for segment in _segments(block[at + 1:], previous):
            turns.append({**segment, "start": timing["start"], "end": timing["end"]})
            previous = segment["role"]
    if not turns:
        raise _CueError("没有任何带文字的字幕", 1)
    return turns


def read_subtitles(text: str, path: str, stem: str, vtt: bool) -> Iterator[Conversation | InputError]:
    try:
        turns = _turns(text, vtt)
        yield build({"id": stem, "channel": Channel.PHONE.value, "turns": turns}, f"{path}:{turns[0]['line']}")
    except _CueError as exc:
        yield InputError(path, exc.message, exc.line, exc.field)
    except FieldError as exc:
        line = turns[exc.index]["line"] if exc.index is not None else None
        yield InputError(path, exc.message, line, exc.key)
