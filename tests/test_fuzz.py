"""Fuzzing the whole batch path: every reader, then check → state file → every report → resume.

Hypothesis writes batches of files in every text format, mixing conversations that must be
checked with damaged or hostile ones (wrong types, huge and non-finite numbers, lone surrogates,
invalid bytes, truncation). Whatever it writes, nothing may crash, every good conversation must
be checked, every bad item listed, and ``read == checked + failed`` on every batch. Bounded and
derandomized, so that CI runs the same examples every time.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guifan.engine import Engine
from guifan.errors import InputError
from guifan.pipeline import Context, check_stream, chunks
from guifan.reporters import REPORTERS, write_report
from guifan.resume import ResultLog
from guifan.scoring import BatchSummary, Checker

FUZZ = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def checker() -> Checker:
    return Checker(Engine())


HOSTILE_TEXT = st.one_of(
    st.text(max_size=30),
    st.text(alphabet=st.sampled_from("您好请稍等亲你他们\ud800\udfff\x00\u202e\ufeff[]{}\"\\,\n\r\t:：客服户"), max_size=30),
    st.sampled_from(["", " ", "9" * 400, "1e309", "-1", "NaN", "9999-12-31T23:59:59", "00:99", "1:75:00"]),
)
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=10**300, max_value=10**310),
    st.floats(allow_nan=True, allow_infinity=True), HOSTILE_TEXT,
)
JSON_VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(HOSTILE_TEXT, inner, max_size=3),
                           max_leaves=8)
ROLES = st.sampled_from(["agent", "customer", "system", "客服", "客户", "坐席(1024)"])
TURN = st.fixed_dictionaries(
    {"role": ROLES | JSON_VALUES, "text": HOSTILE_TEXT | JSON_VALUES},
    optional={"start": SCALARS, "end": SCALARS, "voice": JSON_VALUES | st.fixed_dictionaries({"speech_seconds": SCALARS})},
)
HOSTILE_CONVERSATION = st.fixed_dictionaries(
    {"id": HOSTILE_TEXT | JSON_VALUES, "turns": st.lists(TURN, max_size=4) | JSON_VALUES},
    optional={"channel": HOSTILE_TEXT | JSON_VALUES, "started_at": HOSTILE_TEXT | JSON_VALUES,
              "agent_id": HOSTILE_TEXT | JSON_VALUES, "metadata": JSON_VALUES, "audio": JSON_VALUES},
)


def good_conversation(n: int) -> dict:
    return {"id": f"good-{n}", "channel": "phone", "agent_id": "1024", "started_at": "2026-02-17T10:00:00+08:00",
            "turns": [{"role": "agent", "text": "您好,很高兴为您服务", "start": 0, "end": 2},
                      {"role": "customer", "text": "你们这个东西太差了,我要投诉", "start": 2.5, "end": 5},
                      {"role": "agent", "text": "你自己去问商家吧", "start": 6, "end": 8}]}


# A damaged line: hostile JSON, a good line with bytes flipped or cut, or raw bytes.
BAD_LINE = st.one_of(
    HOSTILE_CONVERSATION.map(lambda c: json.dumps(c).encode()),
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=60).map(lambda b: b.replace(b"\n", b"")),
    st.tuples(st.integers(0, 200), st.binary(min_size=1, max_size=4)).map(
        lambda cut: json.dumps(good_conversation(0)).encode()[: cut[0]] + cut[1].replace(b"\n", b"")),
    st.just(b"[" * 5000 + b"]" * 5000),
)


def run_batch(paths: list[Path], folder: Path, checker: Checker) -> tuple[BatchSummary, list]:
    """The CLI's path in process: read, check into a state file, write every report, resume."""
    summary = BatchSummary()
    log = ResultLog(folder / "state.jsonl", checker)
    log.scan()
    context = Context(checker, lambda result, rulebook: None, log=True, seen=log.seen, keep=True)
    results = []
    for outcome in check_stream(chunks(paths, parallel=False), context):
        summary.count(outcome)
        if not isinstance(outcome, InputError):
            results.append(outcome.result)
            log.append(outcome.line)
    log.close()
    assert summary.read == summary.checked + summary.failed
    assert all(isinstance(e, InputError) and e.message and len(e.message) < 1000 for e in summary.errors)
    for fmt in REPORTERS:
        write_report(fmt, results, summary, checker.engine.rulebook, folder / f"report.{fmt}")
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    assert len(report["conversations"]) == len(results)
    resumed = ResultLog(folder / "state.jsonl", checker)
    assert resumed.scan() == len(results)
    assert {r.conversation.source for r in resumed.results()} == {r.conversation.source for r in results}
    return summary, results


@FUZZ
@given(bad=st.lists(BAD_LINE, min_size=1, max_size=6), order=st.randoms(use_true_random=False),
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "gbk"]))
def test_jsonl_batches_check_every_good_conversation(checker, bad, order, encoding):
    lines = [json.dumps(good_conversation(n), ensure_ascii=False).encode(encoding.replace("-sig", ""))
             for n in range(3)] + bad
    order.shuffle(lines)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        path = folder / "batch.jsonl"
        path.write_bytes((b"\xef\xbb\xbf" if encoding == "utf-8-sig" else b"") + b"\n".join(lines) + b"\n")
        summary, results = run_batch([path], folder, checker)
        checked = {r.conversation.id for r in results}
        assert {f"good-{n}" for n in range(3)} <= checked
        assert summary.read <= len(lines)


def _csv(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode("utf-8", errors="surrogatepass")


CELL = HOSTILE_TEXT | st.sampled_from(["good-x", "客服", "客户", "agent"])
DOCUMENTS = st.one_of(
    st.lists(st.lists(CELL, min_size=1, max_size=5), max_size=6).map(
        lambda rows: ("a.csv", _csv([["会话ID", "角色", "内容", "开始时间"], *rows]))),
    st.lists(st.tuples(st.sampled_from(["客服", "客户", "坐席", "系统", "x"]), HOSTILE_TEXT), max_size=6).map(
        lambda turns: ("a.txt", "\n".join(f"{who}: {text}" for who, text in turns).encode("utf-8", "surrogatepass"))),
    st.lists(HOSTILE_TEXT, max_size=6).map(
        lambda cues: ("a.srt", "\n\n".join(f"{n}\n00:00:0{n % 10},000 --> 00:00:0{n % 10},500\n客服: {c}"
                                           for n, c in enumerate(cues)).encode("utf-8", "surrogatepass"))),
    st.lists(HOSTILE_CONVERSATION, max_size=3).map(lambda cs: ("a.json", json.dumps(cs).encode())),
    st.binary(max_size=200).map(lambda b: ("a.xlsx", b"PK\x03\x04" + b)),
)


@FUZZ
@given(document=DOCUMENTS, damage=st.sampled_from(["none", "invalid-bytes", "truncate", "gbk"]))
def test_every_reader_survives_and_counts(checker, document, damage):
    name, data = document
    if damage == "invalid-bytes":
        data = data[: len(data) // 2] + b"\xff\xfe\xc3(" + data[len(data) // 2:]
    elif damage == "truncate":
        data = data[: len(data) * 2 // 3]
    elif damage == "gbk":
        data = data.decode("utf-8", errors="ignore").encode("gbk", errors="ignore")
    with tempfile.TemporaryDirectory() as folder_name:
        folder = Path(folder_name)
        good = folder / "good.jsonl"
        good.write_text(json.dumps(good_conversation(9), ensure_ascii=False) + "\n", encoding="utf-8")
        fuzzed = folder / name
        fuzzed.write_bytes(data)
        summary, results = run_batch([fuzzed, good], folder, checker)
        assert "good-9" in {r.conversation.id for r in results}
