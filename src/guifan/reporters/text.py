"""The terminal report: per conversation its score and findings, then the batch summary.

Conversation text is only ever printed as ``rich.text.Text`` (never as markup), so a customer who
types ``[bold]`` gets the brackets printed back, not a style. Colours only on a terminal.

Written as the conversations are checked: each conversation's block is rendered where it was
checked (``TextEncoder``, with the output's width and colours), the summary at the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence, TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from guifan.model import Evidence, Finding
from guifan.reporters.common import (
    CHANNEL_LABELS,
    EVIDENCE_LABELS,
    ROLE_LABELS,
    SEVERITY_LABELS,
    audio_record,
    clause_label,
    needs_review,
    clock,
    format_score,
    grade,
    skipped_notice,
    top_rules,
    turn_label,
    turn_of,
    valid_span,
    write_all,
)
from guifan.rulebook import Rulebook
from guifan.scoring import BatchSummary, BatchTotals, CheckResult

GRADE_STYLES = {"good": "bold green", "fair": "bold yellow", "bad": "bold red"}
SEVERITY_STYLES = {"fatal": "bold white on red", "major": "bold red", "minor": "yellow"}
QUOTE_STYLE = "bold black on yellow"
CONTEXT_CHARS = 16  # characters of the turn shown on each side of the quote


def text_console(stream: TextIO) -> Console:
    is_tty = bool(getattr(stream, "isatty", lambda: False)())
    return Console(
        file=stream,
        force_terminal=is_tty,
        color_system="auto" if is_tty else None,
        markup=False,
        highlight=False,
        emoji=False,
        # Files and pipes get one line per item, so that grep and diff see whole quotes.
        soft_wrap=not is_tty,
    )


def _header(result: CheckResult) -> Text:
    conv = result.conversation
    score = result.score
    text = Text.assemble(("● ", "cyan"), (conv.id, "bold cyan"))
    details = [f"渠道 {CHANNEL_LABELS[conv.channel]}"]
    if conv.agent_id:
        details.append(f"客服 {conv.agent_id}")
    if conv.started_at:
        details.append(f"开始 {conv.started_at.isoformat(sep=' ')}")
    if conv.source:
        details.append(f"来源 {conv.source}")
    text.append("  " + " · ".join(details), style="dim")
    text.append("  得分 ")
    text.append(f"{format_score(score.total)}/100", style=GRADE_STYLES[grade(score.total, score.fatal)])
    if score.fatal:
        text.append(" ")
        text.append(" 致命 ", style=SEVERITY_STYLES["fatal"])
    return text


def _audio_line(result: CheckResult) -> Text | None:
    """One line about the recording: length, speech recognition, who spoke how much, overlaps, holds."""
    audio = audio_record(result.conversation)
    if audio is None:
        return None
    return Text(
        f"  录音 {clock(audio['duration'])} · {('语音识别 ' + audio['transcriber']) if audio['transcriber'] else '未做语音识别'}"
        f" · 说话占比 客服 {audio['agent_speech_share']:.0%} 客户 {audio['customer_speech_share']:.0%}"
        f" · 重叠 {audio['overlap_count']} 处 {audio['overlap_seconds']:.1f}秒"
        f" · 保持音乐 {audio['hold_count']} 次 {audio['hold_seconds']:.1f}秒",
        style="dim",
    )


def _quote_line(result: CheckResult, finding: Finding) -> Text:
    """The quote highlighted inside a little of its turn, prefixed by the speaker."""
    line = Text("    ")
    before, quote, after = "", finding.quote, ""
    turn = turn_of(result.conversation, finding)
    if turn is not None:
        line.append(f"{ROLE_LABELS[turn.role]}: ", style="dim")
        text = turn.text.replace("\n", " ")
        span = valid_span(finding, text)
        if span is not None:
            start, end = span
            quote = text[start:end]
            before = ("…" if start > CONTEXT_CHARS else "") + text[max(0, start - CONTEXT_CHARS):start]
            after = text[end:end + CONTEXT_CHARS] + ("…" if end + CONTEXT_CHARS < len(text) else "")
    line.append(before + "「")
    line.append(quote, style=QUOTE_STYLE)
    line.append("」" + after)
    return line


def finding_lines(result: CheckResult, finding: Finding, rulebook: Rulebook) -> list[Text]:
    clauses = clause_label(finding.clauses, rulebook)
    head = Text("  ")
    head.append(finding.rule, style="bold magenta")
    head.append(" ")
    head.append(SEVERITY_LABELS[finding.severity], style=SEVERITY_STYLES[finding.severity.value])
    head.append(f" {turn_label(finding.turn)}  ")
    head.append(clauses, style="cyan")
    if finding.evidence not in (Evidence.PHRASE, Evidence.TIMING, Evidence.VOICE):
        head.append(f"  {EVIDENCE_LABELS[finding.evidence]} {finding.confidence:.0%}", style="dim")
    if needs_review(finding, rulebook):
        head.append("  待复核", style="bold yellow")
    lines = [head]
    if finding.quote:
        lines.append(_quote_line(result, finding))
    lines.append(Text(f"    {finding.message}"))
    if finding.suggestion:
        lines.append(Text.assemble(("    建议: ", "bold green"), (finding.suggestion, "green")))
    return lines


def _summary(console: Console, summary: BatchSummary, totals: BatchTotals, rulebook: Rulebook) -> None:
    console.rule(Text("汇总", style="bold"), style="dim")
    line = Text.assemble(
        f"读取 {summary.read} · 已检查 {summary.checked} · ",
        (f"失败 {summary.failed}", "bold red" if summary.failed else ""),
        f" · 问题 {totals.findings} 条 · 有问题的对话 {totals.flagged} 通",
    )
    if totals.fatal:
        line.append(f" · 致命 {totals.fatal} 通", style="bold red")
    if totals.average is not None:
        line.append(f" · 平均得分 {format_score(totals.average)}")
    console.print(line)
    console.print(Text(f"规则手册: {rulebook.name} ({rulebook.origin})", style="dim"))
    if summary.errors:
        console.print(Text("输入错误:", style="bold red"))
        for error in summary.errors:
            console.print(Text(f"  {error}", style="red"))
    top = top_rules(totals, rulebook)
    if top:
        table = Table(title="最常见的问题", title_justify="left", show_edge=False, box=None, pad_edge=False)
        table.add_column("规则", style="magenta")
        table.add_column("条款")
        table.add_column("次数", justify="right")
        for code, clauses, count in top:
            table.add_row(code, clauses, str(count))
        console.print(table)


def _print_result(console: Console, result: CheckResult, rulebook: Rulebook) -> None:
    console.print(_header(result))
    audio = _audio_line(result)
    if audio is not None:
        console.print(audio)
    if result.skipped:
        console.print(Text(f"  {skipped_notice(result.skipped, rulebook)}", style="yellow"))
    if not result.findings:
        console.print(Text("  未发现问题", style="green"))
    for finding in result.findings:
        for line in finding_lines(result, finding, rulebook):
            console.print(line)
    console.print()


@dataclass(frozen=True)
class TextEncoder:
    """Renders one conversation's block as the output's console would print it (its width and
    colours), wherever the conversation was checked."""

    width: int
    color_system: str | None
    terminal: bool

    @classmethod
    def like(cls, console: Console) -> "TextEncoder":
        return cls(console.width, console.color_system, console.is_terminal)

    def __call__(self, result: CheckResult, rulebook: Rulebook) -> str:
        console = _capturing_console(self)
        with console.capture() as captured:
            _print_result(console, result, rulebook)
        return captured.get()


@lru_cache(maxsize=4)
def _capturing_console(encoder: TextEncoder) -> Console:
    return Console(width=encoder.width, color_system=encoder.color_system, force_terminal=encoder.terminal,
                   markup=False, highlight=False, emoji=False, soft_wrap=not encoder.terminal)


class TextWriter:
    """The terminal report on ``stream``: each conversation's block as it comes, then the summary."""

    def __init__(self, stream: TextIO, rulebook: Rulebook):
        self.console = text_console(stream)
        self._stream = stream
        self._rulebook = rulebook

    def add(self, fragment: str) -> None:
        self._stream.write(fragment)

    def close(self, summary: BatchSummary, totals: BatchTotals) -> None:
        _summary(self.console, summary, totals, self._rulebook)


def render_text(results: Sequence[CheckResult], summary: BatchSummary, rulebook: Rulebook, stream: TextIO) -> None:
    writer = TextWriter(stream, rulebook)
    write_all(writer, TextEncoder.like(writer.console), results, summary, rulebook)
