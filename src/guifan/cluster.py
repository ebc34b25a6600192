"""Checking on a Ray cluster (``guifan check --ray auto|ADDRESS``): the driver plans, the nodes read and check.

    connect("auto")
    for outcome in check_stream(chunks(paths, parallel=True), context):
        ...  # as guifan.pipeline.check_stream's: in input order

The inputs are on a filesystem every node mounts at the same path. The driver cuts them into the
pipeline's chunks (a JSONL file into spans of lines, small files in groups, each recording alone)
and sends only their descriptions, with absolute paths; a task on a node opens the files itself
and runs ``pipeline.check_chunk`` on them, so a chunk's conversations are read, checked (speech
recognized, for recordings) and encoded for the report where they are. A node builds the run's
engine (and recognizer) once per worker process, from the rulebook and rule set put in the object
store; an engine does not travel. Results of an earlier run (``--state``) are reported from the
driver, which reads its own state file.

Outcomes leave in input order through a window of a few chunks per CPU of the cluster. A task
whose worker dies is retried by Ray on another worker; one that still fails costs its chunk's
conversations, each an InputError saying so, and the batch goes on.
"""

from __future__ import annotations

import logging
import os
import socket
from collections import deque
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable, Iterator

import ray
from ray.exceptions import RayError

from guifan.engine import Engine
from guifan.engine.judge import ModelJudge
from guifan.errors import GuifanError, InputError
from guifan.pipeline import WINDOW_PER_WORKER, Chunk, Context, Outcome, check_chunk, iter_chunk
from guifan.readers import AUDIO_EXTENSIONS, Meter
from guifan.rulebook import Rulebook
from guifan.scoring import Checker

RETRIES = 3  # times Ray runs a task again whose worker process or node died


def connect(address: str) -> None:
    """Join the Ray cluster at ``address``: "auto" (the cluster this machine is a node of, or
    RAY_ADDRESS), the head's host:port, or ray://host:port (Ray Client)."""
    if ray.is_initialized():
        return
    if address != "auto" and not address.startswith("ray://"):
        host, _, port = address.rpartition(":")
        try:  # Ray itself waits minutes for an address where nothing answers
            socket.create_connection((host or address, int(port) if port.isdigit() else 6379), timeout=10).close()
        except OSError as exc:
            raise GuifanError(f"无法连接 Ray 集群 {address}: {exc.strerror or exc} (头节点是否已用 ray start --head 启动?)") from None
    try:
        ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise GuifanError(f"无法连接 Ray 集群 {address}: {exc}") from None


@dataclass(frozen=True)
class Recipe:
    """How a node makes the driver's checker: the rulebook, the rules chosen, the model judge."""

    rulebook: Rulebook
    rules: tuple[str, ...]
    judge: tuple[str, str, float, str | None] | None = None  # endpoint, model, timeout, API key

    @classmethod
    def of(cls, context: Context) -> "Recipe":
        engine, judge = context.checker.engine, context.judge
        endpoint = judge.endpoint if judge is not None else None
        spec = (endpoint.url, endpoint.model, endpoint.timeout, endpoint.api_key) if endpoint is not None else None
        return cls(engine.rulebook, tuple(rule.code for rule in engine.rules), spec)  # codes: none prefixes another

    def context(self, shipped: Context) -> Context:
        judge = ModelJudge(*self.judge) if self.judge is not None else None
        checker = Checker(Engine(self.rulebook, select=self.rules, judge=judge))
        return replace(shipped, checker=checker, judge=judge, load_recognizer=shipped.audio is not None)


_NODE: tuple[str, Context] | None = None  # this worker process's context, made for its first chunk


def _context(boxed: list) -> Context:
    """The run's context in this worker process. ``boxed`` holds its reference unresolved, so that
    a worker fetches the recipe once, not with every chunk."""
    global _NODE
    key = boxed[0].hex()
    if _NODE is None or _NODE[0] != key:
        recipe, shipped = ray.get(boxed[0])
        _NODE = (key, recipe.context(shipped))
    return _NODE[1]


@ray.remote(max_retries=RETRIES)
def _check(chunk: Chunk, boxed: list) -> tuple[list[Outcome], str | None]:
    context = _context(boxed)
    return check_chunk(context, chunk), context.judge.failure if context.judge is not None else None


def _absolute(chunk: Chunk) -> Chunk:
    """The chunk with its files named by absolute paths, which mean the same on every node."""
    return replace(chunk, pieces=tuple(replace(p, path=Path(os.path.abspath(p.path))) for p in chunk.pieces))


def _is_recording(chunk: Chunk) -> bool:
    return any(p.path.suffix.lower() in AUDIO_EXTENSIONS for p in chunk.pieces)


@dataclass
class _Entry:
    chunk: Chunk
    task: object = None  # the running task's reference
    outcomes: list[Outcome] | None = None  # set when done


def check_stream(chunks: Iterable[Chunk], context: Context, meter: Meter | None = None) -> Iterator[Outcome]:
    """The outcomes of every chunk in input order, checked on the connected cluster; ``meter`` is
    told the input bytes of each chunk as its outcomes leave."""
    shipped = replace(context, checker=None, judge=None,
                      audio=replace(context.audio, transcriber=None) if context.audio is not None else None)
    boxed = [ray.put((Recipe.of(context), shipped))]
    cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
    # A recording's task takes the CPUs its recognizer's threads use, as many as the largest node has.
    largest = max((int(n["Resources"].get("CPU", 0)) for n in ray.nodes() if n["Alive"]), default=1)
    threads = context.audio.asr[2] if context.audio is not None and context.audio.asr is not None else 1
    recording = {"num_cpus": max(1, min(threads, largest))}
    pending: deque[_Entry] = deque()
    running: dict[object, _Entry] = {}
    source = iter(chunks)
    exhausted = False
    while True:
        while not exhausted and len(pending) < WINDOW_PER_WORKER * cpus:
            chunk = next(source, None)
            if chunk is None:
                exhausted = True
            elif chunk.resumed or all(isinstance(i, InputError) for i in chunk.items) and not chunk.pieces:
                # Results in the driver's own state file, or only errors of listing the inputs.
                pending.append(_Entry(chunk, outcomes=list(iter_chunk(context, chunk))))
            else:
                entry = _Entry(chunk, _check.options(**(recording if _is_recording(chunk) else {})).remote(
                    _absolute(chunk), boxed))
                running[entry.task] = entry
                pending.append(entry)
        while pending and pending[0].outcomes is not None:
            entry = pending.popleft()
            yield from entry.outcomes
            if meter is not None:
                meter.read(entry.chunk.size)
        if exhausted and not pending:
            return
        if running:  # else the window held only chunks done here: fill it again
            ready, _ = ray.wait(list(running), num_returns=1)
            for task in ready:
                _finish(running.pop(task), context)


def _finish(entry: _Entry, context: Context) -> None:
    try:
        outcomes, judge_failure = ray.get(entry.task)
    except RayError as exc:  # its worker died more often than Ray retries, or its node went away
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        entry.outcomes = _unchecked(entry.chunk, reason)
        return
    if judge_failure and context.judge is not None and context.judge.failure is None:
        context.judge.failure = judge_failure  # said once at the end, as without a cluster
    entry.outcomes = outcomes


def _unchecked(chunk: Chunk, reason: str) -> list[Outcome]:
    """A chunk no node could check: an error for each of its files (or spans), and its items."""
    errors: list[Outcome] = []
    for piece in chunk.pieces:
        where = f"第 {piece.span.line} 行起的一段" if piece.span is not None else "整个文件"
        errors.append(InputError(piece.name, f"集群任务失败,{where}没有检查: {reason}", piece.span.line if piece.span else None))
    errors.extend(i if isinstance(i, InputError) else InputError(i.source or i.id, f"集群任务失败,对话 {i.id} 没有检查: {reason}")
                  for i in chunk.items)
    return errors
