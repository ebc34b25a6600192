"""Imports and lists at scale, on SQLite and PostgreSQL: a big job checked in worker processes and
stored in bulk stores what one process would (errors, duplicates, agents, re-imports with review
work); a conversation the database refuses fails alone; the job's total and time left; the list's
pages after a cursor (keyset) and its capped count; the upgrade that counts standing findings; the
import page following a running job (headless Chromium). Speed itself is measured by
bench/bench_workspace.py, not here."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import JSON, column, func, select, table, text

from guifan.engine import Engine
from guifan.readers.fields import build
from guifan.web.conversations import service as lists
from guifan.web.db import alembic_config, make_engine, migrate, session_factory
from guifan.web.imports import service as imports
from guifan.web.imports.checking import CheckPool
from guifan.web.imports.service import eta_seconds
from guifan.web.models import Conversation, Finding, ImportFile, ImportJob, JobStatus, User, utcnow
from guifan.web.notifications.models import Notification
from tests.web.conftest import PASSWORD, conversation, jsonl, made, serving, stored, wait_for_job
from tests.web.test_api import import_file
from tests.web.test_browser import CHROMIUM, browser, log_in, sync_api, violations  # noqa: F401 (fixtures)

expect = sync_api.expect

TEXTS = ("您好,请问有什么可以帮您?", "你好", "他们仓库的事,你自己去问问吧")


@pytest.fixture
def workers(app):
    """The app's imports checked by two worker processes from ten conversations on."""
    workspace = app.state.workspace
    workspace.check_pool, workspace.parallel_from = CheckPool(2), 10
    yield workspace
    workspace.check_pool.close()


def test_a_big_job_checked_by_workers_stores_what_one_process_would(app, people, workers):
    rev = people["rev"]
    # c01 was imported and reviewed before: the big job brings it again, unchanged.
    import_file(rev, "first.jsonl", jsonl(conversation("c01", "1024", agent_text=TEXTS[1])))
    cid = rev.get("/api/v1/conversations").json()["items"][0]["id"]
    assert rev.post(f"/api/v1/conversations/{cid}/review").status_code == 200

    items = [conversation(f"c{n:02d}", "1024" if n % 2 else None, agent_text=TEXTS[n % 3]) for n in range(60)]
    changed = conversation("c05", "1024", agent_text=TEXTS[2])  # the same id again, later in the file: it wins
    lines = jsonl(*items[:30]) + b'\n{"id": "broken", "turns": "nope"}\n' + jsonl(*items[30:], changed)
    job = import_file(rev, "big.jsonl", lines)

    assert (job["total"], job["read"], job["checked"], job["failed"]) == (62, 62, 61, 1)
    assert job["errors"][0]["path"] == "big.jsonl" and job["errors"][0]["line"] == 31
    assert job["outcomes"] == [{"conversation_id": cid, "external_id": "c01", "version": 1, "outcome": "unchanged",
                                "carried": job["outcomes"][0]["carried"], "new": 0, "removed": 0,
                                "appeals_withdrawn": 0}]
    workspace = app.state.workspace
    with workspace.sessions() as session:
        rows = {c.external_id: c for c in session.scalars(select(Conversation))}
        assert len(rows) == 60
        assert rows["c05"].turns[1]["text"] == TEXTS[2]
        assert rows["c01"].review_status == "reviewed"
        agent = session.scalar(select(User).where(User.agent_code == "1024"))
        assert {(c.agent_id, c.team_id) for n, c in rows.items() if int(n[1:]) % 2} == {(agent.id, agent.team_id)}
        assert {c.agent_id for n, c in rows.items() if int(n[1:]) % 2 == 0} == {None}
        for row in rows.values():  # the kept counts agree with the findings
            assert row.standing == len(row.findings)
            assert row.uncertain == sum(f.awaits_review for f in row.findings)
        told = set(session.scalars(select(Notification.conversation_id).where(Notification.user_id == agent.id)))
        assert told == {c.id for n, c in rows.items() if int(n[1:]) % 2 and c.findings}  # the agent hears of them
        stored_findings = session.scalar(select(func.count(Finding.id)))
        done = session.scalar(select(ImportFile.done_items).where(ImportFile.job_id == job["id"]))
    final = {i["id"]: i for i in items} | {"c05": changed}
    engine = Engine()
    assert stored_findings == sum(len(engine.check(build(c))) for c in final.values())
    assert done == 62


def test_sqlite_keeps_its_statistics_as_the_conversations_grow(app, people, db_url, monkeypatch):
    """Without them SQLite sorts a whole team's (or channel's) conversations for a page of the list."""
    monkeypatch.setattr(imports, "ANALYZE_FROM", 5)
    rev = people["rev"]
    import_file(rev, "four.jsonl", jsonl(*(conversation(f"s{n}", None) for n in range(4))))
    assert analyzed(app) == 0  # too few to matter
    import_file(rev, "six.jsonl", jsonl(*(conversation(f"t{n}", None) for n in range(6))))
    assert analyzed(app) == (10 if db_url.startswith("sqlite") else 0)  # PostgreSQL's autovacuum keeps its own
    import_file(rev, "again.jsonl", jsonl(*(conversation(f"u{n}", None) for n in range(5))))
    assert analyzed(app) == (10 if db_url.startswith("sqlite") else 0)  # not doubled since


def analyzed(app) -> int:
    """The conversations SQLite's statistics last counted (0: none)."""
    with app.state.workspace.sessions() as session:
        if session.get_bind().dialect.name != "sqlite" or not session.scalar(
                text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")):
            return 0
        stat = session.scalar(text("SELECT stat FROM sqlite_stat1 WHERE tbl = 'conversations' LIMIT 1"))
        return int(stat.split()[0]) if stat else 0


def test_a_conversation_the_database_refuses_fails_alone(app, people, db_url, workers):
    items = [conversation(f"n{n:02d}", None) for n in range(20)]
    items[7]["id"] = "n07\u0000"  # PostgreSQL's text holds no NUL character
    job = import_file(people["rev"], "nul.jsonl", jsonl(*items))
    refused = 1 if db_url.startswith("postgresql") else 0
    assert (job["read"], job["checked"], job["failed"]) == (20, 20 - refused, refused)
    assert rows_of(app) == {f"n{n:02d}" for n in range(20) if n != 7} | (set() if refused else {"n07\u0000"})
    if refused:  # the line, and the driver's reason without the statement (which carries the transcript)
        (error,) = job["errors"]
        assert error["path"] == "nul.jsonl:8" and error["message"].startswith("存入工作台时出错 (对话 n07\x00): ")
        assert "NUL" in error["message"] and "INSERT" not in error["message"]


def rows_of(app) -> set[str]:
    with app.state.workspace.sessions() as session:
        return set(session.scalars(select(Conversation.external_id)))


def test_a_job_says_its_total_and_the_time_left(app, people):
    rev = people["rev"]
    workspace = app.state.workspace
    with workspace.sessions() as session:  # queued, not started: the worker was not told
        upload = workspace.receive("wait.jsonl", jsonl(*(conversation(f"w{n}", None) for n in range(5))), 1 << 20)
        job_id = workspace.create_import(session, None, [upload]).id
        session.commit()
    pending = rev.get(f"/api/v1/imports/{job_id}", params={"details": "false"}).json()
    assert (pending["status"], pending["total"], pending["eta_seconds"]) == ("pending", None, None)
    assert "errors" not in pending and "outcomes" not in pending
    page = rev.get("/imports", headers={"Accept": "text/html"}).text
    assert '<script src="/static/import-progress.js" defer></script>' in page
    assert f'data-job="{job_id}" data-status="pending"' in page and "预计剩余" in page

    workspace.run_import(job_id)
    done = wait_for_job(rev, job_id)
    assert (done["total"], done["read"], done["checked"], done["eta_seconds"]) == (5, 5, 5, None)
    assert "import-progress.js" not in rev.get("/imports", headers={"Accept": "text/html"}).text

    now = utcnow()
    running = ImportJob(status=JobStatus.RUNNING, total=150, read=70, started_read=20,
                        started_at=now - timedelta(seconds=10))
    assert eta_seconds(running, now) == pytest.approx(16.0)  # 50 in 10 s, 80 to go
    assert eta_seconds(ImportJob(status=JobStatus.RUNNING, total=150, read=20, started_read=20,
                                 started_at=now), now) is None  # nothing read in this run yet


def test_pages_after_a_cursor_are_the_whole_list_in_order(app, people):
    for n in range(23):  # ties in time and score, and conversations without a time
        stored(app, f"k{n:02d}", [made("FBD010", 1, "您")] * (n % 3), agent="1024" if n % 2 else "2048",
               **({"started_at": f"2026-11-02T{n % 5:02d}:00:00+00:00"} if n % 4 else {"started_at": None}))
    rev = people["rev"]
    for key in ("started_at", "findings", "agent", "score", "final_score", "external_id", "status"):
        for descending in ("true", "false"):
            params = {"sort": key, "descending": descending}
            whole = [i["external_id"] for i in rev.get("/api/v1/conversations", params={**params, "per_page": 200}).json()["items"]]
            walked, after, page = [], None, 1
            while True:
                body = rev.get("/api/v1/conversations", params={**params, "per_page": 4, "page": page,
                                                                **({"after": after} if after else {})}).json()
                walked += [i["external_id"] for i in body["items"]]
                after, page = body["next"], page + 1
                if after is None:
                    break
            assert walked == whole and len(whole) == 23, (key, descending)
    # A cursor of another sort is left alone (the page number counts); a broken one is refused.
    first = rev.get("/api/v1/conversations", params={"per_page": 4}).json()
    other = rev.get("/api/v1/conversations", params={"per_page": 4, "page": 2, "sort": "score", "after": first["next"]})
    assert other.json()["items"] == rev.get("/api/v1/conversations", params={"per_page": 4, "page": 2, "sort": "score"}).json()["items"]
    assert rev.get("/api/v1/conversations", params={"after": "not-a-cursor"}).status_code == 400


def test_a_long_list_counts_up_to_a_cap_and_pages_on_by_cursor(app, people, monkeypatch):
    for n in range(12):
        stored(app, f"m{n:02d}", [], started_at=f"2026-11-02T{n:02d}:00:00+00:00")
    monkeypatch.setattr(lists, "COUNT_CAP", 10)
    rev = people["rev"]
    body = rev.get("/api/v1/conversations", params={"per_page": 5}).json()
    assert (body["total"], body["total_capped"], len(body["items"])) == (10, True, 5)
    page = rev.get("/", params={"per_page": 5}).text
    assert "共 10+ 通" in page and "共 10+ 条,第 1–5 条" in page
    assert 'rel="next"' in page and "after=" in page
    second = rev.get("/api/v1/conversations", params={"per_page": 5, "page": 2, "after": body["next"]}).json()
    third = rev.get("/", params={"per_page": 5, "page": 3, "after": second["next"]}).text
    assert "共 10+ 条,第 11–12 条" in third and 'rel="next"' not in third  # numbered on past the count


def test_the_upgrade_counts_the_findings_that_stand(db_url):
    engine = make_engine(db_url)
    previous = ScriptDirectory.from_config(alembic_config(engine)).get_revision("0011").down_revision
    migrate(engine, previous)
    now = utcnow()
    with engine.begin() as connection:
        values = dict(external_id="u1", external_key="u1", version=1, channel="chat", rulebook_version=1,
                      auto_score=90.0, review_status="pending", imported_at=now, updated_at=now, turns=[], meta={},
                      kpis={}, category_scores={}, uncertain=0)
        columns = [column(k, JSON) if isinstance(v, (list, dict)) else column(k) for k, v in values.items()]
        cid = connection.execute(table("conversations", *columns).insert().values(values).returning(text("id"))).scalar_one()
        for status in ("open", "confirmed", "rejected"):
            finding = dict(conversation_id=cid, manual=False, rule="FBD010", severity="minor", category="courtesy",
                           quote="你", message="", suggestion="", status=status, comment="", created_at=now,
                           clauses=["S-F10"], confidence=1.0, evidence="phrase", needs_review=False)
            columns = [column(k, JSON) if isinstance(v, list) else column(k) for k, v in finding.items()]
            connection.execute(table("findings", *columns).insert().values(finding))
    migrate(engine)
    with session_factory(engine)() as session:
        assert session.scalar(select(Conversation.standing)) == 2
    engine.dispose()


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_the_import_page_follows_a_running_job(tmp_path, browser, violations):  # noqa: F811 (fixtures)
    from guifan.web.app import create_app

    app = create_app(f"sqlite:///{tmp_path / 'progress.db'}", secret="e2e", worker=False, upload_dir=tmp_path / "up")
    workspace = app.state.workspace
    with workspace.sessions() as session:
        workspace.add_user(session, "rev", PASSWORD, "reviewer")
        upload = workspace.receive("calls.jsonl", jsonl(*(conversation(f"p{n}", None) for n in range(5))), 1 << 20)
        job_id = workspace.create_import(session, None, [upload]).id
        session.commit()
    with serving(app) as base:
        page = log_in(browser, base, "rev", violations)
        page.goto(f"{base}/imports")
        row = page.locator(f'tr.job[data-job="{job_id}"]')
        expect(row.locator('[data-field="eta"]')).to_have_text("等待开始")
        with workspace.sessions() as session:  # the job as a run records it: 50 of 200 read in 10 s
            job = session.get(ImportJob, job_id)
            job.status, job.total, job.read, job.checked, job.failed = JobStatus.RUNNING, 200, 50, 48, 2
            job.started_at, job.started_read = utcnow() - timedelta(seconds=10), 0
            session.commit()
        expect(row.locator('[data-field="read"]')).to_have_text("50")
        expect(row.locator('[data-field="total"]')).to_have_text("200")
        expect(row.locator('[data-field="failed"]')).to_have_text("2")
        expect(row.locator('[data-field="status"]')).to_have_text("检查中")
        expect(row.locator('[data-field="eta"]')).to_have_text(re.compile(r"约 \d+ 秒|约 1 分钟"))
        assert row.locator("progress").evaluate("bar => [bar.value, bar.max]") == [50, 200]
        with workspace.sessions() as session:
            session.get(ImportJob, job_id).status = JobStatus.DONE
            session.commit()
        page.wait_for_selector(f'tr.job[data-job="{job_id}"][data-status="done"]')
        expect(row.locator('[data-field="eta"]')).to_have_text("—")
        assert page.locator('script[src="/static/import-progress.js"]').count() == 0  # reloaded, nothing to follow
