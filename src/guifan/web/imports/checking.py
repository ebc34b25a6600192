"""Checking an import's conversations into ``Record``s: in the server's process, or for a big job in
worker processes. Results come back in input order, and only a bounded number of conversations is
in flight, so a file is never read far ahead of what has been stored."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import threading
from collections import OrderedDict, deque
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

CHUNK = 20  # conversations a worker is given at a time (a block holds as many per worker)
AHEAD = 3  # blocks in flight
AFFINITIES = 100_000  # agents (or texts) whose worker is remembered, the most recent
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


def affinity(item: Conversation) -> str:
    """What decides a conversation's worker: its agent, whose words that worker's checker has
    cached (agents repeat their own phrasing); without an agent id, its text (the same
    conversation again, a re-import, meets the cache that knows it)."""
    if item.agent_id:
        return "agent:" + item.agent_id
    text = "\n".join(turn.text for turn in item.turns).encode("utf-8", "surrogatepass")
    return "text:" + hashlib.blake2b(text, digest_size=8).hexdigest()


class CheckPool:
    """Worker processes (spawned: the server's threads and database connections stay its own) that
    check with one rulebook version and masking setting. Kept between jobs, so that their checkers'
    caches stay warm, and stopped after ``IDLE_SECONDS`` without work.

    Each checker caches what it has judged (the meaning stage's sentences above all, costly the
    first time), so a conversation goes to the worker that has its agent (``affinity``), a new
    agent to the least loaded worker: each agent's words are judged once, not once per worker."""

    def __init__(self, jobs: int | None = None):
        self.jobs = jobs if jobs is not None else available_cores()
        self._pools: list[ProcessPoolExecutor] = []
        self._setup: tuple[int, bool] | None = None
        self._homes: OrderedDict[str, int] = OrderedDict()  # affinity -> worker, the most recent last
        self._load = [0] * self.jobs  # conversations given to each worker
        self._lock = threading.Lock()
        self._idle: threading.Timer | None = None

    def prepared(self, items: Iterable[tuple[int, Item]], override_yaml: str, version: int, mask: bool,
                 local: Preparer) -> Iterator[tuple[int, Item, Outcome]]:
        """Each ``(index, item)`` with its outcome, in order. The items are cut into blocks, each
        block's conversations among the workers; at most ``AHEAD`` blocks are out. Should the
        workers die (killed, out of memory), what they held is checked here with ``local``, and
        the rest too."""
        pools = self._start(override_yaml, version, mask)
        pending: deque[tuple[list, list]] = deque()  # (placed items, a future per worker), in input order
        items = iter(items)
        try:
            while True:
                block = list(islice(items, CHUNK * self.jobs))
                if block:
                    parts: list[list[Item]] = [[] for _ in pools]
                    placed = []  # (index, item, worker or None, place in its part)
                    for index, item in block:
                        worker = None if isinstance(item, InputError) else self._home(item)
                        placed.append((index, item, worker, len(parts[worker]) if worker is not None else 0))
                        if worker is not None:
                            parts[worker].append(item)
                    pending.append((placed, [pool.submit(_prepare_chunk, part) if part else None
                                             for pool, part in zip(pools, parts)]))
                while pending and (not block or len(pending) > AHEAD
                                   or all(f is None or f.done() for f in pending[0][1])):
                    placed, futures = pending[0]
                    outcomes = [f.result() if f is not None else [] for f in futures]
                    pending.popleft()
                    yield from ((index, item, item if worker is None else outcomes[worker][place])
                                for index, item, worker, place in placed)
                if not block:
                    return
        except BrokenProcessPool:
            self.close()
            for placed, _ in pending:
                yield from ((index, item, local(item)) for index, item, _, _ in placed)
            pending.clear()
            yield from ((index, item, local(item)) for index, item in items)
        finally:
            for _, futures in pending:
                for future in futures:
                    if future is not None:
                        future.cancel()
            self._rest()

    def _home(self, item: Conversation) -> int:
        key = affinity(item)
        worker = self._homes.get(key)
        if worker is None:
            worker = self._homes[key] = min(range(self.jobs), key=self._load.__getitem__)
            if len(self._homes) > AFFINITIES:
                self._homes.popitem(last=False)
        else:
            self._homes.move_to_end(key)
        self._load[worker] += 1
        return worker

    def _start(self, override_yaml: str, version: int, mask: bool) -> list[ProcessPoolExecutor]:
        with self._lock:
            if self._idle is not None:
                self._idle.cancel()
                self._idle = None
            if self._pools and self._setup != (version, mask):
                for pool in self._pools:
                    pool.shutdown(wait=False, cancel_futures=True)
                self._pools = []
            if not self._pools:
                spawn = multiprocessing.get_context("spawn")
                self._pools = [ProcessPoolExecutor(1, mp_context=spawn, initializer=_start_worker,
                                                   initargs=(override_yaml, version, mask)) for _ in range(self.jobs)]
                self._setup = (version, mask)
                self._homes.clear()  # new workers know nothing yet
                self._load = [0] * self.jobs
            return self._pools

    def _rest(self) -> None:
        with self._lock:
            if self._pools:
                self._idle = threading.Timer(IDLE_SECONDS, self.close)
                self._idle.daemon = True
                self._idle.start()

    def close(self) -> None:
        with self._lock:
            if self._idle is not None:
                self._idle.cancel()
                self._idle = None
            pools, self._pools = self._pools, []
        for pool in pools:
            pool.shutdown(wait=True, cancel_futures=True)
