"""Readers: every format, every encoding, every error, and batches that keep going past errors."""

from __future__ import annotations

import json
import os
import pathlib
import re
import time
import tracemalloc
from datetime import datetime, time as clock_time, timedelta, timezone
from pathlib import Path

import openpyxl
import pytest

from guifan.errors import InputError
from guifan.model import Channel, Conversation, Role
from guifan.readers import (
    DEFAULT_MAX_BYTES, SUPPORTED_EXTENSIONS, Span, input_files, line_spans, read_file, read_path, read_paths,
)
from guifan.readers.textlog import parse_chat_log, parse_clock, parse_example

JDDC = Path("/work/shared/corpus/jddc-sample.jsonl")
CST = timezone(timedelta(hours=8))


def write(tmp_path: Path, name: str, content: str | bytes, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
    return path


def read(tmp_path: Path, name: str, content: str | bytes, encoding: str = "utf-8", **kwargs) -> list:
    return list(read_path(write(tmp_path, name, content, encoding), **kwargs))


def only(items: list) -> Conversation | InputError:
    assert len(items) == 1, items
    return items[0]


def conversations(items: list) -> list[Conversation]:
    return [item for item in items if isinstance(item, Conversation)]


def errors(items: list) -> list[InputError]:
    return [item for item in items if isinstance(item, InputError)]


def jsonl(*objects) -> str:
    return "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objects)


def conv(cid: str = "c1", turns: list | None = None, **extra) -> dict:
    turns = turns if turns is not None else [
        {"role": "agent", "text": "您好,请问有什么可以帮您?"},
        {"role": "customer", "text": "我的快递到哪了"},
    ]
    return {"id": cid, "turns": turns, **extra}


# --- interchange JSON / JSONL ----------------------------------------------------------------

FULL = {
    "id": "c1",
    "channel": "phone",
    "started_at": "2026-02-17T10:00:00+08:00",
    "agent_id": "1024",
    "metadata": {"ring_seconds": 8},
    "turns": [
        {"role": "agent", "text": "您好,很高兴为您服务", "start": 0.0, "end": 2.5},
        {"role": "customer", "text": "宽带断了三天了", "start": 3, "end": 5.25},
    ],
}


def check_full(item: Conversation, source: str) -> None:
    assert item.id == "c1"
    assert item.channel is Channel.PHONE
    assert item.started_at == datetime(2026, 2, 17, 10, 0, tzinfo=CST)
    assert item.agent_id == "1024"
    assert item.metadata == {"ring_seconds": 8}
    assert [(t.role, t.text, t.start, t.end) for t in item.turns] == [
        (Role.AGENT, "您好,很高兴为您服务", 0.0, 2.5),
        (Role.CUSTOMER, "宽带断了三天了", 3.0, 5.25),
    ]
    assert item.timed
    assert item.source == source


def test_jsonl_reads_every_field_with_timings(tmp_path):
    path = write(tmp_path, "calls.jsonl", jsonl(conv("c0"), FULL))
    items = list(read_path(path))
    assert [type(i) for i in items] == [Conversation, Conversation]
    check_full(items[1], f"{path}:2")


@pytest.mark.parametrize("ext", [".jsonl", ".ndjson"])
def test_jsonl_extensions(tmp_path, ext):
    assert only(read(tmp_path, "a" + ext, jsonl(FULL))).id == "c1"


def test_json_single_object(tmp_path):
    path = write(tmp_path, "one.json", json.dumps(FULL, ensure_ascii=False, indent=2))
    check_full(only(list(read_path(path))), f"{path}:1")


def test_json_array_gives_each_conversation_its_line(tmp_path):
    text = "[\n" + ",\n".join(json.dumps(conv(f"c{i}"), ensure_ascii=False) for i in range(3)) + "\n]\n"
    path = write(tmp_path, "many.json", text)
    items = list(read_path(path))
    assert [i.id for i in items] == ["c0", "c1", "c2"]
    assert [i.source for i in items] == [f"{path}:2", f"{path}:3", f"{path}:4"]


def test_json_wrapper_object(tmp_path):
    text = (
        '{"exported": "2026-02-18",\n "conversations": [\n'
        f"  {json.dumps(conv('a'))},\n\n  {json.dumps(FULL, ensure_ascii=False)}\n"
        ' ],\n "count": 2}\n'
    )
    path = write(tmp_path, "wrapped.json", text)
    items = list(read_path(path))
    assert [i.id for i in items] == ["a", "c1"]
    assert items[0].source == f"{path}:3"
    check_full(items[1], f"{path}:5")


def test_json_empty_array_reads_nothing(tmp_path):
    assert read(tmp_path, "none.json", "[ ]") == []


def test_defaults_and_unknown_keys(tmp_path):
    item = only(read(tmp_path, "a.jsonl", jsonl(conv("x", source="somewhere", extra={"k": 1}))))
    assert item.channel is Channel.CHAT
    assert item.started_at is None and item.agent_id is None and item.metadata == {}
    assert all(t.start is None and t.end is None for t in item.turns)
    assert not item.timed


@pytest.mark.parametrize(
    "role, expected",
    [("agent", Role.AGENT), ("AGENT", Role.AGENT), ("客服", Role.AGENT), ("坐席", Role.AGENT),
     ("Customer", Role.CUSTOMER), ("客户", Role.CUSTOMER), ("用户", Role.CUSTOMER),
     ("system", Role.SYSTEM), ("系统", Role.SYSTEM), (" 客服 ", Role.AGENT), ("客服小王", Role.AGENT)],
)
def test_role_aliases(tmp_path, role, expected):
    item = only(read(tmp_path, "a.jsonl", jsonl(conv(turns=[{"role": role, "text": "x"}]))))
    assert item.turns[0].role is expected


def test_numeric_strings_clock_strings_and_instants(tmp_path):
    turns = [
        {"role": "agent", "text": "a", "start": "1.5", "end": "2"},
        {"role": "customer", "text": "b", "start": "00:03", "end": "0:00:04.5"},
        {"role": "agent", "text": "c", "start": 7},
        {"role": "agent", "text": "d", "start": "75:30", "end": "01:15:31,5"},
    ]
    item = only(read(tmp_path, "a.jsonl", jsonl(conv(turns=turns))))
    assert [(t.start, t.end) for t in item.turns] == [(1.5, 2.0), (3.0, 4.5), (7.0, 7.0), (4530.0, 4531.5)]


def test_numeric_ids_become_strings(tmp_path):
    item = only(read(tmp_path, "a.jsonl", jsonl(conv(cid=1001, agent_id=7))))
    assert (item.id, item.agent_id) == ("1001", "7")


def test_started_at_with_z_and_without_zone(tmp_path):
    items = read(tmp_path, "a.jsonl", jsonl(conv(started_at="2026-02-17T02:00:00Z"), conv(started_at="2026-02-17 10:00")))
    assert items[0].started_at == datetime(2026, 2, 17, 2, tzinfo=timezone.utc)
    assert items[1].started_at == datetime(2026, 2, 17, 10)


def test_chinese_channel_names(tmp_path):
    items = read(tmp_path, "a.jsonl", jsonl(conv(channel="电话"), conv(channel="Chat"), conv(channel="在线")))
    assert [i.channel for i in items] == [Channel.PHONE, Channel.CHAT, Channel.CHAT]


TURN_OK = {"role": "agent", "text": "x"}


@pytest.mark.parametrize(
    "obj, field, message",
    [
        ({"turns": [TURN_OK]}, "id", "缺少必填字段"),
        ({"id": "", "turns": [TURN_OK]}, "id", "缺少必填字段"),
        ({"id": ["a"], "turns": [TURN_OK]}, "id", "应为字符串或数字"),
        ({"id": "a"}, "turns", "缺少必填字段"),
        ({"id": "a", "turns": "客服: 你好"}, "turns", "应为列表"),
        ({"id": "a", "turns": []}, "turns", "没有任何对话轮次"),
        ({"id": "a", "turns": [TURN_OK, "你好"]}, "turns[1]", "应为对象"),
        ({"id": "a", "turns": [TURN_OK, {"text": "x"}]}, "turns[1].role", "缺少必填字段"),
        ({"id": "a", "turns": [TURN_OK] * 3 + [{"role": "boss", "text": "x"}]}, "turns[3].role", "无法识别的角色 'boss'"),
        ({"id": "a", "turns": [{"role": "agent"}]}, "turns[0].text", "缺少必填字段"),
        ({"id": "a", "turns": [{"role": "agent", "text": 5}]}, "turns[0].text", "应为字符串"),
        ({"id": "a", "turns": [TURN_OK, TURN_OK, {**TURN_OK, "start": "abc"}]}, "turns[2].start", "不是数字"),
        ({"id": "a", "turns": [{**TURN_OK, "start": 1, "end": "2秒"}]}, "turns[0].end", "不是数字"),
        ({"id": "a", "turns": [{**TURN_OK, "start": True}]}, "turns[0].start", "不是数字"),
        ({"id": "a", "turns": [{**TURN_OK, "start": -1}]}, "turns[0].start", "不能为负数"),
        ({"id": "a", "turns": [{**TURN_OK, "start": "1:75"}]}, "turns[0].start", "不是数字"),
        ({"id": "a", "turns": [{**TURN_OK, "start": 5, "end": 4}]}, "turns[0].end", "早于开始时间"),
        ({"id": "a", "turns": [{**TURN_OK, "end": 4}]}, "turns[0].start", "没有开始时间"),
        ({"id": "a", "turns": [TURN_OK], "started_at": "昨天上午"}, "started_at", "不是 ISO 8601"),
        ({"id": "a", "turns": [TURN_OK], "started_at": 1700000000}, "started_at", "不是 ISO 8601"),
        ({"id": "a", "turns": [TURN_OK], "channel": "fax"}, "channel", "无法识别的渠道"),
        ({"id": "a", "turns": [TURN_OK], "metadata": [1]}, "metadata", "应为对象"),
        ({"id": "a", "turns": [{**TURN_OK, "start": 1}, {**TURN_OK, "start": "2026-02-17 10:00:00"}]},
         "turns[1].start", "不能混用"),
        ({"id": "a", "turns": [{**TURN_OK, "start": "2026-02-17T10:00:00+08:00"}, {**TURN_OK, "start": "2026-02-17 10:00:05"}]},
         "turns[1].start", "时区"),
        ({"id": "a", "turns": [{**TURN_OK, "start": "1:75:00"}]}, "turns[0].start", "不是数字"),
    ],
)
def test_validation_errors_name_the_field(tmp_path, obj, field, message):
    lines = jsonl(conv("before"), conv("before2"), obj, conv("after"))
    items = read(tmp_path, "a.jsonl", lines)
    assert [i.id for i in conversations(items)] == ["before", "before2", "after"]
    error = only(errors(items))
    assert (error.line, error.field) == (3, field)
    assert message in error.message
    # People count turns from 1; the field keeps the 0-based JSON index.
    turn = re.match(r"turns\[(\d+)\]", field)
    where = f"{field} (第{int(turn.group(1)) + 1}轮)" if turn else field
    assert str(error).startswith(f"{tmp_path / 'a.jsonl'}:3 字段 {where}: ")


def test_error_on_line_seven_names_line_and_field(tmp_path):
    bad = conv("bad", turns=[TURN_OK, TURN_OK, TURN_OK, {"role": "经理", "text": "x"}])
    path = write(tmp_path, "a.jsonl", jsonl(*[conv(f"c{i}") for i in range(6)], bad, conv("c7")))
    items = list(read_path(path))
    assert len(conversations(items)) == 7
    error = only(errors(items))
    assert (error.path, error.line, error.field) == (str(path), 7, "turns[3].role")


def test_broken_json_line_reports_line_and_column_and_reading_goes_on(tmp_path):
    text = jsonl(conv("a")) + '{"id": "b", "turns": [}\n' + jsonl(conv("c"))
    items = read(tmp_path, "a.jsonl", text)
    assert [i.id for i in conversations(items)] == ["a", "c"]
    error = only(errors(items))
    assert error.line == 2
    assert "JSON 格式错误" in error.message and "第 23 列" in error.message


def test_jsonl_line_that_is_not_an_object(tmp_path):
    error = only(errors(read(tmp_path, "a.jsonl", jsonl(conv("a"), [conv("b")]))))
    assert error.line == 2 and "应为 JSON 对象" in error.message and "列表" in error.message


def test_jsonl_blank_lines_are_skipped_and_lines_still_counted(tmp_path):
    path = write(tmp_path, "a.jsonl", "\n" + jsonl(conv("a")) + "   \n\n" + jsonl(conv("b")))
    assert [i.source for i in read_path(path)] == [f"{path}:2", f"{path}:5"]


def test_json_document_syntax_error_keeps_earlier_conversations(tmp_path):
    text = "[\n" + json.dumps(conv("a")) + ",\n" + json.dumps(conv("b")) + ",\n" + '{"id": "c", "turns": [\n'
    items = read(tmp_path, "cut.json", text)
    assert [i.id for i in conversations(items)] == ["a", "b"]
    error = only(errors(items))
    assert error.line == 5 and "JSON 格式错误" in error.message


def test_json_document_with_trailing_garbage(tmp_path):
    items = read(tmp_path, "a.json", json.dumps(conv("a")) + "\n}")
    assert [i.id for i in conversations(items)] == ["a"]
    error = only(errors(items))
    assert (error.line, error.message) == (2, "JSON 格式错误: 多余的内容 (第 1 列)")


def test_json_wrapper_with_non_list(tmp_path):
    error = only(read(tmp_path, "a.json", '{"conversations": {"id": "a"}}'))
    assert error.field == "conversations" and "应为对话列表" in error.message


@pytest.mark.parametrize("text", ['"hello"', "42", "[1]"])
def test_json_values_that_are_not_conversations(tmp_path, text):
    assert "应为 JSON 对象" in only(read(tmp_path, "a.json", text)).message


@pytest.mark.skipif(not JDDC.exists(), reason="shared corpus not available")
def test_jddc_sample_reads_all_300():
    items = list(read_path(JDDC))
    assert len(items) == 300
    assert not errors(items)
    assert len({i.id for i in items}) == 300
    assert all(i.turns and i.turns[0].role is Role.CUSTOMER for i in items)
    assert {t.role for i in items for t in i.turns} == {Role.AGENT, Role.CUSTOMER}
    assert items[299].source == f"{JDDC}:300"


# --- encodings --------------------------------------------------------------------------------

CHAT = "客服: 您好,请问有什么可以帮您?\n客户: 我的宽带断了三天了\n"


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8-sig", "utf-8"])
def test_text_encodings(tmp_path, encoding):
    item = only(read(tmp_path, "a.txt", CHAT, encoding))
    assert [t.text for t in item.turns] == ["您好,请问有什么可以帮您?", "我的宽带断了三天了"]


@pytest.mark.parametrize("encoding", ["gbk", "utf-8-sig"])
def test_csv_encodings_keep_the_header_clean(tmp_path, encoding):
    item = only(read(tmp_path, "a.csv", "会话ID,角色,内容\nc1,客服,您好\n", encoding))
    assert (item.id, item.turns[0].text) == ("c1", "您好")


@pytest.mark.parametrize("encoding", ["gbk", "utf-8-sig"])
def test_json_and_jsonl_encodings(tmp_path, encoding):
    assert only(read(tmp_path, "a.json", json.dumps(FULL, ensure_ascii=False), encoding)).turns[1].text == "宽带断了三天了"
    items = read(tmp_path, "a.jsonl", jsonl(FULL, conv("c2")), encoding)
    assert [i.id for i in items] == ["c1", "c2"]
    assert items[0].turns[0].text == "您好,很高兴为您服务"


def test_gb18030_characters_outside_gbk(tmp_path):
    text = "客服: 您好 𠀀 €\n客户: 好\n"  # 𠀀 and € need GB18030's four-byte codes
    assert only(read(tmp_path, "a.txt", text, "gb18030")).turns[0].text == "您好 𠀀 €"


def test_jsonl_with_ascii_head_and_gbk_further_down(tmp_path):
    head = jsonl(*[conv(f"c{i}", turns=[{"role": "agent", "text": "hello " * 20}]) for i in range(800)])
    assert len(head) > 65536
    data = head.encode("ascii") + jsonl(conv("gbk")).encode("gbk")
    items = read(tmp_path, "a.jsonl", data)
    assert len(conversations(items)) == 801 and not errors(items)
    assert items[-1].turns[0].text == "您好,请问有什么可以帮您?"


def test_utf16_excel_unicode_text(tmp_path):
    item = only(read(tmp_path, "a.tsv", "会话ID\t角色\t内容\r\nc1\t客服\t您好\r\n", "utf-16"))
    assert (item.id, item.turns[0].text) == ("c1", "您好")


@pytest.mark.parametrize("name", ["a.json", "a.csv", "a.txt", "a.jsonl"])
def test_undecodable_file(tmp_path, name):
    error = only(read(tmp_path, name, bytes(range(256)) * 4))
    assert "无法识别的文件编码 (支持 UTF-8 / GBK / GB18030)" in error.message


def test_undecodable_jsonl_line_is_one_error(tmp_path):
    data = jsonl(conv("a")).encode() + b'{"id": "\xff\xfe\xff"}\n' + jsonl(conv("b")).encode()
    items = read(tmp_path, "a.jsonl", data)
    assert [i.id for i in conversations(items)] == ["a", "b"]
    error = only(errors(items))
    assert error.line == 2 and "该行无法按 UTF-8 或 GB18030 解码" in error.message


# --- files that cannot be read ----------------------------------------------------------------

@pytest.mark.parametrize("ext", SUPPORTED_EXTENSIONS)
def test_empty_file(tmp_path, ext):
    error = only(read(tmp_path, "empty" + ext, b""))
    assert error.message == "文件为空"


@pytest.mark.parametrize("ext", [".json", ".jsonl", ".csv", ".txt", ".srt", ".vtt"])
def test_whitespace_only_file(tmp_path, ext):
    assert only(read(tmp_path, "blank" + ext, " \n\r\n\t\n")).message == "文件为空"


def test_oversized_file_is_refused_without_reading(tmp_path, monkeypatch):
    path = tmp_path / "huge.json"
    path.touch()
    os.truncate(path, 200 * 1024 * 1024)  # sparse: takes no disk space

    def refuse(*args, **kwargs):
        raise AssertionError("the file must not be read")

    monkeypatch.setattr(pathlib.Path, "read_bytes", refuse)
    monkeypatch.setattr(pathlib.Path, "open", refuse)
    started = time.perf_counter()
    error = only(list(read_path(path)))
    assert time.perf_counter() - started < 0.5
    assert "200.0 MB" in error.message and "100.0 MB" in error.message and "JSONL" in error.message
    assert DEFAULT_MAX_BYTES == 100 * 1024 * 1024


@pytest.mark.parametrize("name", ["a.csv", "a.txt", "a.xlsx", "a.srt"])
def test_small_max_bytes(tmp_path, name):
    path = write(tmp_path, name, b"x" * 2000)
    error = only(list(read_path(path, max_bytes=1000)))
    assert "2.0 KB" in error.message and "1000 字节" in error.message


def test_max_bytes_boundary_and_jsonl_is_not_limited(tmp_path):
    text = "conversation_id,role,text\n" + "".join(f"c{i},客服,您好\n" for i in range(100))
    path = write(tmp_path, "a.csv", text)
    size = path.stat().st_size
    assert len(list(read_path(path, max_bytes=size))) == 100
    assert isinstance(only(list(read_path(path, max_bytes=size - 1))), InputError)
    big = write(tmp_path, "a.jsonl", jsonl(*[conv(f"c{i}") for i in range(50)]))
    assert len(conversations(list(read_path(big, max_bytes=100)))) == 50


def test_unknown_extension_lists_supported(tmp_path):
    error = only(read(tmp_path, "a.docx", b"PK"))
    for ext in SUPPORTED_EXTENSIONS:
        assert ext in error.message
    assert "不支持的文件类型 .docx" in error.message
    assert "另存为 .xlsx" in only(read(tmp_path, "old.xls", b"\xd0\xcf")).message
    assert "(无扩展名)" in only(read(tmp_path, "README", b"x")).message


def test_missing_path(tmp_path):
    error = only(list(read_path(tmp_path / "nope.jsonl")))
    assert (error.path, error.message) == (str(tmp_path / "nope.jsonl"), "文件或目录不存在")


def test_reader_bug_becomes_an_error_not_an_exception(tmp_path, monkeypatch):
    import guifan.readers as readers

    def broken(text, path, name):
        raise RuntimeError("boom")

    monkeypatch.setitem(readers._TEXT_READERS, ".txt", broken)
    paths = [write(tmp_path, "a.txt", CHAT), write(tmp_path, "b.jsonl", jsonl(conv("b")))]
    items = list(read_paths(paths))
    assert "RuntimeError: boom" in items[0].message and items[1].id == "b"


# --- CSV / XLSX -------------------------------------------------------------------------------

def test_csv_english_columns_grouping_and_order(tmp_path):
    text = (
        "conversation_id,role,text,start,end,channel,started_at,agent_id,ring_seconds,queue\n"
        "c2,customer,我要投诉,0,2,,,,,\n"
        "c1,agent,您好,0,1.5,phone,2026-02-17T10:00:00+08:00,1024,8,vip\n"
        "c2,agent,非常抱歉,2.5,4,,,,,\n"
        "c1,customer,宽带断了,2,3.5,,,,,\n"
    )
    path = write(tmp_path, "a.csv", text)
    items = list(read_path(path))
    assert [i.id for i in items] == ["c2", "c1"]
    c2, c1 = items
    assert [(t.role, t.text, t.start, t.end) for t in c2.turns] == [
        (Role.CUSTOMER, "我要投诉", 0.0, 2.0), (Role.AGENT, "非常抱歉", 2.5, 4.0)]
    assert c2.source == f"{path}:2" and c1.source == f"{path}:3"
    assert c1.channel is Channel.PHONE and c2.channel is Channel.CHAT
    assert c1.started_at == datetime(2026, 2, 17, 10, tzinfo=CST) and c1.agent_id == "1024"
    assert c1.metadata == {"ring_seconds": 8, "queue": "vip"}
    assert [t.text for t in c1.turns] == ["您好", "宽带断了"]


def test_csv_chinese_columns_and_clock_times(tmp_path):
    text = (
        "对话ID,说话人,文本,开始,结束,渠道,通话时间,坐席工号\n"
        "9001,坐席,您好,00:00,00:02.5,电话,2026-02-17 10:00:00,007\n"
        "9001,用户,你好,00:03,1:00:04,,,\n"
    )
    item = only(read(tmp_path, "a.csv", text))
    assert item.id == "9001" and item.agent_id == "007" and item.channel is Channel.PHONE
    assert item.started_at == datetime(2026, 2, 17, 10)
    assert [(t.role, t.start, t.end) for t in item.turns] == [(Role.AGENT, 0.0, 2.5), (Role.CUSTOMER, 3.0, 3604.0)]


@pytest.mark.parametrize("header", ["Conversation ID,Role,Text", "会话 ID,角色,内容", "会话id,发言人,消息内容"])
def test_csv_header_spelling_variants(tmp_path, header):
    assert only(read(tmp_path, "a.csv", f"{header}\nc1,客服,您好\n")).id == "c1"


@pytest.mark.parametrize("sep", ["\t", ";", "|"])
def test_csv_other_delimiters(tmp_path, sep):
    item = only(read(tmp_path, "a.csv", sep.join(["会话ID", "角色", "内容"]) + "\n" + sep.join(["c1", "客服", "您好,先生"]) + "\n"))
    assert item.turns[0].text == "您好,先生"


def test_csv_title_row_above_header_and_blank_rows(tmp_path):
    text = "2026年2月 客服会话导出,,\n\n会话ID,角色,内容\n,,\nc1,客服,您好\n"
    path = write(tmp_path, "a.csv", text)
    assert only(list(read_path(path))).source == f"{path}:5"


def test_csv_multiline_cell_keeps_row_numbers_right(tmp_path):
    text = 'id,role,text\nc1,agent,"第一行\n第二行"\nc1,customer,x\nc2,boss,y\n'
    items = read(tmp_path, "a.csv", text)
    assert items[0].turns[0].text == "第一行\n第二行"
    error = items[1]
    assert (error.line, error.field) == (5, "role") and "无法识别的角色 'boss'" in error.message


def test_csv_absolute_send_times_become_offsets(tmp_path):
    rows = ["会话ID,角色,内容,发送时间", "c1,客户,在吗,2026-02-17 10:00:00", "c1,客服,您好,2026/2/17 10:00:45"]
    item = only(read(tmp_path, "a.csv", "\n".join(rows)))
    assert item.started_at == datetime(2026, 2, 17, 10)
    assert [(t.start, t.end) for t in item.turns] == [(0.0, 0.0), (45.0, 45.0)]


def test_csv_missing_required_column(tmp_path):
    error = only(read(tmp_path, "a.csv", "会话ID,内容\nc1,您好\n"))
    assert error.line == 1
    assert "缺少必填列 role" in error.message and "角色" in error.message and "说话人" in error.message


def test_csv_duplicate_column(tmp_path):
    error = only(read(tmp_path, "a.csv", "会话ID,角色,内容,text\nc1,客服,您好,x\n"))
    assert (error.line, error.field) == (1, "text") and "重复" in error.message


def test_csv_row_errors_name_row_and_column_and_others_still_read(tmp_path):
    text = (
        "会话ID,角色,内容,开始时间,结束时间\n"
        "c1,客服,您好,0,1\n"
        "c2,客服,您好,0,abc\n"
        "c3,客服,您好,0,1\n"
        "c2,客户,你好,2,3\n"
        ",客服,无主之言,,\n"
        "c4,,没有角色,,\n"
        "c5,客服,倒序,5,4\n"
    )
    items = read(tmp_path, "a.csv", text)
    assert [i.id for i in conversations(items)] == ["c1", "c3"]
    found = [(e.line, e.field, e.message) for e in errors(items)]
    assert found[0][:2] == (3, "结束时间") and "'abc' 不是数字" in found[0][2]
    assert found[1][:2] == (6, "会话ID")
    assert found[2] == (7, "角色", "缺少必填字段")
    assert found[3][:2] == (8, "结束时间") and "早于开始时间" in found[3][2]


def test_csv_bad_conversation_field_names_its_row(tmp_path):
    text = "会话ID,角色,内容,渠道\nc1,客服,您好,\nc1,客户,嗯,传真\n"
    error = only(read(tmp_path, "a.csv", text))
    assert (error.line, error.field) == (3, "渠道") and "无法识别的渠道" in error.message


def test_csv_with_only_a_header_reads_nothing(tmp_path):
    assert read(tmp_path, "a.csv", "会话ID,角色,内容\n") == []


def test_csv_cell_over_the_csv_modules_limit_fails_only_its_conversation(tmp_path):
    text = 'id,role,text\nc0,agent,hi\nc1,agent,hi\nc1,agent,"' + "x" * 200_000 + '"\nc2,agent,hi\n'
    items = read(tmp_path, "a.csv", text)
    assert [c.id for c in conversations(items)] == ["c0", "c2"]
    error = only(errors(items))
    assert (error.line, error.field) == (4, "text") and "过长 (200000 个字符" in error.message


def make_xlsx(path: Path, sheets: dict[str, list[list]]) -> Path:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


def test_xlsx_reads_typed_cells(tmp_path):
    path = make_xlsx(tmp_path / "a.xlsx", {
        "说明": [["本文件为客服质检导出"], ["请勿修改表头"]],
        "数据": [
            ["2026年2月导出"],
            ["会话ID", "角色", "内容", "开始时间", "结束时间", "开始日期", "工号", "ring_seconds"],
            [1001, "客服", "您好", clock_time(0, 0, 1), clock_time(0, 0, 3, 500000), datetime(2026, 2, 17, 10), 1024, 8],
            [1001, "客户", 1, timedelta(seconds=4), 5, None, None, None],
            [1002, "客户", "在吗", "00:10", "00:12", None, None, None],
        ],
    })
    items = list(read_path(path))
    assert [i.id for i in items] == ["1001", "1002"]
    first = items[0]
    assert first.agent_id == "1024" and first.started_at == datetime(2026, 2, 17, 10)
    assert first.metadata == {"ring_seconds": 8}
    assert [(t.text, t.start, t.end) for t in first.turns] == [("您好", 1.0, 3.5), ("1", 4.0, 5.0)]
    assert first.source == f"{path}:3" and items[1].source == f"{path}:5"


def test_xlsx_row_error(tmp_path):
    path = make_xlsx(tmp_path / "a.xlsx", {"Sheet": [
        ["conversation_id", "role", "text", "start"],
        ["a", "agent", "hi", 0],
        ["b", "agent", "hi", "soon"],
    ]})
    items = list(read_path(path))
    assert items[0].id == "a"
    assert (items[1].line, items[1].field) == (3, "start") and "不是数字" in items[1].message


def test_xlsx_without_required_columns(tmp_path):
    path = make_xlsx(tmp_path / "a.xlsx", {"A": [["会话ID", "内容"], ["c1", "x"]], "B": [["foo"]]})
    error = only(list(read_path(path)))
    assert "缺少必填列 role" in error.message and error.line == 1


def test_xlsx_empty_and_invalid(tmp_path):
    assert only(list(read_path(make_xlsx(tmp_path / "e.xlsx", {"Sheet": []})))).message == "文件为空"
    assert "不是有效的 XLSX 文件" in only(read(tmp_path, "bad.xlsx", b"this is not a zip")).message


# --- plain-text chat logs ---------------------------------------------------------------------

LOG = """# id: 007
# channel: phone
# started_at: 2026-10-01T10:00:00+08:00
# agent_id: 0042
# ring_seconds: 8
# queue: vip
[00:00.0-00:02.5] 客服: 您好,很高兴为您服务
[00:03-00:05] 客户: 宽带断了
三天了
[00:06] 坐席小王: 非常抱歉
---
# 第二通
用户：在吗
A: 在的
===
C: 好
"""


def test_text_log_happy_path(tmp_path):
    path = write(tmp_path, "calls.txt", LOG)
    first, second, third = read_path(path)
    assert (first.id, first.channel, first.agent_id) == ("007", Channel.PHONE, "0042")
    assert first.started_at == datetime(2026, 10, 1, 10, tzinfo=CST)
    assert first.metadata == {"ring_seconds": 8, "queue": "vip"}
    assert [(t.role, t.text, t.start, t.end) for t in first.turns] == [
        (Role.AGENT, "您好,很高兴为您服务", 0.0, 2.5),
        (Role.CUSTOMER, "宽带断了\n三天了", 3.0, 5.0),
        (Role.AGENT, "非常抱歉", 6.0, 6.0),
    ]
    assert first.source == f"{path}:7"
    assert (second.id, second.source) == ("calls#2", f"{path}:13")
    assert [t.role for t in second.turns] == [Role.CUSTOMER, Role.AGENT]
    assert third.id == "calls#3" and third.turns[0].role is Role.CUSTOMER


def test_text_log_chat_stamps(tmp_path):
    text = "2026-02-17 10:00:05 客户: 在吗\n2026-02-17 10:01:35 客服: 您好\n"
    item = only(read(tmp_path, "chat.log", text))
    assert item.started_at == datetime(2026, 2, 17, 10, 0, 5)
    assert [(t.start, t.end) for t in item.turns] == [(0.0, 0.0), (90.0, 90.0)]


def test_text_log_words_that_only_start_like_a_role_are_not_speakers():
    item = parse_example("客服: 请稍等\nadmin: 这不是说话人\ncustomer: 好\n")
    assert [t.text for t in item.turns] == ["请稍等\nadmin: 这不是说话人", "好"]


def test_text_log_errors_skip_only_their_conversation(tmp_path):
    text = "经理: 谁?\n客服: 好\n---\n客户: 在吗\n---\n[00:05-00:03] 客服: 倒了\n---\n[1:75] 客服: 坏时间\n"
    items = read(tmp_path, "a.txt", text)
    assert [i.id for i in conversations(items)] == ["a#2"]
    found = [(e.line, e.field) for e in errors(items)]
    assert found == [(1, "role"), (6, "end"), (8, "start")]
    assert "无法识别说话人" in errors(items)[0].message


def test_text_log_header_without_turns_and_bad_header_value(tmp_path):
    items = list(parse_chat_log("# id: x\n---\n# channel: fax\n客服: 好\n", "t.txt"))
    assert [(e.line, e.field) for e in items] == [(1, None), (3, "channel")]


def test_parse_clock_and_parse_example():
    assert (parse_clock("01:02:03.5"), parse_clock("02:03"), parse_clock("7.25")) == (3723.5, 123.0, 7.25)
    with pytest.raises(ValueError):
        parse_example("客服: 好\n---\n客户: 嗯\n")


# --- SRT / WebVTT -----------------------------------------------------------------------------

SRT = """1
00:00:00,000 --> 00:00:02,500
客服: 您好,很高兴为您服务

2
00:00:03,000 --> 00:00:05,000
<i>客户：</i>我的宽带
断了三天了

3
00:00:05,500 --> 00:00:06,000
还没人来修

4
00:00:07,000 --> 00:00:09,000
- 坐席: 非常抱歉
- 用户: 嗯
"""


def test_srt_happy_path(tmp_path):
    path = write(tmp_path, "call-0001.srt", SRT)
    item = only(list(read_path(path)))
    assert (item.id, item.channel, item.source) == ("call-0001", Channel.PHONE, f"{path}:3")
    assert [(t.role, t.text, t.start, t.end) for t in item.turns] == [
        (Role.AGENT, "您好,很高兴为您服务", 0.0, 2.5),
        (Role.CUSTOMER, "我的宽带\n断了三天了", 3.0, 5.0),
        (Role.CUSTOMER, "还没人来修", 5.5, 6.0),
        (Role.AGENT, "非常抱歉", 7.0, 9.0),
        (Role.CUSTOMER, "嗯", 7.0, 9.0),
    ]
    assert item.timed


VTT = """WEBVTT - 通话 0002

NOTE 由语音识别生成

STYLE
::cue { color: white }

intro
00:01.000 --> 00:03.000 align:start position:10%
<v 客服>您好 &amp; 欢迎致电</v>

00:03.500 --> 00:05.000
<v.loud Customer>我要投诉

01:00:05.000 --> 01:00:06.000
<v agent>好的</v> <v 客户>嗯</v>
"""


def test_vtt_voice_tags(tmp_path):
    item = only(read(tmp_path, "call.vtt", VTT))
    assert [(t.role, t.text, t.start, t.end) for t in item.turns] == [
        (Role.AGENT, "您好 & 欢迎致电", 1.0, 3.0),
        (Role.CUSTOMER, "我要投诉", 3.5, 5.0),
        (Role.AGENT, "好的", 3605.0, 3606.0),
        (Role.CUSTOMER, "嗯", 3605.0, 3606.0),
    ]
    assert item.channel is Channel.PHONE and item.id == "call"


def test_vtt_with_prefixes_instead_of_voices(tmp_path):
    item = only(read(tmp_path, "c.vtt", "WEBVTT\n\n00:00.000 --> 00:01.000\n客服: 您好\n"))
    assert item.turns[0].role is Role.AGENT and item.turns[0].text == "您好"


@pytest.mark.parametrize(
    "name, text, line, fragment",
    [
        ("a.vtt", "00:00.000 --> 00:01.000\n客服: 您好\n", 1, "WEBVTT"),
        ("a.srt", "1\n00:00:00,000 --> 00:00:01,000\n您好\n", 3, "无法识别说话人"),
        ("a.srt", "1\n00:00:00,000 --> 00:00:01,000\n客服: 好\n\n2\n客户: 嗯\n", 5, "缺少时间轴"),
        ("a.srt", "1\n00:00:05,000 --> 00:00:01,000\n客服: 好\n", 3, "早于开始时间"),
        ("a.vtt", "WEBVTT\n\n00:00.000 --> 00:01.000\n<v Bob>hi\n", 4, "无法识别说话人 'Bob'"),
        ("a.srt", "1\n00:00:00,000 --> 00:00:01,000\n\n", 1, "没有任何带文字的字幕"),
    ],
)
def test_subtitle_errors(tmp_path, name, text, line, fragment):
    error = only(read(tmp_path, name, text))
    assert isinstance(error, InputError) and error.line == line and fragment in error.message


# --- batches and directories ------------------------------------------------------------------

def test_batch_of_good_and_bad_files(tmp_path):
    good = {
        "a.jsonl": jsonl(conv("j1"), conv("j2")),
        "b.json": json.dumps([conv("d1")]),
        "c.csv": "会话ID,角色,内容\nt1,客服,您好\nt2,客户,嗯\n",
        "d.txt": CHAT,
        "e.srt": SRT,
        "f.vtt": VTT,
    }
    bad = {
        "g.json": '{"id": ',
        "h.csv": "foo,bar\n1,2\n",
        "i.txt": "经理: 你好\n",
        "j.vtt": "not a vtt\n",
        "k.json": b"",
        "l.srt": bytes(range(256)) * 4,
    }
    for name, content in {**good, **bad}.items():
        write(tmp_path, name, content)
    make_xlsx(tmp_path / "m.xlsx", {"S": [["id", "role", "text"], ["x1", "agent", "hi"]]})
    paths = sorted(tmp_path.iterdir()) + [tmp_path / "missing.jsonl"]
    items = list(read_paths(paths))
    assert sorted(i.id for i in conversations(items)) == ["d#1", "d1", "e", "f", "j1", "j2", "t1", "t2", "x1"]
    assert sorted(Path(e.path).name for e in errors(items)) == sorted([*bad, "missing.jsonl"])


def test_directory_walk(tmp_path):
    write(tmp_path, "b/2.jsonl", jsonl(conv("b2")))
    write(tmp_path, "b/1.txt", CHAT)
    write(tmp_path, "a.csv", "id,role,text\na,agent,hi\n")
    write(tmp_path, "b/deeper/z.json", json.dumps(conv("z")))
    write(tmp_path, "b/notes.md", "# not a conversation")
    write(tmp_path, ".git/x.json", "broken")
    write(tmp_path, ".hidden.jsonl", "broken")
    write(tmp_path, "~$book.xlsx", b"lock file")
    write(tmp_path, "UPPER.JSONL", jsonl(conv("up")))
    items = list(read_paths([tmp_path]))
    assert not errors(items)
    assert [Path(i.source.rsplit(":", 1)[0]).relative_to(tmp_path).as_posix() for i in items] == [
        "UPPER.JSONL", "a.csv", "b/1.txt", "b/2.jsonl", "b/deeper/z.json"]
    assert [i.id for i in items] == ["up", "a", "1#1", "b2", "z"]


def test_directory_without_supported_files(tmp_path):
    write(tmp_path, "readme.md", "x")
    error = only(list(read_path(tmp_path)))
    assert "目录中没有支持的文件" in error.message and error.path == str(tmp_path)


def test_large_jsonl_streams_every_line(tmp_path):
    path = tmp_path / "big.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        for i in range(20_000):
            turns = [{"role": "agent" if j % 2 else "customer", "text": "您好请问有什么可以帮您" * 3, "start": j, "end": j + 0.5}
                     for j in range(10)]
            fh.write(json.dumps({"id": f"c{i}", "turns": turns}, ensure_ascii=False) + "\n")
    size = path.stat().st_size
    count = 0
    tracemalloc.start()
    try:
        for item in read_path(path, max_bytes=1024):
            assert isinstance(item, Conversation)
            count += 1
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count == 20_000
    assert size > 20 * 1024 * 1024 and peak < size / 10


# --- spans of a JSONL file (one worker reads each: guifan.cluster) ------------------------------

def _spans_read(path: Path, size: int) -> list:
    return [item for span in line_spans(path, size) for item in read_file(path, str(path), span=span)]


@pytest.mark.parametrize("size", [1, 37, 200, 10_000])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_jsonl_spans_read_what_the_whole_file_reads(tmp_path, size, newline):
    """Blank lines, a broken line, an undecodable line, CRLF ends and a last line without a newline:
    the spans' items, one after the other, are the whole file's (same sources, same error lines)."""
    lines = [json.dumps(conv(f"c{i}"), ensure_ascii=False) for i in range(12)]
    lines[3], lines[7] = "", "{broken"
    data = newline.join(lines).encode() + newline.encode() + b'{"id": "\xff\xfe"}' + newline.encode() + b"   "
    path = write(tmp_path, "a.jsonl", data)
    whole = list(read_path(path))
    spans = line_spans(path, size)
    assert len(spans) > 1 or size == 10_000
    assert spans[0].start == 0 and spans[-1].end == len(data)
    assert all(a.end == b.start for a, b in zip(spans, spans[1:]))
    assert _spans_read(path, size) == whole
    assert [e.line for e in errors(whole)] == [8, 13]


def test_jsonl_spans_of_a_gbk_file_decode_as_the_file_does(tmp_path):
    """The file's head decides the encoding of every span, and a damaged line's message names it."""
    data = jsonl(*[conv(f"甲{i}") for i in range(50)]).encode("gbk") + b'{"id": "\x80"}\n' + jsonl(conv("乙")).encode("gbk")
    path = write(tmp_path, "a.jsonl", data)
    assert len(line_spans(path, 300)) > 3
    assert _spans_read(path, 300) == list(read_path(path))
    assert [c.id for c in conversations(_spans_read(path, 300))][-1] == "乙"
    assert "GB18030" in errors(_spans_read(path, 300))[0].message


def test_utf16_and_binary_files_are_one_span(tmp_path):
    text = write(tmp_path, "a.jsonl", jsonl(*[conv(f"c{i}") for i in range(20)]), "utf-16")
    binary = write(tmp_path, "b.jsonl", bytes(range(256)) * 40)
    assert line_spans(text, 100) == [Span(0, text.stat().st_size, 1)]
    assert line_spans(binary, 100) == [Span(0, binary.stat().st_size, 1)]


def test_a_file_of_blank_lines_is_empty_once(tmp_path):
    path = write(tmp_path, "a.jsonl", "\n" * 500)
    assert len(line_spans(path, 50)) > 5
    assert [e.message for e in errors(list(read_path(path)))] == ["文件为空"]
    assert _spans_read(path, 50) == []  # each span is part of the file: no span says the file is empty


def test_input_files_lists_what_read_paths_reads(tmp_path):
    write(tmp_path, "b/2.jsonl", jsonl(conv("b2")))
    write(tmp_path, "a.txt", "x")
    write(tmp_path, ".hidden.jsonl", "x")
    assert list(input_files(tmp_path)) == [tmp_path / "a.txt", tmp_path / "b" / "2.jsonl"]
    assert list(input_files(tmp_path / "a.txt")) == [tmp_path / "a.txt"]


def test_an_input_error_survives_pickling():
    """Errors travel between worker processes (the workspace's import, the cluster) as pickles."""
    import pickle

    error = InputError("a.jsonl", "缺少字段", 3, "turns[0].text")
    assert pickle.loads(pickle.dumps(error)) == error

