"""guifan check at scale: reports written as the results come (constant memory) and the batch split
across worker processes (``--jobs``), results in input order, resume across jobs, a dead worker.

The batches are small; the pipeline's thresholds are lowered so that they still take many chunks
and real worker processes. Speed and memory figures are measured by bench/bench_jobs.py, not here.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import jsonschema
import openpyxl
import pytest
from typer.testing import CliRunner

from guifan import pipeline, scoring
from guifan.cli import app
from guifan.engine import Engine
from guifan.engine.meaning import MeaningModel
from guifan.readers import read_paths
from guifan.reporters import html as html_report
from guifan.reporters import report_document, report_schema, write_report
from guifan.reporters import xlsx as xlsx_report
from guifan.resume import ResultLog, record_line
from guifan.scoring import BatchSummary, Checker, CheckResult

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
BAD_LINE = '{"id": "broken", "turns": "这不是列表"}'
runner = CliRunner()


def conversations(copies: int) -> list[dict]:
    """The example chats and calls, ``copies`` times over with ids of their own."""
    lines = [json.loads(line) for name in ("chat_sessions.jsonl", "phone_calls.jsonl")
             for line in (EXAMPLES / name).read_text(encoding="utf-8").splitlines() if line.strip()]
    return [{**c, "id": f"{c['id']}-{k}"} for k in range(copies) for c in lines]


def write_batch(path: Path, copies: int, bad_every: int = 0) -> list[str]:
    """A JSONL batch (a bad line every ``bad_every`` conversations); the good ids in order."""
    rows, ids = [], []
    for n, conversation in enumerate(conversations(copies), 1):
        rows.append(json.dumps(conversation, ensure_ascii=False))
        ids.append(conversation["id"])
        if bad_every and n % bad_every == 0:
            rows.append(BAD_LINE)
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return ids


@pytest.fixture
def small_chunks(monkeypatch):
    """Workers for any input from its start, and chunks of a few conversations: many chunks in
    flight at once."""
    monkeypatch.setattr(pipeline, "PARALLEL_BYTES", 1)
    monkeypatch.setattr(pipeline, "CHUNK_BYTES", 8 * 1024)
    monkeypatch.setattr(pipeline, "CHUNK_ITEMS", 5)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """A JSONL file with bad lines among the good, a CSV file (read by the parent and sent in
    groups) and a chat log (a small file, read by the worker)."""
    root = tmp_path_factory.mktemp("batch")
    write_batch(root / "a.jsonl", copies=3, bad_every=17)
    (root / "b.csv").write_bytes((EXAMPLES / "turns.csv").read_bytes())
    (root / "c.txt").write_bytes((EXAMPLES / "chat_log.txt").read_bytes())
    return root


def check(*args: object) -> object:
    result = runner.invoke(app, ["check", *map(str, args), "--no-progress"])
    assert result.exit_code in (0, 1), result.output
    return result


@pytest.mark.parametrize("fmt", ["json", "jsonl", "text", "html", "xlsx"])
def test_two_jobs_write_the_same_report_as_one(small_chunks, folder, tmp_path, fmt):
    one, two = tmp_path / f"one.{fmt}", tmp_path / f"two.{fmt}"
    first = check(folder, "-f", fmt, "-o", one, "--jobs", "1")
    second = check(folder, "-f", fmt, "-o", two, "--jobs", "2")
    assert first.stderr == second.stderr.replace(str(two), str(one))
    if fmt == "xlsx":
        books = [openpyxl.load_workbook(path) for path in (one, two)]
        assert books[0].sheetnames == books[1].sheetnames
        for name in books[0].sheetnames:
            assert list(books[0][name].values) == list(books[1][name].values)
    else:
        assert one.read_bytes() == two.read_bytes()


def test_streamed_json_is_the_documents_shape_and_in_input_order(small_chunks, folder, tmp_path):
    """The streamed document equals the one built from the results at hand, key for key, and its
    conversations and errors are in the order of the input."""
    out = tmp_path / "report.json"
    check(folder, "-o", out, "--jobs", "2")
    streamed = json.loads(out.read_text(encoding="utf-8"))
    checker, summary = Checker(Engine()), BatchSummary()
    results = list(checker.check_all(read_paths([folder]), summary))
    assert streamed == json.loads(json.dumps(report_document(results, summary, checker.engine.rulebook)))
    jsonschema.validate(streamed, report_schema(), cls=jsonschema.Draft202012Validator)
    ids = [c["id"] for c in streamed["conversations"]]
    assert ids == [r.conversation.id for r in results] and len(ids) == len(set(ids)) > 100
    errors = streamed["summary"]["errors"]
    assert [e["line"] for e in errors if e["path"].endswith("a.jsonl")] == sorted(
        e["line"] for e in errors if e["path"].endswith("a.jsonl"))


def test_jsonl_report_is_a_line_per_conversation_then_the_summary(small_chunks, folder, tmp_path):
    out = tmp_path / "report.jsonl"
    check(folder, "-o", out, "--jobs", "2")
    document = json.loads(check(folder, "-f", "json", "--jobs", "1").stdout)
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    *records, last = lines
    assert records == document["conversations"]
    assert last == {"version": document["version"], "rulebook": document["rulebook"], "summary": document["summary"]}
    definitions = report_schema()["$defs"]
    for record in records[:5]:
        jsonschema.validate(record, {"$defs": definitions, "$ref": "#/$defs/conversation"},
                            cls=jsonschema.Draft202012Validator)
    jsonschema.validate(last["summary"], {"$defs": definitions, "$ref": "#/$defs/summary"},
                        cls=jsonschema.Draft202012Validator)


def test_a_worker_killed_mid_run_costs_only_its_chunk(small_chunks, tmp_path, monkeypatch):
    batch = tmp_path / "batch.jsonl"
    ids = write_batch(batch, copies=2)
    victim = ids[len(ids) // 2]
    parent, real = os.getpid(), scoring.Checker.check

    def check_or_die(self, conversation):
        if conversation.id == victim and os.getpid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)  # out of memory, a crashing native library
        return real(self, conversation)

    monkeypatch.setattr(scoring.Checker, "check", check_or_die)
    out = tmp_path / "report.json"
    result = check(batch, "-o", out, "--jobs", "2")
    assert result.exit_code == 1
    report = json.loads(out.read_text(encoding="utf-8"))
    lost = [e for e in report["summary"]["errors"] if "SIGKILL" in e["message"]]
    assert any(f"检查对话 {victim} 的进程被信号 SIGKILL 终止" in e["message"] for e in lost)
    assert 1 <= len(lost) < len(ids) // 4  # its chunk only: the replacement worker checked the rest
    checked = [c["id"] for c in report["conversations"]]
    assert len(checked) + len(lost) == len(ids) == report["summary"]["read"]
    assert checked == [i for i in ids if i in set(checked)]  # still in input order
    assert victim not in checked


def test_resume_across_jobs_after_the_run_is_killed(tmp_path):
    """A real ``guifan check --jobs 2`` killed with SIGKILL half-way (its workers leave on their
    own), then run again: every conversation once in the report and the state file, the earlier
    ones not checked again."""
    batch, state = tmp_path / "batch.jsonl", tmp_path / "state.jsonl"
    ids = write_batch(batch, copies=40)  # 1,600 conversations, 2.5 MB
    def command(report: str) -> list[str]:
        return [sys.executable, "-m", "guifan", "check", str(batch), "--jobs", "2", "--state", str(state),
                "-o", str(tmp_path / report), "--no-progress"]

    first = subprocess.Popen(command("first.json"), stderr=subprocess.DEVNULL)
    while first.poll() is None and (not state.exists() or state.stat().st_size < 3 << 20):
        time.sleep(0.05)
    first.kill()
    first.wait()
    for _ in range(600):  # its workers see the pipe close and leave (within a chunk's work)
        if not running(str(state)):
            break
        time.sleep(0.1)
    assert not running(str(state))
    before = state.read_bytes().count(b"\n") if state.exists() else 0  # whole lines: a torn one is cut off

    second = subprocess.run(command("second.json"), stderr=subprocess.PIPE, text=True, timeout=1800)
    assert second.returncode == 0, second.stderr
    resumed = len(state.read_text(encoding="utf-8").splitlines())
    assert resumed == len(ids)
    assert before == 0 or f"恢复{before}通" in "".join(second.stderr.split())
    report = json.loads((tmp_path / "second.json").read_text(encoding="utf-8"))
    assert sorted(c["id"] for c in report["conversations"]) == sorted(ids)
    assert report["summary"]["read"] == report["summary"]["checked"] == len(ids)
    records = [json.loads(line) for line in state.read_text(encoding="utf-8").splitlines()]
    assert sorted(r["conversation"]["id"] for r in records) == sorted(ids)  # nothing checked twice
    fresh = json.loads(check(batch, "-f", "json", "--jobs", "1").stdout)
    assert {c["id"]: c["score"] for c in fresh["conversations"]} == {c["id"]: c["score"] for c in report["conversations"]}


def running(marker: str) -> bool:
    """Whether a process whose command line holds ``marker`` is alive."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if marker.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                return True
        except OSError:
            continue
    return False


def live_results() -> int:
    return sum(1 for o in gc.get_objects() if isinstance(o, CheckResult))


@pytest.mark.parametrize("jobs", [1, 2])
def test_results_are_not_held(small_chunks, folder, jobs):
    """While a batch streams, no checked result outlives its trip to the report (the parent gets
    pieces of the report, not results, from the workers)."""
    context = pipeline.Context(Checker(Engine()), lambda result, rulebook: result.conversation.id)
    pieces = []
    for n, outcome in enumerate(pipeline.check_stream(pipeline.chunks([folder], parallel=jobs > 1), context,
                                                      jobs=jobs), 1):
        if isinstance(outcome, pipeline.Checked):
            pieces.append(outcome.piece)
        if n % 40 == 0:
            assert live_results() == 0
    assert len(pieces) > 100 and len(set(pieces)) == len(pieces)


def test_the_window_bounds_how_far_ahead_the_input_is_read(small_chunks, folder):
    planned = list(pipeline.chunks([folder], parallel=True))
    pulled, left = 0, 0

    def source():
        nonlocal pulled
        for chunk in planned:
            pulled += 1
            yield chunk

    context = pipeline.Context(Checker(Engine()), lambda result, rulebook: None)
    with pipeline.Workers(context, 2) as workers:
        for chunk, _ in workers.run(source()):
            left += 1
            assert pulled - left <= pipeline.WINDOW_PER_WORKER * 2
    assert left == len(planned) > 2 * pipeline.WINDOW_PER_WORKER * 2


def test_the_state_file_is_scanned_not_held(tmp_path):
    checker = Checker(Engine())
    results = list(checker.check_all(read_paths([EXAMPLES / "phone_calls.jsonl"])))
    state = tmp_path / "state.jsonl"
    state.write_text("".join(record_line(r) for r in results), encoding="utf-8")
    log = ResultLog(state, checker)
    del results
    gc.collect()
    assert log.scan(span_bytes=4096) == 23 and len(log.spans) > 3
    assert live_results() == 0
    again = [r.conversation.id for r in log.results()]
    assert again == [f"call-{n:03d}" for n in range(1, 24)]
    assert log.seen(next(iter(read_paths([EXAMPLES / "phone_calls.jsonl"]))))
    assert not log.seen(next(iter(read_paths([EXAMPLES / "chat_sessions.jsonl"]))))


def test_a_big_html_report_is_paged_with_a_summary_index(folder, tmp_path, monkeypatch):
    monkeypatch.setattr(html_report, "PAGE_SIZE", 7)
    out = tmp_path / "report.html"
    check(folder, "-o", out, "--jobs", "1")
    document = json.loads(check(folder, "-f", "json", "--jobs", "1").stdout)
    total = len(document["conversations"])
    pages = sorted((tmp_path / "report_pages").iterdir())
    assert len(pages) == -(-total // 7) and pages[0].name == "00001.html"
    index = out.read_text(encoding="utf-8")
    assert f"对话({total} 通,分 {len(pages)} 页)" in index and 'href="report_pages/00002.html"' in index
    assert "最常见的问题" in index and "输入错误" in index and 'class="conv' not in index  # quick: no conversation
    second = pages[1].read_text(encoding="utf-8")
    assert 'href="../report.html"' in second and 'href="00001.html"' in second and 'href="00003.html"' in second
    assert 'id="c8"' in second and 'href="#c8"' in second and 'id="c1"' not in second
    for k, page in enumerate(pages):
        text = page.read_text(encoding="utf-8")
        for record in document["conversations"][7 * k:7 * k + 7]:
            assert f">{record['id']}</a>" in text
    assert 'rel="next"' not in pages[-1].read_text(encoding="utf-8")


def test_html_on_standard_output_is_refused_for_a_big_input(tmp_path, monkeypatch):
    from guifan import cli

    monkeypatch.setattr(cli, "HTML_STDOUT_BYTES", 1000)
    result = runner.invoke(app, ["check", str(EXAMPLES / "phone_calls.jsonl"), "-f", "html", "--no-progress"])
    assert result.exit_code == 2 and "请用 -o 指定输出文件" in result.stderr


@pytest.mark.parametrize(("limit", "notice"), [(3, False), (2, True)])
def test_an_excel_sheet_ends_at_its_row_limit_saying_so(tmp_path, monkeypatch, limit, notice):
    """Rows are written as they come: the last row Excel holds is the last row itself when no other
    comes, else the notice that the rest is in the JSON report."""
    monkeypatch.setattr(xlsx_report, "ROW_LIMIT", limit)
    checker, summary = Checker(Engine()), BatchSummary()
    results = list(checker.check_all(read_paths([EXAMPLES / "phone_calls.jsonl"]), summary))[:3]
    write_report("xlsx", results, summary, checker.engine.rulebook, tmp_path / "r.xlsx")
    book = openpyxl.load_workbook(tmp_path / "r.xlsx")
    sheet = list(book["会话"].values)
    assert len(sheet) == 1 + min(3, limit)
    assert ("行数上限" in str(sheet[-1][0])) is notice
    if not notice:
        assert [row[0] for row in sheet[1:]] == [r.conversation.id for r in results]
    assert "行数上限" in str(list(book["转写"].values)[-1][0])


def test_workers_pass_on_what_their_meaning_stage_works_out(small_chunks, folder, monkeypatch):
    """What one worker's meaning stage works out about a text reaches the other, which takes it
    (``MeaningModel.learn``) instead of working it out again; the report is the one a single
    process writes."""
    taken = []
    learn = MeaningModel.learn
    monkeypatch.setattr(MeaningModel, "learn", lambda model, learned: (taken.append(len(learned.judgements)),
                                                                       learn(model, learned)))
    def checked(jobs: int) -> list:
        context = pipeline.Context(Checker(Engine()), lambda result, rulebook: (os.getpid(), sum(taken), result.findings))
        stream = pipeline.check_stream(pipeline.chunks([folder], parallel=jobs > 1), context, jobs=jobs)
        return [o.piece for o in stream if isinstance(o, pipeline.Checked)]

    def rounded(findings) -> list:
        # A sentence's vector differs in its last digits with the batch it was encoded in (padding).
        return [replace(f, confidence=round(f.confidence, 4)) for f in findings]

    here = [rounded(findings) for _, _, findings in checked(1)]
    pieces = checked(2)  # engines of their own: the workers start knowing nothing of the batch
    assert not taken  # nothing to learn in a single process
    assert [rounded(findings) for _, _, findings in pieces] == here
    by_worker: dict[int, int] = {}
    for pid, learned, _ in pieces:
        by_worker[pid] = max(learned, by_worker.get(pid, 0))
    assert len(by_worker) == 2 and max(by_worker.values()) > 0  # texts judged by one, learned by the other


def test_small_inputs_are_checked_in_this_process(tmp_path):
    small = tmp_path / "small.jsonl"
    write_batch(small, copies=1)
    assert pipeline.parallel_jobs(8, [small]) == 1
    assert pipeline.parallel_jobs(8, [small], extra_bytes=pipeline.PARALLEL_BYTES) == 8
    assert pipeline.parallel_jobs(1, [small], extra_bytes=pipeline.PARALLEL_BYTES) == 1
    assert pipeline.default_jobs() == len(os.sched_getaffinity(0))

