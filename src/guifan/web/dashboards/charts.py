"""Server-made SVG charts (no script, no CDN): value axes with round ticks, labelled categories
(thinned when crowded), Chinese axis titles and a <title> on every mark for its exact value."""

from __future__ import annotations

import math
from html import escape
from typing import Sequence

from markupsafe import Markup

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 64, 40, 16, 52  # room for the last category label
MAX_LABELS = 9  # category labels shown at most (every k-th otherwise)
COLOURS = ("#1f3a5f", "#c0392b", "#27865f", "#d68910", "#7d3c98", "#5d6d7e")


def nice_ticks(low: float, high: float, count: int = 5, whole: bool = False) -> list[float]:
    """Round tick values (steps of 1, 2 or 5 × 10ⁿ) covering [low, high]; ``whole``: the values are
    counts, so no tick falls between two whole numbers (no "1.5 通会话")."""
    if high <= low:
        high = low + 1
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    if whole:
        step = max(step, 1)
    first = math.floor(low / step) * step
    return [round(first + i * step, 10) for i in range(int(math.ceil((high - first) / step - 1e-9)) + 1)]


def number(value: float) -> str:
    """A tick or value as people write it: 40, 2.5, 0.25."""
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.3g}"


def line_chart(labels: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]], x_title: str,
               y_title: str, low: float | None = None, high: float | None = None) -> Markup:
    """One line per series over the categories; a missing value (None) breaks the line."""
    values = [v for _, vs in series for v in vs if v is not None]
    frame = _Frame(labels, values, x_title, y_title, low, high, bands=False)
    parts = frame.axes()
    for n, (name, vs) in enumerate(series):
        colour = COLOURS[n % len(COLOURS)]
        run: list[str] = []
        for i, v in enumerate([*vs, None]):
            if v is None:
                if len(run) > 1:
                    parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{" ".join(run)}"/>')
                run = []
                continue
            x, y = frame.x(i), frame.y(v)
            run.append(f"{x:.1f},{y:.1f}")
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}">'
                         f"<title>{escape(name)} · {escape(labels[i])}: {number(v)}</title></circle>")
    if len(series) > 1:
        x = LEFT + 8
        for n, (name, _) in enumerate(series):
            parts.append(f'<text class="legend" x="{x}" y="{TOP + 10}" font-size="11" fill="{COLOURS[n % len(COLOURS)]}">'
                         f"■ {escape(name)}</text>")
            x += 24 + 11 * sum(1 if ord(ch) > 0x2E80 else 0.6 for ch in name)  # CJK glyphs are square
    return frame.svg(parts)


def bar_chart(labels: Sequence[str], values: Sequence[float | None], x_title: str, y_title: str) -> Markup:
    """A bar per category, from zero."""
    frame = _Frame(labels, [v for v in values if v is not None], x_title, y_title, 0, None, bands=True)
    parts = frame.axes()
    width = frame.band * 0.7
    for i, v in enumerate(values):
        if v is None:
            continue
        x, y = frame.x(i) - width / 2, frame.y(v)
        parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{frame.y(0) - y:.1f}" fill="{COLOURS[0]}">'
                     f"<title>{escape(labels[i])}: {number(v)}</title></rect>")
    return frame.svg(parts)


class _Frame:
    """The plotting area: category positions along x, a value scale with round ticks along y."""

    def __init__(self, labels: Sequence[str], values: Sequence[float], x_title: str, y_title: str,
                 low: float | None, high: float | None, bands: bool):
        self.labels, self.x_title, self.y_title = labels, x_title, y_title
        lo = low if low is not None else min([0.0, *values])
        hi = high if high is not None else max([lo + 1, *values])
        self.ticks = nice_ticks(lo, hi, whole=all(float(v).is_integer() for v in (lo, hi, *values)))
        self.lo, self.hi = self.ticks[0], self.ticks[-1]
        self.plot_w, self.plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
        n = max(1, len(labels))
        self.band = self.plot_w / n if bands else self.plot_w / max(1, n - 1)
        self.offset = self.band / 2 if bands else 0.0

    def x(self, i: int) -> float:
        return LEFT + self.offset + i * self.band if len(self.labels) > 1 or self.offset else LEFT + self.plot_w / 2

    def y(self, v: float) -> float:
        return TOP + self.plot_h * (1 - (v - self.lo) / (self.hi - self.lo))

    def axes(self) -> list[str]:
        bottom = TOP + self.plot_h
        parts = [f'<line class="axis" x1="{LEFT}" y1="{bottom}" x2="{LEFT + self.plot_w}" y2="{bottom}" stroke="#777"/>',
                 f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{bottom}" stroke="#777"/>']
        for t in self.ticks:
            y = self.y(t)
            parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + self.plot_w}" y2="{y:.1f}" stroke="#e5e5e5"/>'
                         f'<text class="tick y" x="{LEFT - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end">'
                         f"{number(t)}</text>")
        every = max(1, math.ceil(len(self.labels) / MAX_LABELS))
        for i, label in enumerate(self.labels):
            if i % every == 0:
                parts.append(f'<text class="tick x" x="{self.x(i):.1f}" y="{bottom + 16}" font-size="11" '
                             f'text-anchor="middle">{escape(label)}</text>')
        parts.append(f'<text class="axis-title x" x="{LEFT + self.plot_w / 2:.0f}" y="{HEIGHT - 8}" font-size="12" '
                     f'text-anchor="middle">{escape(self.x_title)}</text>')
        parts.append(f'<text class="axis-title y" x="14" y="{TOP + self.plot_h / 2:.0f}" font-size="12" '
                     f'text-anchor="middle" transform="rotate(-90 14 {TOP + self.plot_h / 2:.0f})">{escape(self.y_title)}</text>')
        return parts

    def svg(self, parts: list[str]) -> Markup:
        title = f"{self.y_title} / {self.x_title}"
        return Markup(f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {WIDTH} {HEIGHT}" '
                      f'width="{WIDTH}" height="{HEIGHT}" xmlns="http://www.w3.org/2000/svg">{"".join(parts)}</svg>')
