"""The HTML report: self-contained pages (inline CSS, no scripts, no external resources).

A batch of up to ``PAGE_SIZE`` conversations is one page: the summary, the list of conversations
and each conversation with its findings. A bigger batch written to a file is paged as it is
checked: the file is the summary with a list of pages (quick to open however big the batch), and
the folder beside it (``report_pages/`` for ``report.html``) holds the pages of ``PAGE_SIZE``
conversations each, written as soon as each is full.

Every piece of conversation text reaches the template as plain strings and is escaped by Jinja2's
autoescaping; highlighting never builds markup from text, it splits each turn into segments and
the template writes the ``<mark>`` tags around them. A conversation's block is rendered where it
was checked (``encode_html``); its anchors hold ``NUMBER``, which the writer replaces by the
conversation's number in the batch (autoescaping turns every ``<`` of the text into ``&lt;``, so
the placeholder cannot occur in it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Sequence, TextIO

from markupsafe import Markup

from guifan.model import CallAudio, Conversation, Finding, Interval, Turn
from guifan.reporters.common import (
    CHANNEL_LABELS,
    EVIDENCE_LABELS,
    ROLE_LABELS,
    SEVERITY_LABELS,
    SILENCE_MIN_SECONDS,
    UNRECOGNIZED,
    audio_record,
    clause_label,
    clock,
    conversation_record,
    format_score,
    grade,
    rule_class,
    skipped_notice,
    top_rules,
    turn_label,
    turn_of,
    valid_span,
    write_all,
)
from guifan.rulebook import Rulebook
from guifan.scoring import BatchSummary, BatchTotals, CheckResult

SEVERITY_ORDER = ("fatal", "major", "minor")
PAGE_SIZE = 200  # conversations per page of a paged report
NUMBER = "<#>"  # a conversation's number in its block, until the writer knows it


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
    placeholder: str = ""  # shown instead of an empty turn: no speech recognition, or 未识别
    heard: str = ""  # how sure the recognizer was of the turn's words
    doubtful: bool = False  # heard with doubt: findings resting on it are 待复核


def _finding_view(anchor: str, finding: Finding, record: dict[str, Any], rulebook: Rulebook) -> FindingView:
    clauses = clause_label(finding.clauses, rulebook)
    tooltip = f"{finding.rule} · {clauses}\n{finding.message}"
    if finding.suggestion:
        tooltip += f"\n建议: {finding.suggestion}"
    return FindingView(anchor, record, clauses, SEVERITY_LABELS[finding.severity], turn_label(finding.turn), tooltip)


# --- call timeline (inline SVG) -------------------------------------------------------------------

SVG_WIDTH = 1000
PLOT_LEFT, PLOT_RIGHT = 52, 988  # the lanes' labels sit left of PLOT_LEFT
MARKER_ROW = 18  # height of one row of finding markers above the lanes
MAX_MARKER_ROWS = 3
LANE_HEIGHT, LANE_GAP = 22, 8
TICK_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)
MAX_TICKS = 10


def mmss(seconds: float) -> str:
    """'01:05' for 65 seconds (hours only when needed): the timeline's tick labels."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def tick_step(duration: float) -> int:
    """The smallest round step that puts at most MAX_TICKS ticks on the axis."""
    step = next((s for s in TICK_STEPS if duration / s <= MAX_TICKS), None)
    return step if step is not None else 3600 * math.ceil(duration / 3600 / MAX_TICKS)


def hatch(x: float, y: float, width: float, height: float, step: float = 7) -> str:
    """An SVG path of 45° lines filling a rectangle (a pattern fill would need ``url(#…)``)."""
    parts = []
    k = -height + step / 2
    while k < width:
        # The line through (x + k + t, y + height - t); keep the part with x <= … <= x + width.
        t0, t1 = max(0.0, -k), min(height, width - k)
        if t1 > t0:
            parts.append(f"M{x + k + t0:.1f},{y + height - t0:.1f}L{x + k + t1:.1f},{y + height - t1:.1f}")
        k += step
    return "".join(parts)


def _span_title(label: str, interval: Interval) -> str:
    return f"{label} {clock(interval.start)}–{clock(interval.end)}({interval.seconds:.1f}秒)"


def _is_audio_rule(code: str) -> bool:
    """Timing and voice rules: what the timeline can place in time."""
    cls = rule_class(code)
    return cls is not None and (cls.needs_timing or not cls.needs_text)


def _markers(
    conv: Conversation, views: Sequence[FindingView], findings: Sequence[Finding], x: Callable[[float], float]
) -> list[dict[str, Any]]:
    """One marker per turn with findings of timing and voice rules, at the turn's start.

    A marker is labelled with its first rule code ("VOC001+2" when the turn has three); markers
    that would collide move down a row, and beyond MAX_MARKER_ROWS they go unlabelled into the
    row with the most room. The tooltip lists every finding.
    """
    by_turn: dict[int, list[tuple[Finding, FindingView]]] = {}
    for finding, view in zip(findings, views):
        turn = turn_of(conv, finding)
        if turn is not None and turn.start is not None and _is_audio_rule(finding.rule):
            by_turn.setdefault(finding.turn, []).append((finding, view))
    order = sorted(by_turn, key=lambda index: conv.turns[index].start)
    markers: list[dict[str, Any]] = []
    row_ends: list[float] = []
    for index in order:
        items = by_turn[index]
        start = conv.turns[index].start
        left = x(start)
        first = items[0][0].rule
        label = first if len(items) == 1 else f"{first}+{len(items) - 1}"
        width = 8 + 7 * len(label)
        flip = left + width > SVG_WIDTH  # near the right edge the label goes left of the marker
        span = (left - width - 4, left + 6) if flip else (left - 6, left + width + 4)
        row = next((r for r, end in enumerate(row_ends) if end < span[0]), len(row_ends))
        if row == MAX_MARKER_ROWS:
            row = min(range(len(row_ends)), key=lambda r: row_ends[r])
            label = ""
            span = (left - 6, left + 6)
        if row == len(row_ends):
            row_ends.append(span[1])
        row_ends[row] = max(row_ends[row], span[1])
        worst = min((f.severity.value for f, _ in items), key=SEVERITY_ORDER.index)
        title = "\n".join(f"{f.rule} {v.clauses}:{f.message}" for f, v in items)
        markers.append({
            "x": left, "y": 4 + row * MARKER_ROW + 13, "row": row, "label": label, "flip": flip,
            "severity": worst, "anchor": items[0][1].anchor, "lane": conv.turns[index].role.value,
            "title": f"{turn_label(index)} {clock(start)}\n{title}",
        })
    return markers


def _timeline(
    conv: Conversation, audio: CallAudio, views: Sequence[FindingView], findings: Sequence[Finding]
) -> dict[str, Any]:
    """Everything the template needs to draw one call's timeline, in SVG user units."""
    duration = max(audio.duration, 1e-6)
    width = PLOT_RIGHT - PLOT_LEFT

    def x(t: float) -> float:
        return round(PLOT_LEFT + min(max(t, 0.0), duration) / duration * width, 1)

    def box(interval: Interval, label: str) -> dict[str, Any]:
        left, right = x(interval.start), x(interval.end)
        return {"x": left, "w": round(max(right - left, 0.8), 1), "mid": round((left + right) / 2, 1),
                "title": _span_title(label, interval)}

    markers = _markers(conv, views, findings, x)
    top = 4 + (max((m["row"] for m in markers), default=-1) + 1) * MARKER_ROW
    agent_y = top + 4
    customer_y = agent_y + LANE_HEIGHT + LANE_GAP
    band_y, band_h = agent_y - 3, 2 * LANE_HEIGHT + LANE_GAP + 6
    axis_y = customer_y + LANE_HEIGHT + 8
    step = tick_step(duration)
    ticks = [
        {"x": x(t), "label": mmss(t), "anchor": "end" if x(t) > PLOT_RIGHT - 20 else "middle"}
        for t in range(0, int(duration) + 1, step)
    ]
    holds = [box(i, "保持音乐") for i in audio.holds]
    for hold in holds:
        hold["label"] = hold["w"] >= 60
        hold["hatch"] = hatch(hold["x"], band_y, hold["w"], band_h)
    rings = [box(i, "回铃") for i in audio.rings]
    return {
        "width": SVG_WIDTH,
        "height": axis_y + 22,
        "plot_left": PLOT_LEFT,
        "plot_right": PLOT_RIGHT,
        "agent_y": agent_y,
        "customer_y": customer_y,
        "lane_h": LANE_HEIGHT,
        "lane_mid": (agent_y + customer_y + LANE_HEIGHT) / 2,  # between the lanes
        "band_y": band_y,
        "band_h": band_h,
        "axis_y": axis_y,
        "ticks": ticks,
        "agent": [box(i, "客服说话") for i in audio.agent_speech],
        "customer": [box(i, "客户说话") for i in audio.customer_speech],
        "overlaps": [box(i, "双方同时说话") for i in audio.overlaps()],
        "silences": [box(i, "静默") for i in audio.silences(SILENCE_MIN_SECONDS)],
        "holds": holds,
        "rings": rings,
        "ring_label": rings[0]["x"] if rings else None,
        "markers": markers,
    }


def _off(value: float | None, low: float | None, high: float | None) -> bool:
    return value is not None and ((low is not None and value < low) or (high is not None and value > high))


def _signed(value: float | None) -> str:
    return "—" if value is None else f"{value:+.1f}"


def _number(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _voice_view(record: dict[str, Any], conv: Conversation, rulebook: Rulebook) -> dict[str, Any]:
    """The voice metrics table: call-level figures and one row per agent turn, with the values
    outside the rulebook's voice limits marked (as rules VOC001–VOC003 judge them)."""
    limits = rulebook.voice
    turn_rate, call_rate, level = limits.speech_rate_turn, limits.speech_rate_call, limits.level_dbfs

    def cell(text: str, off: bool = False, note: str = "") -> dict[str, Any]:
        return {"text": text, "off": off, "note": note}

    def seconds(value: float) -> str:
        return f"{value:.1f}秒"

    def share(value: float) -> str:
        return f"{value * 100:.0f}%"

    call = [
        ("通话时长", cell(f"{clock(record['duration'])}({record['duration']:.1f}秒)")),
        ("采样率", cell(f"{record['sample_rate']} Hz")),
        ("语音识别", cell(record["transcriber"] or "未做语音识别")),
        ("客服说话", cell(f"{seconds(record['agent_speech_seconds'])}(占 {share(record['agent_speech_share'])})")),
        ("客户说话", cell(f"{seconds(record['customer_speech_seconds'])}(占 {share(record['customer_speech_share'])})")),
        ("双方重叠", cell(f"{record['overlap_count']} 处,共 {seconds(record['overlap_seconds'])}")),
        ("静默(≥1秒)", cell(f"共 {seconds(record['silence_seconds'])},最长 {seconds(record['longest_silence_seconds'])}")),
        ("保持音乐", cell(f"{record['hold_count']} 次,共 {seconds(record['hold_seconds'])}")),
        ("回铃", cell(f"{record['ring_count']} 声")),
        ("客服首次说话", cell("—" if record["answer_seconds"] is None else f"第 {record['answer_seconds']:.1f} 秒")),
        ("客服语速", cell(
            "—" if record["agent_speech_rate"] is None else f"{record['agent_speech_rate']:.0f} 字/分",
            _off(record["agent_speech_rate"], call_rate.min, call_rate.max),
            f"整通通话应在 {call_rate.min:g}–{call_rate.max:g} 字/分",
        )),
        ("客服音量(中位数)", cell(
            "—" if record["agent_level_dbfs"] is None else f"{record['agent_level_dbfs']:.1f} dBFS",
            _off(record["agent_level_dbfs"], level.min, level.max),
            f"应在 {level.min:g} 到 {level.max:g} dBFS 之间",
        )),
    ]
    rows = []
    for item in record["agent_turns"]:
        turn = conv.turns[item["turn"]]
        rated = item["speech_seconds"] >= limits.rate_min_seconds
        pitched = item["speech_seconds"] >= limits.pitch_min_seconds
        rows.append({
            "label": turn_label(item["turn"]),
            "time": f"{clock(turn.start)}–{clock(turn.end)}" if turn.timed else "",
            "rate": cell(
                _number(item["speech_rate"]),
                rated and _off(item["speech_rate"], turn_rate.min, turn_rate.max),
                "" if rated or item["speech_rate"] is None else f"说话不足 {limits.rate_min_seconds:g} 秒,不单独评价",
            ),
            "level": cell(_number(item["level_dbfs"], 1), _off(item["level_dbfs"], level.min, level.max)),
            "pitch": cell(
                _signed(item["final_pitch_semitones"]),
                pitched and _off(item["final_pitch_semitones"], -limits.final_drop_semitones, None),
            ),
        })
    return {
        "call": call,
        "turns": rows,
        "rate_range": f"{turn_rate.min:g}–{turn_rate.max:g}",
        "level_range": f"{level.min:g} 至 {level.max:g}",
        "pitch_limit": f"≥ {-limits.final_drop_semitones:g}",
    }


def _placeholder(conv: Conversation, turn: Turn) -> str:
    if turn.unrecognized:
        spoken = f" · 说话 {turn.voice.speech_seconds:.1f} 秒" if turn.voice is not None else ""
        return f"({UNRECOGNIZED}{spoken},请听录音)"
    if turn.text or turn.voice is None or conv.audio is None or conv.audio.transcribed:
        return ""
    return f"(无文字 · 说话 {turn.voice.speech_seconds:.1f} 秒)"


def heard_label(record: dict[str, Any]) -> str:
    """'识别 0.87' / '识别存疑 0.42' / '未识别' for a turn record of recognized speech, else ''."""
    asr = record.get("asr")
    if asr is None:
        return ""
    if record["unrecognized"]:
        return UNRECOGNIZED
    score = f" {asr['confidence']:.2f}" if "confidence" in asr else ""
    return f"识别{'存疑' if asr['doubtful'] else ''}{score}"


def audio_views(
    conv: Conversation, findings: Sequence[Finding], anchors: Sequence[str], rulebook: Rulebook,
    record: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What ``_audio.html.j2``'s ``audio_section(timeline, voice)`` draws for a recording (both None
    for a transcript): any page can show it, the markers of ``findings`` linking to ``#anchors[i]``.
    ``record``: the conversation's audio record when the caller has it already."""
    if conv.audio is None:
        return {"timeline": None, "voice": None}
    views = [_finding_view(anchor, finding, {}, rulebook) for anchor, finding in zip(anchors, findings)]
    return {
        "timeline": _timeline(conv, conv.audio, views, findings),
        "voice": _voice_view(record or audio_record(conv), conv, rulebook),
    }


def _conversation_view(result: CheckResult, rulebook: Rulebook) -> dict[str, Any]:
    conv = result.conversation
    record = conversation_record(result, rulebook)
    views = [
        _finding_view(Markup(f"c{NUMBER}-f{k}"), f, rec, rulebook)
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
                placeholder=_placeholder(conv, turn),
                heard=heard_label(record["turns"][index]),
                doubtful=record["turns"][index].get("asr", {}).get("doubtful", False),
            )
        )
    return {
        "anchor": Markup(f"c{NUMBER}"),
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
        **audio_views(conv, result.findings, [v.anchor for v in views], rulebook, record.get("audio")),
        # Rules not run on a recording without speech recognition, and the clauses they check.
        "skipped": (
            skipped_notice(result.skipped, rulebook)
            if result.skipped else None
        ),
    }


@lru_cache(maxsize=1)
def _environment():
    from jinja2 import Environment, PackageLoader, StrictUndefined  # lazy: only this format needs Jinja2

    env = Environment(
        loader=PackageLoader("guifan.reporters", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["score"] = format_score
    env.globals.update(
        severity_labels={s.value: label for s, label in SEVERITY_LABELS.items()}, evidence_labels=EVIDENCE_LABELS,
    )
    return env


@dataclass(frozen=True, slots=True)
class HtmlPiece:
    """One conversation of the HTML report: its row in the list of conversations and its block."""

    row: dict[str, Any]
    block: str


def encode_html(result: CheckResult, rulebook: Rulebook) -> HtmlPiece:
    conv = result.conversation
    view = _conversation_view(result, rulebook)
    row = {
        "id": conv.id,
        "channel_label": view["channel_label"],
        "agent_id": conv.agent_id,
        "started_at": view["started_at"],
        "grade": view["grade"],
        "total": result.score.total,
        "fatal": result.score.fatal,
        "findings": len(result.findings),
        "severities": {s: sum(1 for f in result.findings if f.severity.value == s) for s in SEVERITY_ORDER},
    }
    return HtmlPiece(row, _environment().get_template("_conversation.html.j2").render(conv=view))


class HtmlWriter:
    """The HTML report as the conversations come: one page, or, past ``PAGE_SIZE`` conversations
    when ``output`` (the file ``stream`` writes) is given, pages written as each fills into the
    folder beside it and the summary with the list of pages at ``close``. Without ``output`` every
    conversation is held until the page is written."""

    def __init__(self, stream: TextIO, rulebook: Rulebook, output: Path | None = None):
        self._stream = stream
        self._rulebook = rulebook
        self._pages = output.with_name(f"{output.stem}_pages") if output is not None else None
        self._index = f"../{output.name}" if output is not None else ""
        self._count = 0
        self._rows: list[dict[str, Any]] = []  # the conversations of the page being filled
        self._blocks: list[Markup] = []
        self._written: list[dict[str, Any]] = []  # a line per page written

    def add(self, fragment: HtmlPiece) -> None:
        if self._pages is not None and len(self._rows) == PAGE_SIZE:
            self._write_page(last=False)
        self._count += 1
        number = str(self._count)
        self._rows.append({**fragment.row, "number": number})
        self._blocks.append(Markup(fragment.block.replace(NUMBER, number)))

    def _write_page(self, last: bool) -> None:
        number = len(self._written) + 1
        first, final = int(self._rows[0]["number"]), int(self._rows[-1]["number"])
        page = {
            "number": number, "first": first, "last": final, "size": PAGE_SIZE, "index": self._index,
            "previous": f"{number - 1:05d}.html" if number > 1 else None,
            "next": None if last else f"{number + 1:05d}.html",
        }
        self._pages.mkdir(parents=True, exist_ok=True)
        with open(self._pages / f"{number:05d}.html", "w", encoding="utf-8", newline="\n") as out:
            out.write(self._render(page, None, None, None, self._rows, self._blocks))
        lowest = min(self._rows, key=lambda r: r["total"])
        self._written.append({
            "number": number, "href": f"{self._pages.name}/{number:05d}.html", "first": first, "last": final,
            "first_id": self._rows[0]["id"], "last_id": self._rows[-1]["id"],
            "findings": sum(r["findings"] for r in self._rows), "fatal": sum(r["fatal"] for r in self._rows),
            "lowest": lowest["total"], "grade": lowest["grade"],
        })
        self._rows, self._blocks = [], []

    def _render(self, page: dict[str, Any] | None, pages: list[dict[str, Any]] | None,
                summary: BatchSummary | None, totals: BatchTotals | None,
                conversations: list[dict[str, Any]] | None, details: list[Markup] | None) -> str:
        """A page of conversations (``page``), the summary with the list of pages (``pages``), or
        the summary with every conversation (a batch of one page)."""
        return _environment().get_template("report.html.j2").render(
            rulebook=self._rulebook, page=page, pages=pages, summary=summary, totals=totals,
            top_rules=top_rules(totals, self._rulebook) if totals is not None else None,
            conversations=conversations, details=details,
        )

    def close(self, summary: BatchSummary, totals: BatchTotals) -> None:
        if self._written:
            self._write_page(last=True)
            self._stream.write(self._render(None, self._written, summary, totals, None, None))
        else:
            self._stream.write(self._render(None, None, summary, totals, self._rows, self._blocks))


def render_html(results: Sequence[CheckResult], summary: BatchSummary, rulebook: Rulebook, stream: TextIO) -> None:
    write_all(HtmlWriter(stream, rulebook), encode_html, results, summary, rulebook)
