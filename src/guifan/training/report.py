"""The report card in the terminal: the verdict, the checklist and the QA findings, in Chinese.

The findings are printed as ``guifan check`` prints them (``reporters.text.finding_lines``), and
conversation text only ever as ``rich.text.Text``, never as markup.
"""

from __future__ import annotations

from typing import TextIO

from rich.console import Console
from rich.text import Text

from guifan.model import Role
from guifan.reporters.common import ROLE_LABELS, clause_label, format_score, turn_label
from guifan.reporters.text import finding_lines, text_console
from guifan.rulebook import Rulebook
from guifan.training.grading import ReportCard
from guifan.training.scenario import OUTCOME_LABELS, Scenario

DIFFICULTY_STYLES = {"入门": "green", "进阶": "yellow", "考核": "red"}


def scenario_header(scenario: Scenario, rulebook: Rulebook) -> list[Text]:
    """Title, difficulty, channel, the clauses trained and the customer's persona."""
    channel = "电话" if scenario.channel.value == "phone" else "在线"
    title = Text.assemble(("● ", "cyan"), (scenario.title, "bold cyan"), f"  ({scenario.id})  ",
                          (scenario.difficulty, DIFFICULTY_STYLES[scenario.difficulty]), f" · {channel}")
    lines = [title, Text(f"  训练条款: {clause_label(scenario.clauses, rulebook)}", style="dim"),
             Text(f"  客户: {scenario.persona}", style="dim")]
    if scenario.date:
        lines.append(Text(f"  通话日期: {scenario.date.isoformat()}", style="dim"))
    return lines


def render_card(card: ReportCard, rulebook: Rulebook, stream: TextIO) -> None:
    console = text_console(stream)
    print_card(console, card, rulebook)


def print_card(console: Console, card: ReportCard, rulebook: Rulebook) -> None:
    for line in scenario_header(card.scenario, rulebook):
        console.print(line)
    verdict = Text("  成绩单: ")
    verdict.append(" 通过 " if card.passed else " 未通过 ", style="bold white on green" if card.passed else "bold white on red")
    verdict.append(f"  得分 {format_score(card.score)}/100 (及格 {format_score(card.scenario.pass_score)})")
    verdict.append(f" · {OUTCOME_LABELS[card.outcome]}")
    console.print(verdict)
    if card.outcome not in card.scenario.goal:
        goals = "、".join(OUTCOME_LABELS[g] for g in card.scenario.goal)
        console.print(Text(f"  未达到场景目标: {goals}", style="red"))
    if card.faulted:
        console.print(Text(f"  训练条款有违规: {clause_label(card.faulted, rulebook)}", style="red"))
    console.print(Text("  流程清单:", style="bold"))
    for n, item in enumerate(card.checklist, 1):
        line = Text(f"   {n}. ")
        line.append("✓ " if item.done else "✗ ", style="bold green" if item.done else "bold red")
        line.append(item.step)
        line.append(f"  {' '.join(item.clauses)}", style="cyan")
        if item.turn is not None:
            line.append(f"  {turn_label(item.turn)}", style="dim")
        console.print(line)
        if not item.done:
            console.print(Text(f"      {item.problem}", style="red"))
            console.print(Text.assemble(("      应说: ", "bold green"), (item.wording, "green")))
    console.print(Text("  质检问题:" if card.result.findings else "  质检未发现问题", style="bold"))
    for finding in card.result.findings:
        for line in finding_lines(card.result, finding, rulebook):
            console.print(line)


def turn_line(role: str, text: str, index: int) -> Text:
    """One turn as the practice screen shows it: 第N轮 客户: …"""
    style = "bold magenta" if role == "customer" else "bold blue"
    return Text.assemble((f"{turn_label(index)} ", "dim"), (f"{ROLE_LABELS[Role(role)]}: ", style), text)
