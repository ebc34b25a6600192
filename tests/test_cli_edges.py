"""The command line's edges: rule titles, rule pages for the terminal, clauses, output extensions,
override validation with lines, progress, turn numbers people read."""

import json
from pathlib import Path

from typer.testing import CliRunner

from guifan.cli import app

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
runner = CliRunner()


def run(*args, **kwargs):
    return runner.invoke(app, [str(a) for a in args], **kwargs)


def test_rules_show_chinese_titles():
    listing = run("rules", env={"COLUMNS": "160"})
    assert listing.exit_code == 0
    assert "标题" in listing.stdout and "推卸语" in listing.stdout and "严重" in listing.stdout
    assert "shirking-responsibility" not in listing.stdout  # the English name is not the title
    rows = {r["code"]: r for r in json.loads(run("rules", "--json").stdout)}
    assert rows["FBD006"]["title"] == "推卸语" and rows["FBD006"]["name"] == "shirking-responsibility"


def test_rules_mark_rules_a_company_turned_off(tmp_path):
    company = tmp_path / "company.yaml"
    company.write_text("rules:\n  FBD006: {enabled: false}\n", encoding="utf-8")
    listing = run("rules", "--config", company, env={"COLUMNS": "160"})
    assert "推卸语 (已停用)" in listing.stdout


def test_rule_is_rendered_for_the_terminal():
    shown = run("rule", "FBD006", env={"COLUMNS": "100"})
    assert shown.exit_code == 0
    assert "反例 Bad 1" in shown.stdout and "推卸语" in shown.stdout
    assert "```" not in shown.stdout and "**" not in shown.stdout and "\n# " not in shown.stdout
    raw = run("rule", "FBD006", "--markdown")
    assert raw.stdout.startswith("# FBD006 `shirking-responsibility`") and "```text" in raw.stdout


def test_rule_of_a_clause_lists_its_rules():
    shown = run("rule", "S-F6", env={"COLUMNS": "120"})
    assert shown.exit_code == 0, shown.output
    assert "S-F6 推卸语" in shown.stdout
    assert "FBD006" in shown.stdout and "FBD013" in shown.stdout
    assert "很抱歉,请您稍等一下,我帮您核实" in shown.stdout  # the standard wording
    assert "FBD006" in run("rule", "s-f6").stdout
    section = run("rule", "S-F", "--markdown").stdout
    assert section.index("# S-F1 ") < section.index("# S-F2 ") < section.index("# S-F10 ")
    assert "不可从文本检查" in run("rule", "S-J2", "--markdown").stdout
    missing = run("rule", "S-X9")
    assert missing.exit_code == 2 and "没有规则或条款 S-X9" in missing.stderr


def test_validate_names_every_unknown_key_and_rule_with_its_line(tmp_path):
    company = tmp_path / "company.yaml"
    company.write_text(
        "company:\n"
        "  name: 欧飞\n"
        "  nmae: 错字\n"
        "rules:\n"
        "  FBD006: {enabled: false}\n"
        "  FBD999: {enabled: false}\n"
        "  shirking-responsibility: {severity: minor}\n"
        "  FBD010: {enabeld: false}\n",
        encoding="utf-8",
    )
    result = run("validate", company)
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    found = [line.strip() for line in lines if "company.yaml:" in line and line.startswith("  ")]
    assert found == [
        f"{company}:3 company.nmae: 未知的键;是否要写 name? (此处可用: name, agent_id_pattern, service_hours, "
        "promised_response, escalation_chain, holidays, jargon)",
        f"{company}:6 rules.FBD999: 没有这条规则;是否要写 FBD009?",
        f"{company}:7 rules.shirking-responsibility: 没有这条规则;是否要写 FBD006?",
        f"{company}:8 rules.FBD010.enabeld: 未知的键;是否要写 enabled? (此处可用: enabled, severity, category, deduction, channels)",
    ]
    assert "guifan rules" in result.stderr
    # the same file stops a check before it starts
    assert run("check", EXAMPLES / "chat_log.txt", "--config", company).exit_code == 2


def test_unknown_report_extension_is_refused_before_checking(tmp_path):
    out = tmp_path / "report.pdf"
    result = run("check", EXAMPLES / "chat_log.txt", "-o", out, "--no-progress")
    assert result.exit_code == 2
    assert "无法从扩展名 .pdf 判断报告格式" in result.stderr and "--format" in result.stderr
    assert not out.exists() and "读取" not in result.stderr  # nothing was checked
    forced = run("check", EXAMPLES / "chat_log.txt", "-o", out, "--format", "json", "--no-progress")
    assert forced.exit_code == 0 and json.loads(out.read_text(encoding="utf-8"))["summary"]["checked"] == 3
    plain = tmp_path / "report"
    assert run("check", EXAMPLES / "chat_log.txt", "-o", plain, "--no-progress").exit_code == 0
    assert "第" in plain.read_text(encoding="utf-8")  # no extension: the text report


def test_meter_counts_bytes_as_they_are_read(tmp_path):
    from guifan.readers import Meter, input_size, read_paths

    first = json.dumps({"id": "a", "turns": [{"role": "agent", "text": "您好"}]}, ensure_ascii=False) + "\n"
    second = json.dumps({"id": "b", "turns": [{"role": "agent", "text": "再见"}]}, ensure_ascii=False) + "\n"
    (tmp_path / "calls.jsonl").write_text(first + second, encoding="utf-8")
    (tmp_path / "chat.txt").write_text("客户: 你好\n客服: 您好\n", encoding="utf-8")
    (tmp_path / "notes.docx").write_bytes(b"x" * 50)  # not an input: not counted
    total = input_size([tmp_path])
    assert total == len((first + second).encode()) + len("客户: 你好\n客服: 您好\n".encode())
    meter = Meter()
    items = read_paths([tmp_path], meter=meter)
    assert next(items).id == "a" and meter.position == len(first.encode())  # JSONL: line by line
    list(items)
    assert meter.position == total
    assert input_size([tmp_path / "missing.jsonl"]) == 0


def test_progress_bar_shows_the_total_and_the_time_left(monkeypatch):
    import io
    import time as clock

    from rich.console import Console

    from guifan import cli, scoring
    from guifan.readers import input_size

    screen = io.StringIO()
    monkeypatch.setattr(cli, "err", Console(file=screen, force_terminal=True, width=200))
    real_check = scoring.Checker.check
    monkeypatch.setattr(scoring.Checker, "check", lambda self, c: clock.sleep(0.1) or real_check(self, c))
    result = run("check", EXAMPLES / "chat_sessions.jsonl", "--format", "json")
    assert result.exit_code == 0
    shown = screen.getvalue()
    total = input_size([EXAMPLES / "chat_sessions.jsonl"])
    assert f"/{total / 1e6:.1f} MB" in shown or f"/{total / 1e3:.1f} kB" in shown, shown[-500:]
    assert "剩余" in shown and "%" in shown and "通" in shown


def test_people_read_turns_from_one(tmp_path):
    from guifan.errors import InputError

    corpus = tmp_path / "chats.jsonl"
    corpus.write_text(json.dumps({"id": "d1", "turns": [
        {"role": "customer", "text": "这个什么时候能修好?"}, {"role": "agent", "text": "我不知道。"}]},
        ensure_ascii=False) + "\n", encoding="utf-8")
    labels = tmp_path / "labels.jsonl"
    labels.write_text(json.dumps({"id": "d1", "violations": {"S-A9": [1]}}) + "\n", encoding="utf-8")
    explained = run("eval", corpus, "--labels", labels, "--explain", env={"COLUMNS": "200"})
    lines = [line for line in explained.stdout.splitlines() if " d1 " in line]
    assert any("误报 d1 第2轮" in line and "FBD006" in line for line in lines), lines  # index 1: the second turn
    assert not any("第1轮" in line or "第0轮" in line for line in lines), lines
    as_json = json.loads(run("eval", corpus, "--labels", labels, "--format", "json", "--explain").stdout)
    assert {case["turn"] for level in ("dialogue", "turn") for s in as_json[level] for kind in ("misses", "false_alarms")
            for case in s.get(kind, []) if case["turn"] is not None} == {1}  # JSON stays 0-based

    assert str(InputError("a.jsonl", "缺少必填字段", 3, "turns[1].role")) == "a.jsonl:3 字段 turns[1].role (第2轮): 缺少必填字段"
    assert str(InputError("a.jsonl", "x", 3, "metadata.turns")) == "a.jsonl:3 字段 metadata.turns: x"
