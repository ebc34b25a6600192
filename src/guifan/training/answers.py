"""The trainee's answers: a reply, or ``[等待 N]`` (N seconds pass without a word from the agent).

One answer per line in an answer script (``guifan train SCENARIO --answers FILE``), or typed one
at a time. Bounded: a reply is at most as long as live assist accepts a turn (``MAX_TEXT``), and a
script file at most ``MAX_SCRIPT_BYTES``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from guifan.assist.live import MAX_TEXT
from guifan.errors import GuifanError

MAX_WAIT_SECONDS = 3600
MAX_SCRIPT_BYTES = 4 << 20
_WAIT = re.compile(r"^\[\s*等待\s*(\d+(?:\.\d+)?)\s*秒?\s*\]$")
_LOOKS_LIKE_WAIT = re.compile(r"^\[\s*等待")
# A spoken answer (voice practice): the recording of what the trainee said, a WAV/FLAC/MP3 file.
_SPOKEN = re.compile(r"^\[\s*录音\s+(.+?)\s*\]$")
_LOOKS_LIKE_SPOKEN = re.compile(r"^\[\s*录音")


class AnswerError(GuifanError):
    """An answer that cannot be played: empty, too long, a malformed wait; names file and line."""


@dataclass(frozen=True, slots=True)
class Say:
    text: str

    def to_dict(self) -> dict:
        return {"say": self.text}

    def to_line(self) -> str:
        return self.text


@dataclass(frozen=True, slots=True)
class Wait:
    seconds: float

    def to_dict(self) -> dict:
        return {"wait": self.seconds}

    def to_line(self) -> str:
        return f"[等待 {self.seconds:g}]"


@dataclass(frozen=True, slots=True)
class Spoken:
    """The trainee's answer as a recording (``[录音 answer.wav]``), relative to the answers file."""

    path: str

    def to_dict(self) -> dict:
        return {"spoken": self.path}

    def to_line(self) -> str:
        return f"[录音 {self.path}]"


Answer = Say | Wait | Spoken


def answer_problem(line: str) -> str | None:
    """Why ``line`` is not a playable answer (in Chinese), or None."""
    text = line.strip()
    if not text:
        return "回答为空 (要让时间流逝请写 [等待 秒数])"
    if len(text) > MAX_TEXT:
        return f"回答过长 ({len(text)} 个字符,最多 {MAX_TEXT} 个)"
    wait = _WAIT.match(text)
    if wait:
        seconds = float(wait.group(1))
        if not 0 < seconds <= MAX_WAIT_SECONDS:
            return f"等待时间应在 0 到 {MAX_WAIT_SECONDS} 秒之间"
    elif _LOOKS_LIKE_WAIT.match(text):
        return "等待的写法应为 [等待 秒数],如 [等待 65]"
    elif _LOOKS_LIKE_SPOKEN.match(text) and not _SPOKEN.match(text):
        return "录音回答的写法应为 [录音 文件名],如 [录音 answer1.wav]"
    return None


def parse_answer(line: str) -> Answer:
    """One answer; AnswerError (in Chinese) when it cannot be played."""
    problem = answer_problem(line)
    if problem:
        raise AnswerError(problem)
    text = line.strip()
    wait = _WAIT.match(text)
    if wait:
        return Wait(float(wait.group(1)))
    spoken = _SPOKEN.match(text)
    return Spoken(spoken.group(1)) if spoken else Say(text)


def parse_answers(text: str, source: str) -> list[Answer]:
    """An answer script: one answer per line; every bad line is named (file:line)."""
    answers, problems = [], []
    for number, line in enumerate(text.splitlines(), 1):
        problem = answer_problem(line)
        if problem:
            problems.append(f"{source}:{number}: {problem}")
        else:
            answers.append(parse_answer(line))
    if problems:
        raise AnswerError("\n".join(problems))
    if not answers:
        raise AnswerError(f"{source}: 没有任何回答")
    return answers


def read_answers(path: Path) -> list[Answer]:
    """An answer script file (UTF-8), refused when larger than MAX_SCRIPT_BYTES."""
    try:
        size = path.stat().st_size
        if size > MAX_SCRIPT_BYTES:
            raise AnswerError(f"{path}: 回答文件过大 ({size // 1024} KB,最多 {MAX_SCRIPT_BYTES >> 20} MB)")
        text = path.read_text(encoding="utf-8-sig")
    except (FileNotFoundError, IsADirectoryError):
        raise AnswerError(f"{path}: 文件不存在") from None
    except UnicodeDecodeError:
        raise AnswerError(f"{path}: 回答文件须为 UTF-8 编码") from None
    return parse_answers(text, str(path))
