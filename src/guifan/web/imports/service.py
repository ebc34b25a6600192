"""Running an import job: read each file, check its conversations (in worker processes when the job
is big enough), store them in bulk, and record the job's progress with each group stored.

Conversations are stored in groups (``COMMIT_EVERY``, or what ``COMMIT_SECONDS`` brought) together
with the job's progress in one short transaction: a job interrupted at any point resumes after its
last commit (nothing lost, nothing stored twice: conversations are found by their external key),
and the database's write lock is never held while conversations are being checked (SQLite has one
writer: other requests would wait, then fail with "database is locked").

New conversations are inserted many rows to a statement. One already stored (a re-import), or met
twice in a group, goes through ``Workspace.store_record`` with its review history; so does every
conversation of a group whose bulk insert the database refused, each on its own, so that one bad
conversation fails alone.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from guifan import model
from guifan.errors import InputError
from guifan.privacy import mask_value
from guifan.readers import AUDIO_EXTENSIONS, STREAMED_EXTENSIONS
from guifan.web import uploads
from guifan.web.imports.checking import Item, Outcome, Preparer
from guifan.web.imports.records import Record
from guifan.web.models import Conversation, Finding, ImportFile, ImportJob, JobStatus, User, utcnow

if TYPE_CHECKING:
    from guifan.web.services import Workspace


COMMIT_EVERY = 100  # conversations per import transaction, at most
COMMIT_SECONDS = 2.0  # and a transaction at least this often while conversations come (the progress shown)
PARALLEL_FROM = 200  # conversations in a job from which worker processes check them


def run_import(workspace: Workspace, job_id: int) -> None:
    with workspace.sessions() as session:
        job = session.get(ImportJob, job_id)
        if job is None or job.status == JobStatus.DONE:
            return
        version = workspace.active_rulebook(session)
        mask = bool(workspace.setting(session, "mask_personal_data"))
        if job.total is None:
            job.total = sum(count_items(file) for file in job.files)
        job.status, job.started_at, job.started_read = JobStatus.RUNNING, utcnow(), job.read
        session.commit()
        local = Preparer(workspace.checker(version), version.version, mask)
        parallel = workspace.check_pool.jobs > 1 and job.total - job.read >= workspace.parallel_from
        for file in job.files:
            if file.finished:
                continue
            items = ((index, item) for index, item in enumerate(upload_items(file)) if index >= file.done_items)
            if parallel:
                prepared = workspace.check_pool.prepared(items, version.override_yaml, version.version, mask, local)
            else:
                prepared = ((index, item, local(item)) for index, item in items)
            batch: list[tuple[int, Item, Outcome]] = []
            since = time.monotonic()
            for entry in prepared:
                batch.append(entry)
                if len(batch) >= COMMIT_EVERY or time.monotonic() - since >= COMMIT_SECONDS:
                    save(workspace, session, job, file, batch, mask)
                    batch, since = [], time.monotonic()
            save(workspace, session, job, file, batch, mask)
            file.finished = True
            file.content = None  # the conversations are stored; the upload is no longer needed
            session.commit()
            uploads.discard(file.path)
        job.status = JobStatus.DONE
        job.finished_at = utcnow()
        session.commit()
        refresh_statistics(session)


def save(workspace: Workspace, session: Session, job: ImportJob, file: ImportFile,
         batch: list[tuple[int, Item, Outcome]], mask: bool) -> None:
    """Store a group of checked conversations and the job's progress, atomically."""
    records = [outcome for _, _, outcome in batch if isinstance(outcome, Record)]
    if file.path and uploads.is_recording(file.name):
        stored = [_store_recording(workspace, session, record, Path(file.path), job.id) for record in records]
    else:
        stored = store_many(workspace, session, records, job.id)
    results = iter(stored)
    errors, outcomes = list(job.errors), list(job.outcomes)
    for index, item, outcome in batch:
        job.read += 1
        if isinstance(outcome, InputError):
            job.failed += 1
            errors.append(mask_value(outcome.to_dict()) if mask else outcome.to_dict())
            continue
        found = next(results)
        if isinstance(found, Exception):
            job.failed += 1
            errors.append(refused(item.source or item.id, found, item.id).to_dict())
        else:
            job.checked += 1
            if found is not None:
                outcomes.append(found)
    if batch:
        file.done_items = batch[-1][0] + 1
    job.errors, job.outcomes = errors, outcomes
    session.commit()


def store_many(workspace: Workspace, session: Session, records: list[Record],
               job_id: int | None = None) -> list[dict[str, Any] | None | Exception]:
    """Store checked conversations; for each, what ``Workspace.store_record`` returns (the outcome
    of a conversation with review work, else None) or the exception that refused it."""
    keys = [workspace.conversation_key(session, r.source_id) for r in records]
    known = set(session.scalars(select(Conversation.external_key).where(Conversation.external_key.in_(set(keys))))
                ) if keys else set()
    fresh, one_by_one, seen = [], [], set()
    for n, key in enumerate(keys):
        (one_by_one if key in known or key in seen else fresh).append(n)
        seen.add(key)
    results: list[dict[str, Any] | None | Exception] = [None] * len(records)
    if fresh:
        try:
            with session.begin_nested():
                _insert(session, [(keys[n], records[n]) for n in fresh])
        except Exception:  # some row refused: each on its own, to fail alone
            one_by_one = sorted(fresh + one_by_one)
    for n in one_by_one:
        try:
            with session.begin_nested():
                results[n] = workspace.store_record(session, records[n], job_id)
        except Exception as exc:
            results[n] = exc
    return results


def refused(where: str, exc: Exception, conversation: str | None = None) -> InputError:
    """The database's refusal of a conversation (of its id, when given): the first line of the
    driver's reason, cut short (the statement and its parameters, which carry the transcript, are
    left out)."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    reason = text.splitlines()[0] if text else type(exc).__name__
    which = f" (对话 {conversation})" if conversation is not None else ""
    return InputError(where, f"存入工作台时出错{which}: {reason[:200]}")


def _insert(session: Session, new: list[tuple[str, Record]]) -> None:
    """New conversations and their findings, many rows to a statement (insertmanyvalues)."""
    codes = {r.row["agent_code"] for _, r in new if r.row["agent_code"]}
    agents = {code: (uid, team) for code, uid, team in session.execute(
        select(User.agent_code, User.id, User.team_id).where(User.agent_code.in_(codes)))} if codes else {}
    now = utcnow()
    rows = []
    for key, r in new:
        agent_id, team_id = agents.get(r.row["agent_code"], (None, None))
        rows.append({**r.row, "external_key": key, "version": 1, "agent_id": agent_id, "team_id": team_id,
                     "uncertain": r.uncertain, "standing": len(r.findings), "final_score": None, "review_status": "pending",
                     "imported_at": now, "updated_at": now})
    ids = session.scalars(insert(Conversation).returning(Conversation.id, sort_by_parameter_order=True), rows).all()
    findings = [{**f, "conversation_id": cid, "comment": "", "created_at": now}
                for cid, (_, r) in zip(ids, new) for f in r.findings]
    if findings:
        session.execute(insert(Finding), findings)
    from guifan.web.notifications import service as notifications  # it builds on the workspace: when used

    for cid, (_, r), row in zip(ids, new, rows):
        notifications.new_findings(session, cid, row["agent_id"], len(r.findings))


def _store_recording(workspace: Workspace, session: Session, record: Record, upload: Path,
                     job_id: int) -> dict[str, Any] | None | Exception:
    """A recording's conversation, and its file kept for the player (as one)."""
    try:
        with session.begin_nested():
            found = workspace.store_record(session, record, job_id)
            workspace.keep_recording(session, record.source_id, upload)
        return found
    except Exception as exc:
        return exc


ANALYZE_FROM = 1000  # conversations from which SQLite's statistics are kept


def refresh_statistics(session: Session) -> None:
    """SQLite plans the list's queries (which index walks a filtered list in order) from its tables'
    statistics, which nothing else keeps (PostgreSQL's autovacuum keeps its own): gathered again
    (ANALYZE, about 2 s a million conversations) whenever the conversations have doubled since."""
    if session.get_bind().dialect.name != "sqlite":
        return
    rows = session.scalar(select(func.max(Conversation.id))) or 0
    analyzed = 0
    if session.scalar(text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")):
        stat = session.scalar(text("SELECT stat FROM sqlite_stat1 WHERE tbl = 'conversations' LIMIT 1"))
        analyzed = int(stat.split()[0]) if stat else 0
    if rows >= ANALYZE_FROM and rows >= 2 * analyzed:
        session.execute(text("ANALYZE conversations"))
        session.execute(text("ANALYZE findings"))
        session.commit()


# -- reading and progress ------------------------------------------------------------------------


def upload_items(file: ImportFile) -> Iterator[model.Conversation | InputError]:
    if file.path is not None:
        yield from uploads.read_upload(file.name, Path(file.path))
        return
    with tempfile.TemporaryDirectory() as folder:  # an upload queued before migration 0004, held in the database
        path = Path(folder) / uploads.safe_name(file.name)
        path.write_bytes(file.content or b"")
        yield from uploads.read_upload(file.name, path)


def count_items(file: ImportFile) -> int:
    """The conversations (and unreadable entries) an upload holds, for the job's total: a JSONL
    file's non-blank lines, a recording's one, the other formats read through."""
    suffix = Path(file.name).suffix.lower()
    if suffix in AUDIO_EXTENSIONS:
        return 1
    if suffix in STREAMED_EXTENSIONS and file.path is not None:
        try:
            with open(file.path, "rb") as lines:
                return sum(1 for line in lines if line.strip())
        except OSError:
            return 1  # the reader says what is wrong with it
    return sum(1 for _ in upload_items(file))


def eta_seconds(job: ImportJob, now=None) -> float | None:
    """The time the running job still needs at the pace of this run (None before it has one)."""
    if job.status != JobStatus.RUNNING or job.total is None or job.started_at is None:
        return None
    done = job.read - (job.started_read or 0)
    if done <= 0:
        return None
    started = job.started_at if job.started_at.tzinfo else job.started_at.replace(tzinfo=utcnow().tzinfo)
    elapsed = ((now or utcnow()) - started).total_seconds()
    return max(0.0, (job.total - job.read) * elapsed / done)
