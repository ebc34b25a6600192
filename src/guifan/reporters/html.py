"""The HTML report: one self-contained page (inline CSS, no scripts, no external resources).

Every piece of conversation text reaches the template as plain strings and is escaped by Jinja2's
autoescaping; highlighting never builds markup from text, it splits each turn into segments and
the template writes the ``<mark>`` tags around them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Sequence, TextIO

from guifan.model import Finding
from guifan.reporters.common import (
    CHANNEL_LABELS,
    ROLE_LABELS,
    SEVERITY_LABELS,
    batch_stats,
    clause_label,
    clock,
    conversation_record,
    format_score,
    grade,
    top_rules,
    turn_label,
    turn_of,
    valid_span,
)
from guifan.rulebook import Rulebook
from guifan.scoring import BatchSummary, CheckResult

SEVERITY_ORDER = ("fatal", "major", "minor")


@dataclass(frozen=True, slots=True)
class Segment:
    """One piece of a turn: text, or the opening/closing of a finding's mark."""

    kind: str  # "text" | "open" | "close"
    text: str = ""
    mark: Any = None  # the finding view, for "open"
    last: bool = False  # for "open": this fragment ends the finding's quote


def highlight(text: str, marks: Sequence[tuple[int, int, Any]]) -> list[Segment]:
    """Split ``text`` into segments with properly nested marks at the given ``[start, end)`` spans.

    Overlapping spans that cross each other are split into several fragments, so the tags always
    nest; the characters inside a finding's fragments, joined, are exactly its span.
    """
    # Outer marks first: earlier start, then longer span.
    ordered = sorted(range(len(marks)), key=lambda i: (marks[i][0], -marks[i][1], i))
    bounds = sorted({0, len(text), *(m[0] for m in marks), *(m[1] for m in marks)})
    segments: list[Segment] = []
    stack: list[int] = []
    last_open: dict[int, int] = {}  # mark -> index of its latest opening segment
    for a, b in zip(bounds, bounds[1:]):
        wanted = [i for i in ordered if marks[i][0] <= a and b <= marks[i][1]]
        keep = 0
        while keep < min(len(stack), len(wanted)) and stack[keep] == wanted[keep]:
            keep += 1
        while len(stack) > keep:
            stack.pop()
            segments.append(Segment("close"))
        for i in wanted[keep:]:
            stack.append(i)
            last_open[i] = len(segments)
            segments.append(Segment("open", mark=marks[i][2]))
        segments.append(Segment("text", text[a:b]))
    segments.extend(Segment("close") for _ in stack)
    # The fragment that ends each mark carries the rule code badge.
    for i, n in last_open.items():
        segments[n] = replace(segments[n], last=True)
    return segments


@dataclass
class FindingView:
    anchor: str
    record: dict[str, Any]
    clauses: str  # "S-F6 推卸语、…"
    severity_label: str
    turn_label: str
    tooltip: str


@dataclass
class TurnView:
    number: int
    role: str
    role_label: str
    time: str
    segments: list[Segment]
    findings: list[FindingView] = field(default_factory=list)


def _finding_view(anchor: str, finding: Finding, record: dict[str, Any], rulebook: Rulebook) -> FindingView:
    clauses = clause_label(finding.clauses, rulebook)
    tooltip = f"{finding.rule} · {clauses}\n{finding.message}"
    if finding.suggestion:
        tooltip += f"\n建议: {finding.suggestion}"
    return FindingView(anchor, record, clauses, SEVERITY_LABELS[finding.severity], turn_label(finding.turn), tooltip)


def _conversation_view(number: int, result: CheckResult, rulebook: Rulebook) -> dict[str, Any]:
    conv = result.conversation
    record = conversation_record(result, rulebook)
    views = [
        _finding_view(f"c{number}-f{k}", f, rec, rulebook)
        for k, (f, rec) in enumerate(zip(result.findings, record["findings"]), 1)
    ]
    loose: list[FindingView] = []  # findings about the whole conversation, or at a turn it lacks
    by_turn: dict[int, list[tuple[Finding, FindingView]]] = {}
    for finding, view in zip(result.findings, views):
        if turn_of(conv, finding) is not None:
            by_turn.setdefault(finding.turn, []).append((finding, view))
        else:
            loose.append(view)
    turns = []
    for index, turn in enumerate(conv.turns):
        attached = by_turn.get(index, [])
        marks = [(*span, view) for finding, view in attached if (span := valid_span(finding, turn.text))]
        turns.append(
            TurnView(
                number=index + 1,
                role=turn.role.value,
                role_label=ROLE_LABELS[turn.role],
                time=f"{clock(turn.start)}–{clock(turn.end)}" if turn.timed else "",
                segments=highlight(turn.text, marks),
                findings=[view for _, view in attached],
            )
        )
    return {
        "number": number,
        "anchor": f"c{number}",
        "record": record,
        "channel_label": CHANNEL_LABELS[conv.channel],
        "started_at": conv.started_at.isoformat(sep=" ") if conv.started_at else "",
        "grade": grade(result.score.total, result.score.fatal),
        "categories": [
            {**c, "percent": round(100 * c["score"] / c["weight"]) if c["weight"] else 100,
             "grade": grade(c["score"], full=c["weight"])}
            for c in record["score"]["categories"]
        ],
        "findings": views,
        "loose": loose,
        "turns": turns,
        "severities": {s: sum(1 for f in result.findings if f.severity.value == s) for s in SEVERITY_ORDER},
    }


def render_html(results: Sequence[CheckResult], summary: BatchSummary, rulebook: Rulebook, stream: TextIO) -> None:
    from jinja2 import Environment, PackageLoader, StrictUndefined  # lazy: only this format needs Jinja2

    env = Environment(
        loader=PackageLoader("guifan.reporters", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["score"] = format_score
    template = env.get_template("report.html.j2")
    stream.write(
        template.render(
            conversations=[_conversation_view(n, r, rulebook) for n, r in enumerate(results, 1)],
            summary=summary,
            stats=batch_stats(results),
            top_rules=top_rules(results, rulebook),
            rulebook=rulebook,
            severity_labels={s.value: label for s, label in SEVERITY_LABELS.items()},
        )
    )
