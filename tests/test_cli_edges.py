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
