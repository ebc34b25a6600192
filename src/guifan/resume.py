"""Resumable batches: every checked conversation is appended to a state file as it is done.

A rerun with the same state file loads what was already checked (with the same rulebook) and
checks only the rest, so a batch killed half-way loses nothing and checks nothing twice. Input
errors are not stored: they are tried again, and reported again, on every run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Iterable, Iterator

from guifan.errors import GuifanError, InputError
from guifan.model import Conversation, Finding
from guifan.readers.fields import FieldError, build
from guifan.scoring import BatchSummary, CheckResult, Checker


def _key(conversation: Conversation) -> str:
    return f"{conversation.source or ''}\x1f{conversation.id}"


class ResultLog:
    """The state file: one JSON line per checked conversation."""

    def __init__(self, path: Path, checker: Checker):
        self.path = path
        self.checker = checker
        self.done: dict[str, CheckResult] = {}
        self._stream: IO[str] | None = None

    def load(self) -> list[CheckResult]:
        """Results already in the state file for the current rulebook (a torn last line is ignored)."""
        if not self.path.exists():
            return []
        origin = self.checker.engine.rulebook.origin
        torn_at = None
        with self.path.open("rb") as fh:
            offset = 0
            for number, raw in enumerate(fh, start=1):
                try:
                    record = json.loads(raw)
                    if record.get("rulebook") != origin:
                        continue
                    conversation = build(record["conversation"], record.get("source"))
                    findings = tuple(Finding.from_dict(f) for f in record["findings"])
                except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError, FieldError) as exc:
                    if raw.endswith(b"\n"):
                        raise GuifanError(f"{self.path}:{number}: 状态文件已损坏 ({exc}),请删除后重新检查") from None
                    torn_at = offset  # the process died while writing this line: check it again
                    continue
                finally:
                    offset += len(raw)
                self.done[_key(conversation)] = self.checker.result(conversation, findings)
        if torn_at is not None:  # cut the fragment off, so that new lines start on a line of their own
            with self.path.open("r+b") as fh:
                fh.truncate(torn_at)
        return list(self.done.values())

    def recordings(self) -> frozenset[str]:
        """The recordings already checked (their sources): a resumed batch need not decode and
        transcribe them again."""
        return frozenset(r.conversation.source for r in self.done.values() if r.conversation.audio is not None)

    def check_all(self, items: Iterable[Conversation | InputError], summary: BatchSummary) -> Iterator[CheckResult]:
        """Like ``Checker.check_all``, skipping conversations already done and logging new ones."""
        fresh = (i for i in items if isinstance(i, InputError) or _key(i) not in self.done)
        with self.path.open("a", encoding="utf-8") as self._stream:
            for result in self.checker.check_all(fresh, summary):
                self._append(result)
                yield result

    def _append(self, result: CheckResult) -> None:
        self._stream.write(record_line(result))
        self._stream.flush()


def record_line(result: CheckResult) -> str:
    """A checked conversation as a line of the state file (made where it was checked: a worker
    process or a cluster's node, so that the parent only writes it)."""
    record = {
        "rulebook": result.rulebook,
        "source": result.conversation.source,
        "conversation": result.conversation.to_dict(),
        "findings": [f.to_dict() for f in result.findings],
    }
    return json.dumps(record, ensure_ascii=False) + "\n"
