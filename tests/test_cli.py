"""The command line, end to end: reports, exit codes, bad input, selection, resume, docs."""

import gc
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from guifan import launch, scoring
from guifan.cli import app
from guifan.docs import reference_markdown
from guifan.rulebook import default_rulebook

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_readme_command_one_writes_the_html_report(tmp_path):
    report = tmp_path / "report.html"
    done = subprocess.run(
        [sys.executable, "-m", "guifan", "check", "examples/", "--format", "html", "-o", str(report)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    html = report.read_text(encoding="utf-8")
    assert "<mark" in html and "FBD" in html
    assert "读取 47 · 检查 47 · 失败 0" in done.stderr


@pytest.mark.parametrize("command", [["check", EXAMPLES / "chat_sessions.jsonl", "-f", "json", "--no-progress"], ["rules"]])
def test_the_command_keeps_the_collector_out_of_start_up_and_turns_it_on_for_the_work(command, monkeypatch):
    """``guifan`` (guifan.launch) starts with the garbage collector off; check turns it on once its
    engine is built, with what start-up made frozen out of its way; other commands at once."""
    on_when_checking = []
    checked = scoring.Checker.check
    monkeypatch.setattr(scoring.Checker, "check", lambda self, c: (on_when_checking.append(gc.isenabled()), checked(self, c))[1])
    launch.begin()
    try:
        assert not gc.isenabled()
        assert run(*command).exit_code == 0
        assert gc.isenabled() and gc.get_freeze_count() > 0
        assert all(on_when_checking) and (command[0] != "check" or on_when_checking)
    finally:
        gc.unfreeze()
        gc.enable()
    launch.collect_from_here()  # where it was not turned off: nothing frozen
    assert gc.get_freeze_count() == 0


def test_json_report_on_stdout_names_rule_clause_quote_and_suggestion():
    result = run("check", EXAMPLES / "chat_sessions.jsonl", "--format", "json", "--no-progress")
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    findings = [f for c in report["conversations"] for f in c["findings"]]
    assert findings
    for finding in findings:
        assert {"rule", "clauses", "turn", "quote", "message", "suggestion"} <= finding.keys()
    assert report["summary"]["checked"] == len(report["conversations"])


def test_bad_inputs_are_listed_and_the_rest_is_checked(tmp_path):
    (tmp_path / "good.jsonl").write_text(
        json.dumps({"id": "g1", "turns": [{"role": "agent", "text": "你自己去问问吧"}]}, ensure_ascii=False) + "\n"
        + "{broken json\n"
        + json.dumps({"id": "g2", "turns": [{"text": "没有角色"}]}, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    (tmp_path / "empty.json").write_text("", encoding="utf-8")
    (tmp_path / "gbk.txt").write_bytes("客户: 你好\n客服: 我不知道。\n".encode("gbk"))
    result = run("check", tmp_path, "--format", "json", "--no-progress")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert sorted(c["id"] for c in report["conversations"]) == ["g1", "gbk#1"]
    errors = {(Path(e["path"]).name, e["line"], e["field"]) for e in report["summary"]["errors"]}
    assert ("good.jsonl", 2, None) in errors
    assert ("good.jsonl", 3, "turns[0].role") in errors
    assert any(name == "empty.json" for name, _, _ in errors)
    assert report["summary"] == {**report["summary"], "read": 5, "checked": 2, "failed": 3}
    assert "good.jsonl:3" in result.stderr


def test_select_ignore_and_unknown_rule():
    only = run("check", EXAMPLES / "chat_log.txt", "--format", "json", "--select", "S-F10", "--no-progress")
    rules = {f["rule"] for c in json.loads(only.stdout)["conversations"] for f in c["findings"]}
    assert rules and rules <= {"FBD010", "FBD011"}
    unknown = run("check", EXAMPLES, "--select", "XYZ123")
    assert unknown.exit_code == 2
    assert "未知的规则或条款" in unknown.stderr


def test_bad_company_file_exits_2_with_the_reason(tmp_path):
    bad = tmp_path / "company.yaml"
    bad.write_text("scorecard:\n  categories:\n    opening: {name: x, weight: 1}\n", encoding="utf-8")
    result = run("check", EXAMPLES, "--config", bad)
    assert result.exit_code == 2
    assert "权重之和应为 100" in result.stderr
    assert run("validate", bad).exit_code == 2
    good = tmp_path / "ok.yaml"
    good.write_text("company: {name: 欧飞}\n", encoding="utf-8")
    assert "规则手册有效" in run("validate", good).stdout


def test_rules_and_rule_commands():
    listing = run("rules", "--json")
    rows = json.loads(listing.stdout)
    assert {"FBD006", "CLS001", "HLD001"} <= {r["code"] for r in rows}
    shown = run("rule", "FBD006")
    assert shown.exit_code == 0
    assert "S-F6" in shown.stdout and "推卸语" in shown.stdout and "反例" in shown.stdout
    assert run("rule", "NOPE").exit_code == 2


def test_committed_rule_reference_is_up_to_date():
    committed = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    assert committed == reference_markdown(default_rulebook()), "run: guifan docs -o docs/rules.md"


def test_xlsx_report(tmp_path):
    from openpyxl import load_workbook

    out = tmp_path / "qa.xlsx"
    assert run("check", EXAMPLES / "turns.csv", "-o", out, "--no-progress").exit_code == 0
    book = load_workbook(out)
    assert {"会话", "问题"} <= set(book.sheetnames)


def test_interrupted_batch_resumes_without_loss_or_duplicates(tmp_path, monkeypatch):
    state = tmp_path / "state.jsonl"
    real_check = scoring.Checker.check
    calls = {"n": 0}

    def dying_check(self, conversation):
        calls["n"] += 1
        if calls["n"] == 10:
            raise KeyboardInterrupt  # the operator (or the machine) stops the batch mid-way
        return real_check(self, conversation)

    monkeypatch.setattr(scoring.Checker, "check", dying_check)  # in this process: --jobs 1
    first = run("check", EXAMPLES, "--format", "json", "--state", state, "--no-progress", "--jobs", "1")
    assert first.exit_code != 0
    assert len(state.read_text(encoding="utf-8").splitlines()) == 9

    monkeypatch.setattr(scoring.Checker, "check", real_check)
    checked = []
    monkeypatch.setattr(scoring.Checker, "check", lambda self, c: checked.append(c.id) or real_check(self, c))
    second = run("check", EXAMPLES, "--format", "json", "--state", state, "--no-progress", "--jobs", "1")
    assert second.exit_code == 0
    report = json.loads(second.stdout)
    ids = [c["id"] for c in report["conversations"]]
    assert len(ids) == len(set(ids)) == 47
    assert len(checked) == 47 - 9
    assert len(state.read_text(encoding="utf-8").splitlines()) == 47

    fresh = json.loads(run("check", EXAMPLES, "--format", "json", "--no-progress").stdout)
    assert {c["id"]: c["score"] for c in fresh["conversations"]} == {c["id"]: c["score"] for c in report["conversations"]}
