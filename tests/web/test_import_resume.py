"""An import worker killed mid-job (SIGKILL) resumes with nothing lost and nothing duplicated."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

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

    worker = subprocess.Popen(
        [sys.executable, "-c",
         "import sys; from guifan.web.db import make_engine; from guifan.web.services import Workspace; "
         "Workspace(make_engine(sys.argv[1])).run_import(int(sys.argv[2]))", db_url, str(job_id)],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            with workspace.sessions() as session:
                checked = session.get(ImportJob, job_id).checked
            if checked >= 20 or worker.poll() is not None:
                break
            time.sleep(0.02)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()

    with workspace.sessions() as session:
        job = session.get(ImportJob, job_id)
        assert job.status == JobStatus.RUNNING, "the worker finished before it could be killed"
        assert 0 < job.checked < TOTAL
    assert workspace.pending_jobs() == [job_id]  # a restarted server picks it up again

    workspace.run_import(job_id)

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
