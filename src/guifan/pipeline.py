"""Checking a batch as a stream, in this process or in worker processes (``guifan check --jobs``).

    context = Context(checker, report.encode, log=True, seen=log.seen)
    for outcome in check_stream(chunks(paths, parallel=True), context, jobs=4):
        ...  # a Checked (its figures, its piece of the report, its state-file line) or an InputError

The inputs are cut into chunks (``chunks``): a JSONL file into spans of lines that a worker reads
itself (only the span's description travels), small files a group at a time, a recording alone,
and the conversations of a big file of another format read here and sent in groups. A worker runs
``check_chunk`` on each: it reads, checks, and encodes each result's piece of the report and its
state-file line, so that the parent only writes bytes and adds up figures. Results come back a
chunk at a time and leave in input order through a window of a few chunks per worker: nothing of
the batch is held. A worker that dies costs the conversations of its chunk (each an InputError
saying so) and is replaced; the batch goes on.

Workers are forked from this process when the run starts: they share its engine, built once and
warmed by one conversation, and read no input of their own beyond their chunks. What a worker's
meaning stage works out about a text (its sentence vectors and judgements) goes to the parent as
soon as a conversation is checked and on to the other workers, who take it before their next
conversation (``MeaningModel.learned``): the sentences a batch repeats (greetings, scripted lines)
are worked out about once, not once in every worker. Layers: readers, scoring and resume below; the
reporters (whose encoder is handed in) and the CLI above.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import pickle
import queue
import signal
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

from guifan.errors import InputError
from guifan.model import Conversation, Role, Turn
from guifan.readers import (
    AUDIO_EXTENSIONS, DEFAULT_MAX_BYTES, STREAMED_EXTENSIONS, Meter, Span, input_files, line_spans, read_file,
)
from guifan.resume import read_results, record_line
from guifan.scoring import Checker, CheckResult, ResultStats, check_error

if TYPE_CHECKING:
    import multiprocessing.queues

    from guifan.audio import AudioOptions
    from guifan.engine.judge import ModelJudge
    from guifan.engine.meaning import MeaningModel
    from guifan.rulebook import Rulebook

CHUNK_BYTES = 128 * 1024  # of input per chunk: about 90 JDDC-like chats, a fraction of a second's work
CHUNK_ITEMS = 64  # conversations per chunk of a file read here
WINDOW_PER_WORKER = 4  # chunks sent or waiting their turn to leave, per worker
# Chunks a worker may be sent before it answers: the next one waits in its pipe, so that it never
# idles until the parent is scheduled to send more. Only chunks that are descriptions (spans,
# paths): a chunk of conversations could fill the pipe while the worker's answer fills the other.
AHEAD = 2
PARALLEL_BYTES = 512 * 1024  # a smaller input is checked in this process: workers would not pay off
# Checked once before the workers are forked, so that what the engine loads on its first
# conversation is loaded once, in the memory they share.
WARM_UP = Conversation("warm-up", (Turn(Role.AGENT, "您好,请问有什么可以帮您?"), Turn(Role.CUSTOMER, "我的快递还没到"),
                                   Turn(Role.AGENT, "好的,请您稍等,我帮您查询一下。")))


@dataclass(frozen=True, slots=True)
class Piece:
    """A file, or a span of a JSONL file's lines, as a worker reads it."""

    path: Path
    name: str  # as errors and sources name it (the path as the user gave it)
    span: Span | None = None  # None: the whole file


@dataclass(frozen=True, slots=True)
class Chunk:
    """Work for one worker at a time: files or spans to read, or conversations read already; or
    (``resumed``) spans of a state file, whose results are reported again, not checked."""

    pieces: tuple[Piece, ...] = ()
    items: tuple[Conversation | InputError, ...] = ()
    resumed: bool = False
    size: int = 0  # bytes of input it stands for (a progress bar's measure)

    @property
    def empty(self) -> bool:
        return not self.pieces and not self.items


@dataclass(frozen=True, slots=True)
class Checked:
    """One checked conversation on its way to the report."""

    stats: ResultStats
    piece: Any  # its piece of the report (``Context.encode``)
    line: str = ""  # its state-file line; "" for a resumed result or without a state file
    result: CheckResult | None = None  # the result itself, only with ``Context.keep``


Outcome = Checked | InputError


@dataclass
class Context:
    """What checking a chunk takes, the same in every process (a worker inherits it)."""

    checker: Checker
    encode: Callable[[CheckResult, Rulebook], Any]  # the report's piece of a result
    mask: bool = False  # mask personal data in the report's pieces (not in the state file)
    log: bool = False  # make each new result's state-file line
    seen: Callable[[Conversation], bool] | None = None  # checked by an earlier run: skipped
    audio: AudioOptions | None = None  # how recordings are read (a worker loads its own recognizer)
    max_bytes: int = DEFAULT_MAX_BYTES
    judge: ModelJudge | None = None  # the engine's model judge, whose failure a worker reports
    keep: bool = False  # keep each CheckResult in its Checked
    # A worker process: it loads its own recognizer (``audio.asr``) when its first recording comes.
    load_recognizer: bool = False


def chunks(paths: Iterable[str | Path], *, parallel: bool, max_bytes: int = DEFAULT_MAX_BYTES,
           skip_recordings: frozenset[str] = frozenset()) -> Iterator[Chunk]:
    """The inputs cut into chunks, in reading order. ``parallel``: a big file of a whole-document
    format is read here and sent in groups of conversations (else it is one chunk, read where it
    is checked, its conversations streamed). ``skip_recordings``: recordings an earlier run has
    checked (by name), not read again."""
    group: list[Piece] = []
    grouped = 0
    unread = 0  # bytes of files not read (a mono recording's diarization, read with it; recordings done)

    def skipped(path: Path) -> None:
        nonlocal unread
        unread += _size(path)

    def flush() -> Iterator[Chunk]:
        nonlocal group, grouped, unread
        if group or unread:
            yield Chunk(tuple(group), size=grouped + unread)
        group, grouped, unread = [], 0, 0

    for given in paths:
        for found in input_files(given, skip=skipped):
            if isinstance(found, InputError):
                yield from flush()
                yield Chunk(items=(found,))
                continue
            name, size, suffix = str(found), _size(found), found.suffix.lower()
            if suffix in AUDIO_EXTENSIONS and name in skip_recordings:
                unread += size
            elif suffix in AUDIO_EXTENSIONS:
                yield from flush()
                yield Chunk((Piece(found, name),), size=size)
            elif size <= CHUNK_BYTES or (suffix not in STREAMED_EXTENSIONS and not parallel):
                group.append(Piece(found, name))
                grouped += size
                if grouped >= CHUNK_BYTES:
                    yield from flush()
            elif suffix in STREAMED_EXTENSIONS:
                yield from flush()
                for span in _spans(found):
                    yield Chunk((Piece(found, name, span),), size=span.end - span.start if span else size)
            else:
                yield from flush()
                yield from _read_here(found, name, size, max_bytes)
    yield from flush()


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _spans(path: Path) -> list[Span | None]:
    try:
        spans = line_spans(path, CHUNK_BYTES)
    except OSError:  # gone since it was listed: reading it says so
        return [None]
    return spans if len(spans) > 1 else [None]


def _read_here(path: Path, name: str, size: int, max_bytes: int) -> Iterator[Chunk]:
    batch: list[Conversation | InputError] = []
    for item in read_file(path, name, max_bytes=max_bytes):
        batch.append(item)
        if len(batch) == CHUNK_ITEMS:
            yield Chunk(items=tuple(batch))
            batch = []
    yield Chunk(items=tuple(batch), size=size)


def resumed_chunks(state: Path, spans: Iterable[Span]) -> Iterator[Chunk]:
    """The results of an earlier run (the state file's ``spans`` of lines to report) as chunks."""
    for span in spans:
        yield Chunk((Piece(state, str(state), span),), resumed=True)


# --- checking a chunk (in a worker, or here) -----------------------------------------------------


def check_chunk(context: Context, chunk: Chunk) -> list[Outcome]:
    """Every outcome of a chunk, in order: what a worker process (or a cluster's task) runs."""
    return list(iter_chunk(context, chunk))


def iter_chunk(context: Context, chunk: Chunk) -> Iterator[Outcome]:
    """The outcomes of a chunk one at a time (a whole file's conversations are never held)."""
    if chunk.resumed:
        for piece in chunk.pieces:
            for result in read_results(piece.path, context.checker, piece.span):
                yield _checked(context, result, fresh=False)
        return
    for item in chunk.items or _read(context, chunk.pieces):
        if isinstance(item, InputError):
            yield item
        elif context.seen is None or not context.seen(item):
            try:
                yield _checked(context, context.checker.check(item), fresh=True)
            except Exception as exc:  # a rule's (or an encoder's) bug must not lose the rest of the batch
                yield check_error(item, exc)


def _read(context: Context, pieces: Iterable[Piece]) -> Iterator[Conversation | InputError]:
    for piece in pieces:
        audio = context.audio
        if audio is not None and piece.path.suffix.lower() in AUDIO_EXTENSIONS:
            audio = _recordings(context)
        yield from read_file(piece.path, piece.name, max_bytes=context.max_bytes, audio=audio, span=piece.span)


def _recordings(context: Context) -> AudioOptions:
    """How this process reads recordings: a worker loads its own recognizer, on its first recording."""
    if context.load_recognizer:
        context.audio = context.audio.in_worker()
        context.load_recognizer = False
    return context.audio


def _checked(context: Context, result: CheckResult, fresh: bool) -> Checked:
    shown = result
    if context.mask:
        from guifan.privacy import mask_result  # libphonenumber's tables: only when masking

        shown = mask_result(result)
    return Checked(
        ResultStats.of(result, fresh),
        context.encode(shown, context.checker.engine.rulebook),
        record_line(result) if context.log and fresh else "",
        result if context.keep else None,
    )


# --- the stream ----------------------------------------------------------------------------------


def check_stream(chunks: Iterable[Chunk], context: Context, *, jobs: int = 1,
                 meter: Meter | None = None) -> Iterator[Outcome]:
    """The outcomes of every chunk in input order: checked here (``jobs`` 1) or by ``jobs`` worker
    processes. ``meter`` is told the input bytes of each chunk as its outcomes leave."""
    if jobs <= 1:
        for chunk in chunks:
            yield from iter_chunk(context, chunk)
            if meter is not None:
                meter.read(chunk.size)
        return
    with Workers(context, jobs) as workers:
        for chunk, outcomes in workers.run(chunks):
            yield from outcomes
            if meter is not None:
                meter.read(chunk.size)


def parallel_jobs(jobs: int, paths: Iterable[str | Path], extra_bytes: int = 0) -> int:
    """How many processes to check ``paths`` with: ``jobs``, or 1 for an input too small for
    workers to pay off (``extra_bytes``: other work of the run, a state file's results)."""
    from guifan.readers import input_size

    if jobs <= 1:
        return 1
    return jobs if input_size(paths) + extra_bytes >= PARALLEL_BYTES else 1


def default_jobs() -> int:
    """The CPUs this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@dataclass
class _Worker:
    process: multiprocessing.process.BaseProcess
    conn: Connection
    # What the other workers' meaning stages learned, pickled (None: no meaning stage). A queue,
    # not the pipe: its thread sends while this worker is busy and the parent goes on.
    knowledge: multiprocessing.queues.Queue | None
    entries: deque["_Entry"] = field(default_factory=deque)  # chunks sent, not answered, in order

    def close(self) -> None:
        self.conn.close()
        if self.knowledge is not None:
            self.knowledge.cancel_join_thread()  # what a finished worker never read is dropped
            self.knowledge.close()


@dataclass
class _Entry:
    chunk: Chunk
    outcomes: list[Outcome] | None = None  # set when done


@dataclass(frozen=True)
class _Failed:
    """A worker's report of a chunk it could not check (an unexpected error, not a death)."""

    reason: str


@dataclass(frozen=True)
class _Done:
    outcomes: list[Outcome]
    judge_failure: str | None


_GONE = object()  # a worker's pipe ended (Workers._answer)


@dataclass(frozen=True)
class _Learned:
    """What a worker's meaning stage worked out while checking a conversation, for the others."""

    pickled: bytes


def _serve(context: Context, conn: Connection, parents: list[Connection],
           knowledge: multiprocessing.queues.Queue | None) -> None:
    """A worker's life: check each chunk the parent sends, answer with its outcomes, until the
    parent closes its end of the pipe or dies. ``parents``: the parent's ends of every worker's
    pipe, this one's included, which the fork copied: closed here, or the parent's death would
    leave the pipe open. Between conversations it sends what its meaning stage worked out and
    takes what the other workers' did."""
    for end in parents:
        end.close()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it ends the workers
    context.load_recognizer = context.audio is not None
    meaning = context.checker.engine.meaning if knowledge is not None else None
    if meaning is not None:
        meaning.record()
    while True:
        try:
            chunk = conn.recv()
        except (EOFError, OSError):
            return  # the parent is gone, or done
        try:
            outcomes = []
            for outcome in iter_chunk(context, chunk):
                outcomes.append(outcome)
                if meaning is not None:
                    _share(meaning, conn, knowledge)
            answer: _Done | _Failed = _Done(outcomes, context.judge.failure if context.judge is not None else None)
        except Exception as exc:
            answer = _Failed(f"{type(exc).__name__}: {exc}"[:200])
        try:
            conn.send(answer)
        except (BrokenPipeError, OSError):
            return


def _share(meaning: MeaningModel, conn: Connection, knowledge: multiprocessing.queues.Queue) -> None:
    """Send what the meaning stage worked out since the last time; take everything the other
    workers have sent so far, without waiting for more."""
    learned = meaning.learned()
    if learned is not None:
        conn.send(_Learned(pickle.dumps(learned, pickle.HIGHEST_PROTOCOL)))
    while True:
        try:
            learned = knowledge.get_nowait()
        except queue.Empty:
            return
        meaning.learn(pickle.loads(learned))


class Workers:
    """``jobs`` worker processes forked from this one, each checking one chunk at a time."""

    def __init__(self, context: Context, jobs: int):
        self.context = context
        self.jobs = jobs
        self._fork = multiprocessing.get_context("fork")
        self._workers: list[_Worker] = []

    def __enter__(self) -> "Workers":
        # What the workers share from the fork: the engine with its lazily loaded parts (the sentence
        # encoder: loaded once here, not once per worker), out of the garbage collector's way (a
        # collection in a worker would otherwise walk, and so copy, every page of the engine).
        self.context.checker.check(WARM_UP)
        gc.freeze()
        self._workers = [self._start() for _ in range(self.jobs)]
        return self

    def __exit__(self, *exc: object) -> None:
        gc.unfreeze()
        for worker in self._workers:
            worker.close()  # an idle worker reads the end of its pipe and leaves
        for worker in self._workers:
            worker.process.join(timeout=0 if worker.entries else 5)
            if worker.process.is_alive():
                worker.process.terminate()
                worker.process.join()
        self._workers = []

    def _start(self) -> _Worker:
        parent, child = self._fork.Pipe()
        ends = [parent, *(w.conn for w in self._workers if not w.conn.closed)]
        knowledge = self._fork.Queue() if self.context.checker.engine.meaning is not None else None
        process = self._fork.Process(target=_serve, args=(self.context, child, ends, knowledge),
                                     name="guifan-check", daemon=True)
        process.start()
        child.close()
        return _Worker(process, parent, knowledge)

    def run(self, chunks: Iterable[Chunk]) -> Iterator[tuple[Chunk, list[Outcome]]]:
        """Each chunk with its outcomes, in the chunks' order."""
        pending: deque[_Entry] = deque()
        source = iter(chunks)
        held: Chunk | None = None  # taken from the source, no worker free for it yet
        exhausted = False
        window = WINDOW_PER_WORKER * self.jobs
        while True:
            while not exhausted and len(pending) < window:
                chunk = held if held is not None else next(source, None)
                held = None
                if chunk is None:
                    exhausted = True
                    break
                if chunk.empty:
                    pending.append(_Entry(chunk, []))
                    continue
                worker = self._free(chunk)
                if worker is None:
                    held = chunk
                    break
                entry = _Entry(chunk)
                pending.append(entry)
                self._send(worker, entry)
            while pending and pending[0].outcomes is not None:
                entry = pending.popleft()
                yield entry.chunk, entry.outcomes
            if exhausted and not pending:
                return
            if any(w.entries for w in self._workers):
                self._collect()

    def _free(self, chunk: Chunk) -> _Worker | None:
        """The worker to send ``chunk`` to: an idle one, else (a description) one with fewer than
        AHEAD chunks; None if there is none."""
        worker = min(self._workers, key=lambda w: len(w.entries))
        if not worker.entries or (not chunk.items and len(worker.entries) < AHEAD):
            return worker
        return None

    def _send(self, worker: _Worker, entry: _Entry) -> None:
        worker.entries.append(entry)
        try:
            worker.conn.send(entry.chunk)
        except (BrokenPipeError, OSError):
            self._lost(worker)

    def _collect(self) -> None:
        """Wait for a busy worker to answer (or die), and take what every ready one has."""
        busy = [w for w in self._workers if w.entries]
        ready = set(wait([w.conn for w in busy] + [w.process.sentinel for w in busy]))
        for worker in busy:
            if worker.conn not in ready and worker.process.sentinel not in ready:
                continue
            answer = self._answer(worker)
            if answer is None:
                if worker.process.sentinel in ready or not worker.process.is_alive():
                    self._lost(worker)
                continue  # it only shared what it learned
            if answer is _GONE:
                self._lost(worker)
                continue
            entry = worker.entries.popleft()
            if isinstance(answer, _Failed):
                entry.outcomes = self._unchecked(entry.chunk, f"出错 ({answer.reason})")
                continue
            entry.outcomes = answer.outcomes
            judge = self.context.judge
            if judge is not None and judge.failure is None and answer.judge_failure:
                judge.failure = answer.judge_failure

    def _answer(self, worker: _Worker) -> _Done | _Failed | object | None:
        """A worker's answer to its oldest chunk, once what it learned meanwhile is passed on to
        the others; None if it has not answered yet, _GONE if its pipe ended."""
        while True:
            try:
                message = worker.conn.recv() if worker.conn.poll() else None
            except (EOFError, OSError):
                return _GONE
            except Exception as exc:  # an answer that does not unpickle: a bug, not a death
                return _Failed(f"{type(exc).__name__}: {exc}"[:200])
            if not isinstance(message, _Learned):
                return message
            for other in self._workers:
                if other is not worker and other.knowledge is not None:
                    other.knowledge.put(message.pickled)

    def _lost(self, worker: _Worker) -> None:
        """A worker died (or lost its pipe): the conversations of the chunk it was checking are
        errors, a new worker takes its place and is sent the chunks the old one had not begun."""
        worker.process.join(timeout=5)
        if worker.process.is_alive():  # its pipe broke, the process lives on: it is not waited for
            worker.process.kill()
            worker.process.join()
        code = worker.process.exitcode
        if code is not None and code < 0:
            how = f"被信号 {signal.Signals(-code).name} 终止"
        else:
            how = f"意外退出 (退出码 {code})"
        lost = worker.entries.popleft()
        lost.outcomes = self._unchecked(lost.chunk, how)
        worker.close()
        self._workers[self._workers.index(worker)] = replacement = self._start()
        for entry in worker.entries:
            self._send(replacement, entry)

    def _unchecked(self, chunk: Chunk, how: str) -> list[Outcome]:
        """The outcomes of a chunk its worker could not finish: an InputError for each of its
        conversations (read again here to name them; a recording is named without decoding it
        again). Results of an earlier run are reported from here instead."""
        if chunk.resumed:
            return check_chunk(self.context, chunk)
        outcomes: list[Outcome] = []
        for piece in chunk.pieces:
            if piece.path.suffix.lower() in AUDIO_EXTENSIONS:
                outcomes.append(InputError(piece.name, f"检查录音的进程{how},这通录音没有检查"))
            else:
                items = read_file(piece.path, piece.name, max_bytes=self.context.max_bytes, span=piece.span)
                outcomes.extend(_unchecked(item, how) for item in items)
        outcomes.extend(_unchecked(item, how) for item in chunk.items)
        return outcomes


def _unchecked(item: Conversation | InputError, how: str) -> InputError:
    if isinstance(item, InputError):
        return item
    return InputError(item.source or item.id, f"检查对话 {item.id} 的进程{how},这通对话没有检查")
