"""An import worker killed mid-job (SIGKILL) resumes with nothing lost and nothing duplicated."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from sqlalchemy import func, select

from guifan.engine import Engine
from guifan.readers import read_paths
from guifan.web.db import make_engine, migrate
from guifan.web.models import Conversation, Finding, ImportJob, JobStatus
from guifan.web.services import Workspace
from tests.web.conftest import conversation, jsonl

TOTAL = 240


def test_killed_worker_resumes_without_loss_or_duplicates(db_url, tmp_path):
    engine = make_engine(db_url)
    migrate(engine)
    workspace = Workspace(engine, tmp_path / "uploads")
    items = [conversation(f"c{i:04d}", None, agent_text="你好" if i % 3 else "您好,请问有什么可以帮您?")
             for i in range(TOTAL)]
    content = jsonl(*items[:150]), jsonl(*items[150:])
    with workspace.sessions() as session:
        uploads = [workspace.receive(name, data, 1 << 30) for name, data in zip(("a.jsonl", "b.jsonl"), content)]
        job = workspace.create_import(session, None, uploads)
        session.commit()
        job_id = job.id

    # The worker kills itself (SIGKILL) at its third commit: the job started, a group of the first
    # file stored, then its last group, but not yet the file's end: mid-job, however fast it runs.
    worker = subprocess.run(
        [sys.executable, "-c",
         "import os, signal, sys; from sqlalchemy import event; from sqlalchemy.orm import Session; "
         "from guifan.web.db import make_engine; from guifan.web.services import Workspace; "
         "commits = []; "
         "event.listen(Session, 'after_commit', lambda s: commits.append(1) or "
         "(len(commits) == 3 and os.kill(os.getpid(), signal.SIGKILL))); "
         "Workspace(make_engine(sys.argv[1])).run_import(int(sys.argv[2]))", db_url, str(job_id)],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "GUIFAN_TEST_RUN": str(tmp_path)}, timeout=600,
    )
    assert worker.returncode == -signal.SIGKILL
    _no_orphans(tmp_path)

    with workspace.sessions() as session:
        job = session.get(ImportJob, job_id)
        assert job.status == JobStatus.RUNNING, "the worker finished before it could be killed"
        assert 0 < job.checked < TOTAL
    assert workspace.pending_jobs() == [job_id]  # a restarted server picks it up again

    workspace.run_import(job_id)
    workspace.check_pool.close()

    with workspace.sessions() as session:
        job = session.get(ImportJob, job_id)
        assert (job.status, job.read, job.checked, job.failed) == (JobStatus.DONE, TOTAL, TOTAL, 0)
        assert session.scalar(select(func.count(Conversation.id))) == TOTAL
        assert session.scalar(select(func.count(func.distinct(Conversation.external_id)))) == TOTAL
        stored = session.scalar(select(func.count(Finding.id)))
    path = tmp_path / "all.jsonl"
    path.write_bytes(jsonl(*items))
    expected = sum(len(Engine().check(c)) for c in read_paths([path]))
    assert stored == expected  # every conversation's findings exactly once
    engine.dispose()


def _no_orphans(tmp_path) -> None:
    """The killed worker's own checking processes (spawned for a job this big on a machine with
    cores to spare) leave with it, within seconds."""
    import time
    from pathlib import Path

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        left = [p for p in Path("/proc").glob("[0-9]*") if _spawned_here(p, tmp_path)]
        if not left:
            return
        time.sleep(0.2)
    raise AssertionError(f"checking processes outlived the killed worker: {left}")


def _spawned_here(proc, tmp_path) -> bool:
    try:
        return f"GUIFAN_TEST_RUN={tmp_path}".encode() in proc.joinpath("environ").read_bytes().split(b"\0")
    except OSError:
        return False

