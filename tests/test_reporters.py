"""Reporters: text, JSON (against its schema), HTML (escaping and inline highlights) and Excel.

Fixtures are real engine results on small conversations that trigger the forbidden-language rules
FBD006 (推卸语 「你自己去问」) and FBD010 (「你」 instead of 「您」), plus one unreadable record.
"""

from __future__ import annotations

import copy
import io
import json
import sys
from collections import defaultdict
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import jsonschema
import openpyxl
import pytest

from guifan.engine import Engine
from guifan.errors import GuifanError
from guifan.readers.textlog import parse_chat_log
from guifan.reporters import REPORTERS, guess_format, report_document, report_schema, write_report
from guifan.reporters.html import highlight
from guifan.reporters.jsonreport import render_json
from guifan.reporters.text import render_text
from guifan.reporters.xlsx import render_xlsx, safe_cell
from guifan.rulebook import default_rulebook, load_rulebook
from guifan.scoring import BatchSummary, Checker

SHIRKING = "你自己去问"
BATCH = """# id: conv-1
# agent_id: 1001
# channel: phone
# started_at: 2026-10-01T10:00:00+08:00
[00:00.0-00:02.0] 客户: 这个什么时候能修好?
[00:02.5-00:06.0] 客服: 你好,这个你自己去问问吧。
---
# id: conv-2
客户: 在吗
客服: 您好,请问有什么可以帮您?
---
客户 这一行没有冒号
"""
XSS_ID = '<script>alert(1)</script>"><img src=x onerror=alert(1)>'
XSS_TURN = '"><img src=x onerror=alert(1)><script>alert(1)</script>'


def check(text: str, rulebook=None):
    checker = Checker(Engine(rulebook))
    summary = BatchSummary()
    results = list(checker.check_all(parse_chat_log(text, "batch.txt"), summary))
    return results, summary, checker.engine.rulebook


def finding(results, rule):
    return next(f for r in results for f in r.findings if f.rule == rule)


@pytest.fixture(scope="module")
def batch():
    return check(BATCH)


@pytest.fixture(scope="module")
def xss(tmp_path_factory):
    """A company rulebook whose phrase puts markup into the quote, and markup in id and turns."""
    company = tmp_path_factory.mktemp("rulebook") / "company.yaml"
    company.write_text('add_forbidden:\n  S-F6: ["别<script>烦我"]\n', encoding="utf-8")
    text = f"# id: {XSS_ID}\n客户: {XSS_TURN}\n客服: 您别<script>烦我{XSS_TURN}\n客服: 你自己去问问吧<b>x</b>\n"
    return check(text, load_rulebook([company]))


def render(renderer, results, summary, rulebook) -> str:
    stream = io.StringIO()
    renderer(results, summary, rulebook, stream)
    return stream.getvalue()


def test_fixture_batch_has_the_expected_findings(batch):
    results, summary, _ = batch
    assert (summary.read, summary.checked, summary.failed) == (3, 2, 1)
    shirking = finding(results, "FBD006")
    assert shirking.quote == SHIRKING and shirking.turn == 1
    assert finding(results, "FBD010").quote == "你"


# --- text ----------------------------------------------------------------------------------------


def test_text_report_shows_every_finding_with_clause_quote_and_suggestion(batch):
    results, summary, rulebook = batch
    out = render(render_text, results, summary, rulebook)
    shirking = finding(results, "FBD006")
    assert "conv-1" in out and "conv-2" in out
    assert f"{results[0].score.total:g}/100" in out
    assert f"「{SHIRKING}」" in out
    assert "S-F6 推卸语" in out
    assert "第2轮" in out
    assert f"建议: {shirking.suggestion}" in out
    for result in results:
        for f in result.findings:
            assert f.rule in out and f.message in out
    # Summary: counts, the input error with file:line and field, the top rules.
    assert "读取 3 · 已检查 2 · 失败 1" in out
    error = summary.errors[0]
    assert f"batch.txt:{error.line} 字段 {error.field}: {error.message}" in out
    assert "最常见的问题" in out and out.rindex("FBD006") > out.index("最常见的问题")


def test_text_report_has_no_colours_off_terminal_and_colours_on_one(batch):
    results, summary, rulebook = batch
    assert "\x1b[" not in render(render_text, results, summary, rulebook)

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    render_text(results, summary, rulebook, stream)
    assert "\x1b[" in stream.getvalue()


def test_text_report_prints_markup_in_conversations_literally():
    results, summary, rulebook = check("# id: [bold]x[/bold]\n客户: 在吗\n客服: [red]你自己去问问吧[/red]\n")
    out = render(render_text, results, summary, rulebook)
    assert "[bold]x[/bold]" in out
    assert "[red]" in out


# --- JSON ----------------------------------------------------------------------------------------


def test_json_report_validates_and_carries_every_finding(batch):
    results, summary, rulebook = batch
    out = render(render_json, results, summary, rulebook)
    assert SHIRKING in out  # ensure_ascii=False: Chinese stays readable
    doc = json.loads(out)
    jsonschema.Draft202012Validator.check_schema(report_schema())
    jsonschema.validate(doc, report_schema(), cls=jsonschema.Draft202012Validator)
    assert doc["summary"] == {
        "read": 3, "checked": 2, "failed": 1,
        "errors": [{"path": "batch.txt", "line": summary.errors[0].line, "field": "role", "message": summary.errors[0].message}],
    }
    assert doc["rulebook"] == "default"
    assert [c["id"] for c in doc["conversations"]] == ["conv-1", "conv-2"]
    first = doc["conversations"][0]
    assert first["channel"] == "phone" and first["agent_id"] == "1001"
    assert first["started_at"] == "2026-10-01T10:00:00+08:00"
    assert first["score"]["total"] == results[0].score.total
    assert [c["key"] for c in first["score"]["categories"]] == list(rulebook.scorecard.categories)
    for conv, result in zip(doc["conversations"], results):
        assert len(conv["findings"]) == len(result.findings)
        turns = result.conversation.turns
        for item in conv["findings"]:
            assert item["clause_titles"] == [rulebook.clause_title(c) for c in item["clauses"]]
            if item["span"] is not None:
                start, end = item["span"]
                assert turns[item["turn"]].text[start:end] == item["quote"]
    shirking = next(f for f in first["findings"] if f["rule"] == "FBD006")
    assert shirking["name"] == "shirking-responsibility"
    assert shirking["clauses"] == ["S-F6"] and shirking["clause_titles"] == ["推卸语"]
    assert shirking["severity"] == "major" and shirking["turn"] == 1 and shirking["quote"] == SHIRKING


def test_documented_example_validates():
    doc = (Path(__file__).parents[1] / "docs" / "json-report.md").read_text(encoding="utf-8")
    example = doc.split("```json\n", 1)[1].split("```", 1)[0]
    jsonschema.validate(json.loads(example), report_schema(), cls=jsonschema.Draft202012Validator)


def _finding_of(doc):
    return doc["conversations"][0]["findings"][0]


@pytest.mark.parametrize(
    "breakage",
    [
        lambda d: _finding_of(d).pop("quote"),
        lambda d: _finding_of(d).pop("suggestion"),
        lambda d: _finding_of(d).update(severity="critical"),
        lambda d: _finding_of(d).update(span=[1, 2, 3]),
        lambda d: _finding_of(d).update(turn="2"),
        lambda d: _finding_of(d).update(rule="fbd6"),
        lambda d: _finding_of(d).update(clauses=[]),
        lambda d: d["conversations"][0]["score"].update(total=120),
        lambda d: d["conversations"][0].update(channel="email"),
        lambda d: d["summary"].update(read=-1),
        lambda d: d["summary"]["errors"][0].pop("message"),
        lambda d: d.pop("rulebook"),
        lambda d: d.update(extra=1),
    ],
)
def test_json_schema_rejects_broken_documents(batch, breakage):
    results, summary, rulebook = batch
    doc = report_document(results, summary, rulebook)
    jsonschema.validate(doc, report_schema(), cls=jsonschema.Draft202012Validator)
    broken = copy.deepcopy(doc)
    breakage(broken)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, report_schema(), cls=jsonschema.Draft202012Validator)


# --- HTML ----------------------------------------------------------------------------------------


class ReportParser(HTMLParser):
    """Collects tags, and for every transcript bubble its text and where each mark starts and what it holds."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.bubbles: list[dict] = []
        self._bubble: dict | None = None
        self._marks: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag == "div" and attrs.get("class") == "bubble":
            self._bubble = {"text": "", "starts": defaultdict(list), "marks": defaultdict(str), "rules": {}}
            self.bubbles.append(self._bubble)
        elif tag == "mark":
            assert self._bubble is not None, "marks only appear inside transcript bubbles"
            anchor = attrs["data-finding"]
            self._bubble["starts"][anchor].append(len(self._bubble["text"]))
            self._bubble["rules"][anchor] = attrs["data-rule"]
            self._marks.append(anchor)

    def handle_endtag(self, tag):
        if tag == "mark":
            self._marks.pop()
        elif tag == "div" and self._bubble is not None:
            assert not self._marks, "marks are closed inside their bubble"
            self._bubble = None

    def handle_data(self, data):
        if self._bubble is not None:
            self._bubble["text"] += data
            for anchor in self._marks:
                self._bubble["marks"][anchor] += data


def parse_html(out: str) -> ReportParser:
    parser = ReportParser()
    parser.feed(out)
    parser.close()
    return parser


def assert_highlights(parser: ReportParser, results) -> None:
    """Each bubble is its turn's text, and each finding with a span is marked exactly there."""
    bubbles = iter(parser.bubbles)
    for result in results:
        for index, turn in enumerate(result.conversation.turns):
            bubble = next(bubbles)
            assert bubble["text"] == turn.text
            spanned = sorted((f.span[0], f.rule, f.quote) for f in result.findings if f.turn == index and f.span)
            marked = sorted((min(bubble["starts"][a]), bubble["rules"][a], bubble["marks"][a]) for a in bubble["marks"])
            assert marked == spanned


def test_html_report_is_self_contained_and_highlights_at_the_spans(batch):
    results, summary, rulebook = batch
    out = render(REPORTERS["html"], results, summary, rulebook)
    assert out.startswith("<!doctype html>") and '<html lang="zh-CN">' in out
    parser = parse_html(out)
    tags = {tag for tag, _ in parser.tags}
    assert not tags & {"script", "link", "img", "iframe", "object", "embed"}
    for _, attrs in parser.tags:
        for name, value in attrs.items():
            assert not (value or "").startswith(("http:", "https:", "//")), f"external resource in {name}"
    assert "url(" not in out and "@import" not in out
    assert_highlights(parser, results)
    shirking = finding(results, "FBD006")
    # The aside explains the finding: clause, message and suggestion.
    assert "S-F6 推卸语" in out and shirking.message in out and shirking.suggestion in out
    # Summary and input errors.
    assert summary.errors[0].message in out
    assert "conv-1" in out and "conv-2" in out


def test_html_report_escapes_ids_turns_and_quotes(xss):
    results, summary, rulebook = xss
    quoted = finding(results, "FBD006")
    assert "<script>" in quoted.quote  # the company phrase put markup into the quote
    out = render(REPORTERS["html"], results, summary, rulebook)
    parser = parse_html(out)
    tags = [tag for tag, _ in parser.tags]
    assert "script" not in tags and "img" not in tags
    assert not any(name.startswith("on") for _, attrs in parser.tags for name in attrs)
    assert "<script>" not in out and "<img" not in out and "<b>x</b>" not in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert_highlights(parser, results)


def test_html_report_attaches_spanless_findings_to_their_turn_or_the_conversation(batch):
    results, summary, rulebook = batch
    first = results[0]
    moved = tuple(
        replace(f, span=None) if f.rule == "FBD006" else replace(f, turn=None, span=None, quote="")
        if f.rule == "FBD010" else f
        for f in first.findings
    )
    changed = [replace(first, findings=moved), *results[1:]]
    out = render(REPORTERS["html"], changed, summary, rulebook)
    parser = parse_html(out)
    marked = {rule for bubble in parser.bubbles for rule in bubble["rules"].values()}
    assert not marked & {"FBD006", "FBD010"}
    cards = {attrs["id"]: n for n, (tag, attrs) in enumerate(parser.tags) if tag == "li"}
    transcript = next(n for n, (_, attrs) in enumerate(parser.tags) if attrs.get("class") == "transcript")
    bubbles = [n for n, (_, attrs) in enumerate(parser.tags) if attrs.get("class") == "bubble"]
    index = {f.rule: k for k, f in enumerate(moved, 1)}
    # The conversation-level finding comes before the transcript, the turn-level one after its bubble.
    assert cards[f"c1-f{index['FBD010']}"] < transcript
    assert bubbles[1] < cards[f"c1-f{index['FBD006']}"] < bubbles[2]
    assert "整通对话" in out


def test_highlight_nests_crossing_and_nested_spans():
    text = "abcdefgh"
    marks = [(0, 4, "A"), (2, 6, "B"), (2, 3, "C"), (7, 8, "D")]
    segments = highlight(text, marks)
    stack, seen, last = [], defaultdict(str), defaultdict(int)
    for seg in segments:
        if seg.kind == "open":
            stack.append(seg.mark)
            last[seg.mark] += seg.last
        elif seg.kind == "close":
            stack.pop()
        else:
            for mark in stack:
                seen[mark] += seg.text
    assert not stack
    assert "".join(s.text for s in segments) == text
    assert dict(seen) == {m: text[a:b] for a, b, m in marks}
    assert dict(last) == {"A": 1, "B": 1, "C": 1, "D": 1}  # one rule-code badge per finding


# --- XLSX ----------------------------------------------------------------------------------------


def load_xlsx(results, summary, rulebook) -> openpyxl.Workbook:
    stream = io.BytesIO()
    render_xlsx(results, summary, rulebook, stream)
    return openpyxl.load_workbook(io.BytesIO(stream.getvalue()))


def rows(sheet) -> list[dict]:
    values = list(sheet.iter_rows(values_only=True))
    return [dict(zip(values[0], row)) for row in values[1:]]


def test_xlsx_report_sheets_rows_and_cells(batch):
    results, summary, rulebook = batch
    book = load_xlsx(results, summary, rulebook)
    assert book.sheetnames == ["会话", "问题", "转写", "错误"]
    conversations = rows(book["会话"])
    assert [r["对话ID"] for r in conversations] == ["conv-1", "conv-2"]
    transcript = rows(book["转写"])
    assert [(r["对话ID"], r["轮次"], r["文字"]) for r in transcript] == [
        (r.conversation.id, n + 1, t.text) for r in results for n, t in enumerate(r.conversation.turns)
    ]
    first = conversations[0]
    assert first["渠道"] == "电话" and first["客服工号"] == "1001" and first["致命"] == "否"
    assert first["总分"] == results[0].score.total
    assert first["开始时间"].isoformat() == "2026-10-01T10:00:00"
    for category in results[0].score.categories:
        assert first[category.name] == category.score
    assert first["问题数"] == len(results[0].findings)
    problems = rows(book["问题"])
    assert len(problems) == sum(len(r.findings) for r in results)
    shirking = next(r for r in problems if r["规则"] == "FBD006")
    expected = finding(results, "FBD006")
    assert shirking == {
        "对话ID": "conv-1", "轮次": 2, "规则": "FBD006", "条款": "S-F6", "条款标题": "推卸语", "严重程度": "严重",
        "依据": "原话", "置信度": 1, "待复核": None, "原话": SHIRKING, "问题说明": expected.message, "建议": expected.suggestion, "该轮原文": "你好,这个你自己去问问吧。",
    }
    errors = rows(book["错误"])
    assert errors == [{"文件": "batch.txt", "行": summary.errors[0].line, "字段": "role", "说明": summary.errors[0].message}]


def test_xlsx_report_has_no_error_sheet_without_errors():
    results, summary, rulebook = check("客户: 在吗\n客服: 你好\n")
    assert load_xlsx(results, summary, rulebook).sheetnames == ["会话", "问题", "转写"]


def test_xlsx_report_writes_formulas_as_text():
    text = (
        '# id: =HYPERLINK("http://x","y")\n# agent_id: -1+1\n客户: 在吗\n'
        '客服: =HYPERLINK("http://x","y") 你自己去问问吧\n客服: @SUM(1) 你好\x07\n'
    )
    results, summary, rulebook = check(text)
    book = load_xlsx(results, summary, rulebook)
    for sheet in book:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{sheet.title}!{cell.coordinate} is a formula"
    conversation = rows(book["会话"])[0]
    assert conversation["对话ID"] == "'=HYPERLINK(\"http://x\",\"y\")"
    assert conversation["客服工号"] == "'-1+1"
    turns = {r["该轮原文"] for r in rows(book["问题"])}
    assert "'=HYPERLINK(\"http://x\",\"y\") 你自己去问问吧" in turns
    assert "'@SUM(1) 你好\ufffd" in turns


@pytest.mark.parametrize(
    ("value", "expected"),
    [("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@A1", "'@A1"), ("\tx", "'\tx"), ("\rx", "'\rx"),
     ("a=1", "a=1"), ("你好", "你好"), (3.5, 3.5), (None, None), ("a\x00b", "a\ufffdb")],
)
def test_safe_cell(value, expected):
    assert safe_cell(value) == expected


# --- write_report --------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", sorted(REPORTERS))
def test_write_report_to_a_file(batch, tmp_path, fmt):
    results, summary, rulebook = batch
    output = tmp_path / "out" / f"report.{fmt}"
    write_report(fmt, results, summary, rulebook, output)
    data = output.read_bytes()
    if fmt == "xlsx":
        assert openpyxl.load_workbook(io.BytesIO(data)).sheetnames[0] == "会话"
    else:
        assert SHIRKING in data.decode("utf-8")


def test_write_report_to_standard_output(batch, monkeypatch):
    results, summary, rulebook = batch

    class Stdout(io.TextIOWrapper):
        pass

    raw = io.BytesIO()
    stdout = Stdout(raw, encoding="utf-8")
    monkeypatch.setattr(sys, "stdout", stdout)
    write_report("json", results, summary, rulebook, None)
    assert json.loads(raw.getvalue().decode("utf-8"))["summary"]["read"] == 3
    raw.seek(0)
    raw.truncate()
    write_report("xlsx", results, summary, rulebook, None)
    assert openpyxl.load_workbook(io.BytesIO(raw.getvalue())).sheetnames[:2] == ["会话", "问题"]


def test_write_report_errors_are_user_errors(batch, tmp_path):
    results, summary, rulebook = batch
    with pytest.raises(GuifanError, match="未知的报告格式"):
        write_report("pdf", results, summary, rulebook, None)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(GuifanError, match="无法写入报告"):
        write_report("json", results, summary, rulebook, blocker / "report.json")


def test_guess_format():
    assert guess_format(Path("a/report.HTML")) == "html"
    assert guess_format("r.htm") == "html"
    assert guess_format("r.xlsx") == "xlsx"
    assert guess_format("r.json") == "json"
    assert guess_format("r.txt") == "text"
    assert guess_format("r.pdf") is None


def test_reporters_handle_an_empty_batch():
    summary = BatchSummary()
    rulebook = default_rulebook()
    doc = json.loads(render(render_json, [], summary, rulebook))
    jsonschema.validate(doc, report_schema(), cls=jsonschema.Draft202012Validator)
    assert "没有可报告的对话" in render(REPORTERS["html"], [], summary, rulebook)
    assert "读取 0" in render(render_text, [], summary, rulebook)
    assert load_xlsx([], summary, rulebook).sheetnames == ["会话", "问题", "转写"]
