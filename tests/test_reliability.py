"""Bad input never loses good input: each reproducer of issue 10 is its own listed error (file,
line, field), every other conversation in the file is read and checked, and the batch and its
reports never crash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from guifan.cli import app
from guifan.errors import InputError
from guifan.readers import read_path

runner = CliRunner()


def good(cid: str) -> str:
    return json.dumps({"id": cid, "turns": [{"role": "agent", "text": "您好,很高兴为您服务"},
                                           {"role": "customer", "text": "谢谢"}]}, ensure_ascii=False)


def turn_with(key: str, raw_value: str) -> str:
    """A conversation line whose first turn's ``key`` is written as ``raw_value`` (raw JSON)."""
    return '{"id": "bad", "turns": [{"role": "agent", "text": "您好", "%s": %s}]}' % (key, raw_value)


# (name, bad line, the field the error must name, words of its message)
BAD_LINES = [
    ("5000-digit start", turn_with("start", "9" * 5000), "turns[0].start", "超出数值范围"),
    ("1e309 as an integer", turn_with("start", "1" + "0" * 309), "turns[0].start", "超出数值范围"),
    ("1e309 in voice", turn_with("voice", '{"speech_seconds": 1%s}' % ("0" * 309)), "turns[0].voice.speech_seconds",
     "超出数值范围"),
    ("deep nesting", "[" * 100_000 + "]" * 100_000, None, "嵌套层级过深"),
    ("lone surrogate in id", '{"id": "c\\ud800", "turns": [{"role": "agent", "text": "您好"}]}', "id", "孤立的 UTF-16 代理"),
    ("lone surrogate in agent id", '{"id": "c", "agent_id": "\\udfff", "turns": [{"role": "agent", "text": "您好"}]}',
     "agent_id", "孤立的 UTF-16 代理"),
    ("lone surrogate in text", turn_with("x", "0").replace('"您好"', '"你好\\ud800"'), "turns[0].text", "孤立的 UTF-16 代理"),
    ("lone surrogate in metadata", '{"id": "c", "metadata": {"k": ["\\ud800"]}, "turns": [{"role": "agent", "text": "您好"}]}',
     "metadata.k[0]", "孤立的 UTF-16 代理"),
    ("year 9999", '{"id": "c", "started_at": "9999-12-31T23:59:59", "turns": [{"role": "agent", "text": "您好"}]}',
     "started_at", "不在合理的年份范围"),
    ("turn of 10 million characters", turn_with("x", "0").replace("您好", "好" * 10_000_000), "turns[0].text", "过长"),
    ("a month-long turn", turn_with("start", "1e12"), "turns[0].start", "超出合理范围"),
    ("ASR begin of 1e309", '{"id": "c", "sentence_info": [{"text": "您好", "start": 0, "end": 1%s, "spk": 0}]}'
     % ("0" * 309), "sentence_info[0]", "有限的数字"),
]


@pytest.mark.parametrize("name, line, field, words", BAD_LINES, ids=[b[0] for b in BAD_LINES])
def test_a_bad_jsonl_line_is_its_own_error_and_the_rest_is_read(tmp_path, name, line, field, words):
    path = tmp_path / "batch.jsonl"
    path.write_text("\n".join([good("c1"), line, good("c2")]) + "\n", encoding="utf-8")
    items = list(read_path(path))
    assert [i.id for i in items if not isinstance(i, InputError)] == ["c1", "c2"]
    (error,) = [i for i in items if isinstance(i, InputError)]
    assert (error.line, error.field) == (2, field) and words in error.message
    assert len(error.message) < 300  # never the whole line or transcript


@pytest.mark.parametrize("name, line, field, words", BAD_LINES[:4], ids=[b[0] for b in BAD_LINES[:4]])
def test_a_bad_conversation_in_a_json_array_is_its_own_error(tmp_path, name, line, field, words):
    path = tmp_path / "batch.json"
    path.write_text("[\n" + ",\n".join([good("c1"), line, good("c2")]) + "\n]", encoding="utf-8")
    items = list(read_path(path))
    assert [i.id for i in items if not isinstance(i, InputError)] == ["c1", "c2"]
    (error,) = [i for i in items if isinstance(i, InputError)]
    assert error.line == 3 and words in error.message


def test_the_whole_batch_is_checked_and_every_report_written(tmp_path):
    """The reproducers in one file, through check, state file and every report format."""
    path = tmp_path / "batch.jsonl"
    lines = [good("c0")]
    for n, (_, line, _, _) in enumerate(BAD_LINES, start=1):
        lines += [line, good(f"c{n}")]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    for fmt in ("json", "html", "text", "xlsx"):
        out = tmp_path / f"report.{fmt}"
        result = runner.invoke(app, ["check", str(path), "-f", fmt, "-o", str(out), "--no-progress",
                                     "--state", str(tmp_path / f"state-{fmt}.jsonl")])
        assert result.exit_code == 1, result.output  # 1: some inputs could not be read
        counts = f"读取{2 * len(BAD_LINES) + 1}·检查{len(BAD_LINES) + 1}·失败{len(BAD_LINES)}"
        assert counts in "".join(result.stderr.split())
        assert out.stat().st_size > 0


GBK = "您好,很高兴为您服务".encode("gbk")


def test_jsonl_with_damaged_first_lines_is_read_as_utf8_never_a_western_code_page(tmp_path):
    damaged = b'{"id": "x", "turns": [{"role": "agent", "text": "\xa0\xff\xfe\xc3\x28"}]}\n'
    path = tmp_path / "a.jsonl"
    path.write_bytes(damaged * 3 + (good("c1") + "\n" + good("c2") + "\n").encode("utf-8"))
    items = list(read_path(path))
    read = [i for i in items if not isinstance(i, InputError)]
    assert [c.id for c in read] == ["c1", "c2"] and read[0].turns[0].text == "您好,很高兴为您服务"
    assert [e.line for e in items if isinstance(e, InputError)] == [1, 2, 3]
    assert all("该行无法按 UTF-8 或 GB18030 解码" in e.message for e in items if isinstance(e, InputError))


def test_mostly_damaged_jsonl_keeps_its_good_lines(tmp_path):
    """More damaged bytes than good ones in the head: still decoded per line, not guessed."""
    damaged = b'{"id": "x", "turns": [{"role": "agent", "text": "' + bytes(range(0x80, 0xff)) * 20 + b'"}]}\n'
    path = tmp_path / "a.jsonl"
    path.write_bytes(damaged * 5 + (good("c1") + "\n").encode("utf-8"))
    items = list(read_path(path))
    assert [c.id for c in items if not isinstance(c, InputError)] == ["c1"]
    assert len([e for e in items if isinstance(e, InputError)]) == 5


@pytest.mark.parametrize("suffix, document", [
    (".csv", "会话ID,角色,内容\nc1,客服,您好\n{bad}c2,客服,再见\nc3,客服,{bad}再见\nc4,客户,好的\n"),
    (".txt", "客服: 您好\n客户: {bad}好的\n"),
])
def test_a_document_with_some_damaged_lines_reads_the_rest(tmp_path, suffix, document):
    path = tmp_path / f"a{suffix}"
    head, *rest = document.split("{bad}")
    data = head.encode("utf-8")
    for piece in rest:
        data += b"\xff\xfe" + piece.encode("utf-8")
    path.write_bytes(data)
    items = list(read_path(path))
    errors = [i for i in items if isinstance(i, InputError)]
    assert errors and all("无法按 UTF-8 或 GB18030 解码" in e.message for e in errors)
    damaged = {e.line for e in errors}
    if suffix == ".csv":
        assert damaged == {3, 4}
        assert [c.id for c in items if not isinstance(c, InputError)] == ["c1", "c4"]
    else:
        assert damaged == {2} and all(isinstance(i, InputError) for i in items)


def test_a_gbk_line_in_a_utf8_document_is_read(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes("客服: 您好\n".encode("utf-8") + b"\xbf\xcd\xbb\xa7: " + GBK + b"\n")
    (conversation,) = read_path(path)
    assert conversation.turns[1].text == "您好,很高兴为您服务"


def test_binary_file_is_one_error(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_bytes(bytes(range(128, 256)) * 64)
    (error,) = read_path(path)
    assert "无法识别的文件编码" in error.message


def test_a_torn_state_file_is_repaired_for_good(tmp_path):
    data = tmp_path / "a.jsonl"
    data.write_text("\n".join(good(f"c{n}") for n in range(5)) + "\n", encoding="utf-8")
    state = tmp_path / "state.jsonl"
    args = ["check", str(data), "-f", "json", "--state", str(state), "--no-progress"]
    assert runner.invoke(app, args).exit_code == 0
    lines = state.read_text(encoding="utf-8").splitlines(keepends=True)
    state.write_text("".join(lines[:3]) + lines[3][: len(lines[3]) // 2], encoding="utf-8")  # killed mid-write

    resumed = runner.invoke(app, args)
    assert resumed.exit_code == 0 and "恢复3通" in "".join(resumed.stderr.split())
    assert len(json.loads(resumed.stdout)["conversations"]) == 5
    assert all(json.loads(line) for line in state.read_text(encoding="utf-8").splitlines())

    again = runner.invoke(app, args)
    assert again.exit_code == 0 and "恢复5通" in "".join(again.stderr.split())


def test_a_wav_header_claiming_two_hertz_is_refused(tmp_path):
    soundfile = pytest.importorskip("soundfile")
    numpy = pytest.importorskip("numpy")
    path = tmp_path / "call.wav"
    soundfile.write(str(path), numpy.zeros((20_000, 2), dtype="int16"), 2, subtype="PCM_16", format="WAV")
    (error,) = read_path(path)
    assert "采样率 2 Hz 不受支持" in error.message
