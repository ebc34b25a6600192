"""Resumable batches: every checked conversation is appended to a state file as it is done.

A rerun with the same state file skips what was already checked (with the same rulebook) and
checks only the rest, so a batch killed half-way loses nothing and checks nothing twice. Input
errors are not stored: they are tried again, and reported again, on every run.

Nothing of the state file is held: ``ResultLog.scan`` reads it once and keeps a 64-bit hash per
conversation (8 bytes each: a million conversations in 8 MB) and the spans of lines that hold
results; the results are read again from those spans as the report is written (``read_results``,
in worker processes too).
"""

from __future__ import annotations

import hashlib
from array import array
from pathlib import Path
from typing import IO, Iterator

from guifan.errors import GuifanError
from guifan.fastjson import dumps, loads
from guifan.model import Conversation, Finding
from guifan.readers.encoding import Span
from guifan.readers.fields import FieldError, build
from guifan.scoring import CheckResult, Checker

SPAN_BYTES = 1 << 20  # the results read again in spans of about this much of the file


def _hash(source: str | None, conversation_id: str) -> int:
    """A conversation's key in 64 bits (the chance that two of a million collide is below 10⁻⁷)."""
    key = f"{source or ''}\x1f{conversation_id}".encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "little")


class Seen:
    """The conversations a state file holds, by key: ``seen(conversation)`` is whether an earlier
    run checked it. Plain data, so that it travels to worker processes and cluster nodes."""

    def __init__(self, keys=None):
        self.keys = keys  # numpy's uint64 array, sorted; None: nothing seen

    def __call__(self, conversation: Conversation) -> bool:
        if self.keys is None or not len(self.keys):
            return False
        key = _hash(conversation.source, conversation.id)
        at = int(self.keys.searchsorted(key))
        return at < len(self.keys) and int(self.keys[at]) == key


def _corrupt(path: Path, number: int, exc: Exception) -> GuifanError:
    return GuifanError(f"{path}:{number}: 状态文件已损坏 ({exc}),请删除后重新检查")


class ResultLog:
    """The state file: one JSON line per checked conversation."""

    def __init__(self, path: Path, checker: Checker):
        self.path = path
        self.checker = checker
        self.count = 0  # results in the file for the current rulebook
        self.spans: list[Span] = []  # where the results are, in spans of about SPAN_BYTES
        self.seen = Seen()  # whether a conversation is in the state file (checked by an earlier run)
        self._recordings: set[str] = set()
        self._stream: IO[str] | None = None

    def scan(self, span_bytes: int = SPAN_BYTES) -> int:
        """Read the state file once: how many results it holds for the current rulebook, their keys
        and spans (``span_bytes`` each, about). A torn last line (the process died while writing
        it) is cut off, so that new lines start on a line of their own; any other bad line is an
        error."""
        if not self.path.exists():
            return 0
        origin = self.checker.engine.rulebook.origin
        keys, recordings, spans = array("Q"), set(), []
        start = line = None  # the span being gathered: its first byte and line
        torn_at = None
        with self.path.open("rb") as fh:
            offset = 0
            for number, raw in enumerate(fh, start=1):
                here, offset = offset, offset + len(raw)
                try:
                    record = loads(raw)
                    if record.get("rulebook") != origin:
                        if start is not None:
                            spans.append(Span(start, here, line))
                            start = None
                        continue
                    conversation = record["conversation"]
                    key = _hash(record.get("source"), conversation["id"])
                    if not isinstance(record["findings"], list):
                        raise TypeError("findings")
                except (ValueError, UnicodeDecodeError, KeyError, TypeError, AttributeError) as exc:
                    if raw.endswith(b"\n"):
                        raise _corrupt(self.path, number, exc) from None
                    torn_at = offset = here  # the process died while writing this line: check it again
                    break
                keys.append(key)
                if conversation.get("audio") is not None:
                    recordings.add(record.get("source"))
                if start is not None and here - start >= span_bytes:
                    spans.append(Span(start, here, line))
                    start = None
                if start is None:
                    start, line = here, number
        if start is not None:
            spans.append(Span(start, offset, line))
        if torn_at is not None:
            with self.path.open("r+b") as fh:
                fh.truncate(torn_at)
        import numpy as np  # sorted in place: no Python object per key

        self.spans = spans
        self.seen = Seen(np.sort(np.frombuffer(keys, dtype=np.uint64)))
        self._recordings = recordings
        self.count = len(keys)
        return self.count

    def recordings(self) -> frozenset[str]:
        """The recordings already checked (their sources): a resumed batch need not decode and
        transcribe them again."""
        return frozenset(self._recordings)

    def results(self) -> Iterator[CheckResult]:
        """The results in the state file for the current rulebook, read again one at a time."""
        for span in self.spans:
            yield from read_results(self.path, self.checker, span)

    def append(self, line: str) -> None:
        """One line from ``record_line``; written through a buffer (``close`` flushes it)."""
        if self._stream is None:
            try:
                self._stream = self.path.open("a", encoding="utf-8")
            except OSError as exc:
                raise GuifanError(f"无法写入状态文件 {self.path}: {exc.strerror or exc}") from None
        try:
            self._stream.write(line)
        except OSError as exc:
            raise GuifanError(f"无法写入状态文件 {self.path}: {exc.strerror or exc}") from None

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None


def read_results(path: Path, checker: Checker, span: Span) -> Iterator[CheckResult]:
    """The results of a span of a state file (``ResultLog.spans``; lines of another rulebook are
    passed over)."""
    origin = checker.engine.rulebook.origin
    with path.open("rb") as fh:
        fh.seek(span.start)
        position = span.start
        for number, raw in enumerate(fh, start=span.line):
            if position >= span.end:
                return
            position += len(raw)
            try:
                record = loads(raw)
                if record.get("rulebook") != origin:
                    continue
                conversation = build(record["conversation"], record.get("source"))
                findings = tuple(Finding.from_dict(f) for f in record["findings"])
            except (ValueError, UnicodeDecodeError, KeyError, TypeError, AttributeError, FieldError) as exc:
                raise _corrupt(path, number, exc) from None
            yield checker.result(conversation, findings)


def record_line(result: CheckResult) -> str:
    """A checked conversation as a line of the state file (made where it was checked: a worker
    process or a cluster's node, so that the parent only writes it)."""
    record = {
        "rulebook": result.rulebook,
        "source": result.conversation.source,
        "conversation": result.conversation.to_dict(),
        "findings": [f.to_dict() for f in result.findings],
    }
    return dumps(record).decode() + "\n"
