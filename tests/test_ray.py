"""guifan check --ray on a real Ray cluster that this module starts: a head and a worker node on this
machine (`ray start`, one CPU each), stopped at the end. The reports equal plain `guifan check`'s;
a recording is recognized on the nodes; a driver killed mid-job resumes with nothing lost or
checked twice; --db stores into SQLite and PostgreSQL through the workspace's import path."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("ray", reason="the ray extra is not installed")

from sqlalchemy import create_engine, func, select  # noqa: E402

from guifan.web.models import Conversation  # noqa: E402

from tests.web.conftest import db_url  # noqa: E402,F401 (fixture: a fresh SQLite or PostgreSQL database)

sys.path.insert(0, str(Path(__file__).resolve().parent / "audio"))
import synth  # noqa: E402
from tests.ray_nodes import ENV, free_port, local_cluster  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def cluster() -> str:
    """The address of a head node, with a worker node joined to it: one CPU each."""
    with local_cluster(head_cpus=1, workers=1) as nodes:
        yield nodes.address


def guifan(*args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "guifan", *map(str, args)], capture_output=True, text=True,
                          env={**ENV, **kwargs.pop("env", {})}, **kwargs)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    """Chats (a 4 MB JSONL file read in spans by the nodes, with a broken and a blank line; a chat
    log; a broken JSON file), the first 600 of those chats and the broken file ("small"), and, in a
    folder of its own, a synthesized two-channel call."""
    root = tmp_path_factory.mktemp("inputs")
    text, small = root / "text", root / "small"
    text.mkdir()
    small.mkdir()
    lines = (EXAMPLES / "chat_sessions.jsonl").read_text(encoding="utf-8").splitlines()
    with (text / "chats.jsonl").open("w", encoding="utf-8") as fh, (small / "chats.jsonl").open("w", encoding="utf-8") as first:
        for i in range(2300):
            record = json.loads(lines[i % len(lines)])
            record["id"] = f"chat-{i}"
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            if i < 600:
                first.write(json.dumps(record, ensure_ascii=False) + "\n")
            if i == 1200:
                fh.write('{"id": "broken", "turns": [\n\n')
    shutil.copy(EXAMPLES / "chat_log.txt", text / "chat_log.txt")
    for folder in (text, small):
        (folder / "broken.json").write_text('{"id": 1, "turns": [}', encoding="utf-8")
    call = root / "call"
    call.mkdir()
    synth.fail_without_tools()
    synth.build_call([
        synth.Utterance("agent", 0.5, "您好,请问有什么可以帮您", speed=100),
        synth.Utterance("customer", 5.5, "我的快递还没有到", speed=120),
    ], call / "call.wav")
    return {"text": text, "small": small, "call": call}


@pytest.fixture(scope="module")
def plain(inputs, tmp_path_factory) -> dict:
    """Plain `guifan check` of every input, with speech recognition (the packaged Whisper)."""
    report = tmp_path_factory.mktemp("plain") / "plain.json"
    run = guifan("check", inputs["text"], inputs["call"], "--asr", "faster-whisper", "-o", report, "--no-progress")
    assert run.returncode == 1, run.stderr  # the broken inputs
    return json.loads(report.read_text(encoding="utf-8"))


def text_part(report: dict, inputs) -> list[dict]:
    """The report's text conversations (not the recording's)."""
    return [c for c in report["conversations"] if not c["source"].startswith(str(inputs["call"]))]


def test_reports_equal_plain_check_and_recordings_are_recognized_on_the_nodes(cluster, inputs, plain, tmp_path):
    report = tmp_path / "ray.json"
    run = guifan("check", "--ray", "auto", inputs["text"], inputs["call"], "--asr", "faster-whisper", "-o", report,
                 "--no-progress", env={"RAY_ADDRESS": cluster})
    assert run.returncode == 1, run.stderr
    assert json.loads(report.read_text(encoding="utf-8")) == plain
    summary = plain["summary"]
    assert summary["failed"] == 2 and summary["checked"] > 2300
    call = plain["conversations"][-1]
    assert call["audio"]["transcriber"] == "faster-whisper" and any(t["text"] for t in call["turns"])
    assert f"读取 {summary['read']} · 检查 {summary['checked']} · 失败 2" in run.stderr


def _records(state: Path) -> list[dict]:
    """The state file's complete lines: one per conversation checked."""
    return [json.loads(line) for line in state.read_text(encoding="utf-8").splitlines(keepends=True) if line.endswith("\n")]


def _kill_mid_job(args: list, state: Path) -> int:
    """Start a run and kill its driver (SIGKILL) once some conversations are in the state file,
    before the last; how many are."""
    driver = subprocess.Popen([sys.executable, "-m", "guifan", "check", *map(str, args), "--state", str(state),
                               "--no-progress"], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while not (state.exists() and state.stat().st_size) and driver.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        driver.kill()
        driver.wait()
    assert driver.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    return len(_records(state))


def test_a_killed_driver_resumes_with_nothing_lost_or_checked_twice(cluster, inputs, plain, tmp_path):
    state, report = tmp_path / "state.jsonl", tmp_path / "ray.json"
    args = ["--ray", cluster, inputs["text"], "-o", report]
    expected = text_part(plain, inputs)
    assert 0 < _kill_mid_job(args, state) < len(expected)
    run = guifan("check", *args, "--state", state, "--no-progress")
    assert run.returncode == 1, run.stderr
    resumed = json.loads(report.read_text(encoding="utf-8"))
    assert resumed["summary"]["failed"] == 2, run.stderr[-3000:]  # the two bad inputs, no task lost
    assert sorted(resumed["conversations"], key=lambda c: c["source"]) == sorted(expected, key=lambda c: c["source"])
    assert resumed["summary"]["read"] == len(expected) + 2 and resumed["summary"]["failed"] == 2
    assert sorted(e["path"] for e in resumed["summary"]["errors"]) == sorted(e["path"] for e in plain["summary"]["errors"])
    records = _records(state)
    assert len(records) == len({r["source"] for r in records}) == len(expected)


def test_db_stores_every_conversation_once_through_a_killed_run(cluster, inputs, plain, tmp_path, db_url):  # noqa: F811
    state = tmp_path / "state.jsonl"
    args = ["--ray", cluster, inputs["small"], "--db", db_url]
    expected = {c["id"]: c["score"]["total"] for c in plain["conversations"] if c["id"] in {f"chat-{i}" for i in range(600)}}
    assert len(expected) == 600
    assert 0 < _kill_mid_job(args, state) < len(expected)
    # Conversations committed before the kill whose state-file lines were still in the buffer are
    # stored again: still once each.
    run = guifan("check", *args, "--state", state, "--no-progress")
    assert run.returncode == 1, run.stderr
    assert run.stdout == "" and "已存入工作台" in run.stderr  # no report: the conversations are in the workspace
    records = _records(state)
    assert len(records) == len({r["source"] for r in records}) == len(expected), run.stderr[-3000:]
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            assert conn.scalar(select(func.count(Conversation.id))) == len(expected)
            stored = dict(conn.execute(select(Conversation.external_id, Conversation.auto_score)).all())
    finally:
        engine.dispose()
    assert stored == expected


def test_bad_addresses_and_options_are_refused_in_chinese(cluster, inputs):
    nowhere = guifan("check", "--ray", f"127.0.0.1:{free_port()}", inputs["text"])
    assert nowhere.returncode == 2 and "无法连接 Ray 集群" in nowhere.stderr and "Traceback" not in nowhere.stderr
    mixed = guifan("check", "--ray", cluster, "--db", "sqlite:///x.db", "--select", "FBD", inputs["text"])
    assert mixed.returncode == 2 and "工作台当前的规则手册" in mixed.stderr and "--select" in mixed.stderr
