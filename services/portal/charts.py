"""Charts drawn on the server as inline SVG: plain numbers in, markup out, no JavaScript.

`bar_chart` (bars side by side per category, one colour a series) and `line_chart` (one line a
series, a marker shape of its own) take category labels and `Series` of numbers (None: no figure).
Every chart is `role="img"`, named by its own `<title>` and described by its `<desc>`
(`aria-labelledby`); the page beside it gives the figures as a table, the chart's text alternative.
Every label is escaped. The SVG scales to its container (`viewBox`, width 100%), so it reads at
320 px wide and at 200% zoom. Colours and lines are SVG attributes, not inline styles (the portal's
Content-Security-Policy allows only its own style sheet).
"""
from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

# GOV.UK Frontend's blue, red, green, purple, black and pink: each at least 4.5:1 on white
PALETTE = ("#1d70b8", "#d4351c", "#00703c", "#4c2c92", "#0b0c0c", "#912b88")
TEXT, GRID, AXIS = "#0b0c0c", "#b1b4b6", "#505a5f"
FONT = 'font-family="system-ui, -apple-system, \'Segoe UI\', Roboto, Arial, sans-serif"'
CHAR_WIDTH = 0.6          # a character's width as a share of the font size (for laying out legends)
MIN_LABELLED_BAR = 14     # a bar narrower than this (px) has no figure written above it (nor has a 0)


@dataclass(frozen=True)
class Series:
    name: str
    values: tuple[float | None, ...]

    def __post_init__(self):
        object.__setattr__(self, "values", tuple(self.values))


@dataclass(frozen=True)
class Size:
    width: int = 640
    height: int = 320
    font: int = 13


def bar_chart(categories: Sequence[str], series: Sequence[Series], *, chart_id: str, title: str,
              description: str, size: Size = Size(), y_max: float | None = None) -> Markup:
    """Bars per category, one per series, from a zero baseline (negative values hang below it)."""
    _check(categories, series)
    values = [v for s in series for v in s.values if v is not None]
    low, high, ticks = _scale(min([0, *values]), max([0, *values]) if y_max is None else y_max)
    frame = _Frame(size, low, high, legend=_legend_rows(series, size) if len(series) > 1 else [])
    parts = frame.grid(ticks) + frame.axes()
    band = frame.plot_width / max(1, len(categories))
    bar = band * 0.8 / max(1, len(series))
    for c, label in enumerate(categories):
        left = frame.left + band * c + band * 0.1
        for s, one in enumerate(series):
            value = one.values[c]
            if value is None:
                continue
            x, top, bottom = left + bar * s, frame.y(max(value, 0)), frame.y(min(value, 0))
            parts.append(f'<rect x="{x:.1f}" y="{top:.1f}" width="{bar:.1f}" height="{max(bottom - top, 0):.1f}" '
                         f'fill="{_colour(s)}"/>')
            if bar >= MIN_LABELLED_BAR and value != 0:
                ty = top - 4 if value >= 0 else bottom + size.font
                parts.append(_text(x + bar / 2, ty, number(value), size.font - 2, "middle"))
        if c % frame.label_every(categories) == 0:
            parts.append(frame.category_label(frame.left + band * c + band / 2, label))
    parts += frame.legend(lambda s, x, y, h: f'<rect x="{x:.1f}" y="{y:.1f}" width="{h}" height="{h}" '
                                             f'fill="{_colour(s)}"/>')
    return _svg(chart_id, title, description, size, parts)


def line_chart(categories: Sequence[str], series: Sequence[Series], *, chart_id: str, title: str,
               description: str, size: Size = Size(), y_range: tuple[float, float] | None = None) -> Markup:
    """A line per series across the categories (evenly spaced, in order), each point marked and
    labelled with its figure; a None leaves a gap. `y_range` fixes the scale (e.g. ratings 1 to 9)."""
    _check(categories, series)
    values = [v for s in series for v in s.values if v is not None]
    if y_range:
        low, high, ticks = _fixed_scale(*y_range)
    else:
        low, high, ticks = _scale(min([0, *values]), max([0, *values]))
    frame = _Frame(size, low, high, legend=_legend_rows(series, size) if len(series) > 1 else [])
    parts = frame.grid(ticks) + frame.axes()
    step = frame.plot_width / max(1, len(categories))
    xs = [frame.left + step * c + step / 2 for c in range(len(categories))]
    for s, one in enumerate(series):
        for run in _runs(one.values):
            if len(run) > 1:
                points = " ".join(f"{xs[c]:.1f},{frame.y(v):.1f}" for c, v in run)
                parts.append(f'<polyline points="{points}" fill="none" stroke="{_colour(s)}" stroke-width="2.5"/>')
        for c, value in enumerate(one.values):
            if value is not None:
                parts.append(_marker(s, xs[c], frame.y(value), 4.5))
                parts.append(_text(xs[c], frame.y(value) - 8, number(value), size.font - 2, "middle"))
    for c, label in enumerate(categories):
        if c % frame.label_every(categories) == 0:
            parts.append(frame.category_label(xs[c], label))
    parts += frame.legend(lambda s, x, y, h: _marker(s, x + h / 2, y + h / 2, h / 2))
    return _svg(chart_id, title, description, size, parts)


# --- layout ----------------------------------------------------------------------------------------

class _Frame:
    """Where the plot sits in the picture: the legend on top, the figures' axis on the left, the
    categories' labels (up to two lines each) below."""

    def __init__(self, size: Size, low: float, high: float, legend: list[list[tuple[int, str, float]]]):
        self.size, self.low, self.high, self.legend_rows = size, low, high, legend
        line = size.font + 4
        self.left = size.font * 3.2
        self.right = size.width - 8
        self.top = 8 + line * len(legend) + size.font  # room for a figure above the tallest bar
        self.bottom = size.height - 2 * line - 4
        self.plot_width = self.right - self.left

    def y(self, value: float) -> float:
        share = 0 if self.high == self.low else (value - self.low) / (self.high - self.low)
        return self.bottom - share * (self.bottom - self.top)

    def grid(self, ticks: list[float]) -> list[str]:
        parts = []
        for tick in ticks:
            y = self.y(tick)
            parts.append(f'<line x1="{self.left:.1f}" y1="{y:.1f}" x2="{self.right:.1f}" y2="{y:.1f}" '
                         f'stroke="{GRID}" stroke-width="1"/>')
            parts.append(_text(self.left - 6, y + self.size.font / 3, number(tick), self.size.font - 1, "end"))
        return parts

    def axes(self) -> list[str]:
        zero = self.y(max(self.low, 0))
        return [f'<line x1="{self.left:.1f}" y1="{self.top:.1f}" x2="{self.left:.1f}" y2="{self.bottom:.1f}" '
                f'stroke="{AXIS}" stroke-width="1"/>',
                f'<line x1="{self.left:.1f}" y1="{zero:.1f}" x2="{self.right:.1f}" y2="{zero:.1f}" '
                f'stroke="{AXIS}" stroke-width="1"/>']

    def label_every(self, categories: Sequence[str]) -> int:
        """Label every category, or every second, third ... when they would overlap."""
        widest = max((len(line) for label in categories for line in str(label).split("\n")), default=0)
        room = self.plot_width / max(1, len(categories))
        return max(1, math.ceil((widest * (self.size.font - 1) * CHAR_WIDTH + 6) / room))

    def category_label(self, x: float, label: str) -> str:
        lines = str(label).split("\n")[:2]
        y = self.bottom + self.size.font + 6
        spans = "".join(f'<tspan x="{x:.1f}" dy="{0 if i == 0 else self.size.font + 2}">{escape(line)}</tspan>'
                        for i, line in enumerate(lines))
        return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{self.size.font - 1}" text-anchor="middle" '
                f'fill="{TEXT}" {FONT}>{spans}</text>')

    def legend(self, key) -> list[str]:
        parts, box = [], self.size.font - 2
        for row_number, row in enumerate(self.legend_rows):
            y = 6 + row_number * (self.size.font + 4)
            for s, name, x in row:
                parts.append(key(s, x, y, box))
                parts.append(_text(x + box + 4, y + box - 1, name, self.size.font, "start"))
        return parts


def _legend_rows(series: Sequence[Series], size: Size) -> list[list[tuple[int, str, float]]]:
    """Each series' key and name, left to right, wrapping onto a new row when the width is used."""
    rows: list[list[tuple[int, str, float]]] = [[]]
    x = size.font * 3.2
    for s, one in enumerate(series):
        width = size.font + 4 + len(one.name) * size.font * CHAR_WIDTH + 16
        if rows[-1] and x + width > size.width:
            rows.append([])
            x = size.font * 3.2
        rows[-1].append((s, one.name, x))
        x += width
    return rows


def _scale(low: float, high: float, steps: int = 5) -> tuple[float, float, list[float]]:
    """A 'nice' scale (steps of 1, 2 or 5 times a power of ten) from below `low` to above `high`."""
    if high == low:
        high = low + 1
    step = _nice_step(high - low, steps)
    bottom, top = math.floor(low / step) * step, math.ceil(high / step) * step
    return bottom, top, _ticks(bottom, top, step)


def _fixed_scale(low: float, high: float) -> tuple[float, float, list[float]]:
    """Exactly `low` to `high` (a rating's own range), ticks from `low` up."""
    return low, high, _ticks(low, high, _nice_step(high - low, 4))


def _nice_step(span: float, steps: int) -> float:
    raw = span / steps
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    return 1 if step < 1 <= span else step  # whole numbers on the axis when the span allows


def _ticks(bottom: float, top: float, step: float) -> list[float]:
    return [round(bottom + i * step, 10) for i in range(int(math.floor((top - bottom) / step + 1e-9)) + 1)]


def _runs(values: Sequence[float | None]) -> list[list[tuple[int, float]]]:
    """The unbroken stretches of figures (a None breaks the line)."""
    runs: list[list[tuple[int, float]]] = [[]]
    for c, value in enumerate(values):
        if value is None:
            runs.append([])
        else:
            runs[-1].append((c, value))
    return [run for run in runs if run]


def _marker(s: int, x: float, y: float, r: float) -> str:
    colour, shape = _colour(s), s % 3
    if shape == 0:
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="{colour}"/>'
    if shape == 1:
        return f'<rect x="{x - r:.1f}" y="{y - r:.1f}" width="{2 * r:.1f}" height="{2 * r:.1f}" fill="{colour}"/>'
    return (f'<polygon points="{x:.1f},{y - r * 1.2:.1f} {x + r * 1.1:.1f},{y + r:.1f} {x - r * 1.1:.1f},{y + r:.1f}" '
            f'fill="{colour}"/>')


def _svg(chart_id: str, title: str, description: str, size: Size, parts: list[str]) -> Markup:
    safe = _safe_id(chart_id)
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="{safe}-title {safe}-desc" '
        f'viewBox="0 0 {size.width} {size.height}" width="100%" preserveAspectRatio="xMinYMin meet" '
        f'class="app-chart" id="{safe}">'
        f'<title id="{safe}-title">{escape(title)}</title><desc id="{safe}-desc">{escape(description)}</desc>'
        + "".join(parts) + "</svg>")


def _text(x: float, y: float, words: str, font: int, anchor: str) -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{font}" text-anchor="{anchor}" fill="{TEXT}" {FONT}>'
            f'{escape(words)}</text>')


def _colour(s: int) -> str:
    return PALETTE[s % len(PALETTE)]


def number(value: float) -> str:
    """12 -> "12", 66.666 -> "66.7", -0.5 -> "−0.5" (a true minus sign)."""
    shown = f"{round(value, 1):g}" if value != int(value) else str(int(value))
    return shown.replace("-", "\u2212")


def _safe_id(chart_id: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", chart_id.lower()).strip("-") or "chart"


def _check(categories: Sequence[str], series: Sequence[Series]) -> None:
    for one in series:
        if len(one.values) != len(categories):
            raise ValueError(f"series {one.name!r} has {len(one.values)} values for {len(categories)} categories")
