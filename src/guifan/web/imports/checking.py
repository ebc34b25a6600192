"""Checking an import's conversations into ``Record``s: in the server's process, or for a big job in
worker processes. Results come back in input order, and only a bounded number of conversations is
in flight, so a file is never read far ahead of what has been stored."""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from itertools import islice
from multiprocessing.connection import wait
from typing import Iterable, Iterator

from guifan.engine import Engine as RuleEngine
from guifan.errors import InputError
from guifan.model import Conversation
from guifan.scoring import Checker, check_error
from guifan.web.imports.records import Record, record

CHUNK = 20  # conversations a worker is given at a time
AHEAD = 3  # chunks in flight per worker
IDLE_SECONDS = 300  # workers left without work this long are stopped (their memory freed)

Item = Conversation | InputError
Outcome = Record | InputError


def available_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@dataclass
class Preparer:
    """Checks one conversation and makes its record; a conversation the rules fail on becomes its
    error (the rest of the job goes on)."""

    checker: Checker
    version: int
    mask: bool

    def __call__(self, item: Item) -> Outcome:
        if isinstance(item, InputError):
            return item
        try:
            return record(self.checker.check(item), self.checker, self.version, self.mask)
        except Exception as exc:  # a rule bug must not stop the job
            return check_error(item, exc)


_WORKER: Preparer | None = None  # a worker process's own


def _start_worker(override_yaml: str, version: int, mask: bool) -> None:
    from guifan.web.services import rulebook_from_yaml

    global _WORKER
    parent = multiprocessing.parent_process()
    if parent is not None:  # a server killed outright must not leave its workers waiting forever
        threading.Thread(target=_leave_with, args=(parent.sentinel,), name="guifan-parent", daemon=True).start()
    _WORKER = Preparer(Checker(RuleEngine(rulebook_from_yaml(override_yaml))), version, mask)


def _leave_with(sentinel: int) -> None:
    wait([sentinel])
    os._exit(0)


def _prepare_chunk(items: list[Item]) -> list[Outcome]:
    return [_WORKER(item) for item in items]


class CheckPool:
    """Worker processes (spawned: the server's threads and database connections stay its own) that
    check with one rulebook version and masking setting. Kept between jobs, so that their checkers'
    caches stay warm, and stopped after ``IDLE_SECONDS`` without work."""

    def __init__(self, jobs: int | None = None):
        self.jobs = jobs if jobs is not None else available_cores()
        self._pool: ProcessPoolExecutor | None = None
        self._setup: tuple[int, bool] | None = None
        self._lock = threading.Lock()
        self._idle: threading.Timer | None = None

    def prepared(self, items: Iterable[tuple[int, Item]], override_yaml: str, version: int, mask: bool,
                 local: Preparer) -> Iterator[tuple[int, Item, Outcome]]:
        """Each ``(index, item)`` with its outcome, in order. Should the workers die (killed,
        out of memory), what they held is checked here with ``local`` and the rest too."""
        pool = self._start(override_yaml, version, mask)
        pending: deque[list] = deque()  # [chunk, its future], in input order
        items = iter(items)
        try:
            while True:
                chunk = list(islice(items, CHUNK))
                if chunk:
                    pending.append([chunk, None])
                    pending[-1][1] = pool.submit(_prepare_chunk, [item for _, item in chunk])
                while pending and (not chunk or len(pending) > self.jobs * AHEAD or pending[0][1].done()):
                    done, outcomes = pending[0][0], pending[0][1].result()
                    pending.popleft()
                    yield from ((index, item, outcome) for (index, item), outcome in zip(done, outcomes))
                if not chunk:
                    return
        except BrokenProcessPool:
            self.close()
            for chunk, _ in pending:
                yield from ((index, item, local(item)) for index, item in chunk)
            pending.clear()
            yield from ((index, item, local(item)) for index, item in items)
        finally:
            for _, future in pending:
                if future is not None:
                    future.cancel()
            self._rest()

    def _start(self, override_yaml: str, version: int, mask: bool) -> ProcessPoolExecutor:
        with self._lock:
            if self._idle is not None:
                self._idle.cancel()
                self._idle = None
            if self._pool is not None and self._setup != (version, mask):
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None
            if self._pool is None:
                self._pool = ProcessPoolExecutor(self.jobs, mp_context=multiprocessing.get_context("spawn"),
                                                 initializer=_start_worker, initargs=(override_yaml, version, mask))
                self._setup = (version, mask)
            return self._pool

    def _rest(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._idle = threading.Timer(IDLE_SECONDS, self.close)
                self._idle.daemon = True
                self._idle.start()

    def close(self) -> None:
        with self._lock:
            if self._idle is not None:
                self._idle.cancel()
                self._idle = None
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
