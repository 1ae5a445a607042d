"""Small server-rendered SVG charts for the console (issue 14 §2: "charts where people would rather look than
read"): horizontal bars (per-window scores), a line over weeks (the trend) and one stacked bar (the week's
progress). No script, no library, no inline style — the Content-Security-Policy forbids both; colours come from
console.css classes (``.chart …``), sizes are SVG attributes.

Each chart is ``role="img"`` with a ``<title>`` and a ``<desc>`` that screen readers announce, and every mark has
its own ``<title>`` (a tooltip on hover). The page puts the same figures in a table beside the chart: the chart is
for the eye, the table for anyone who needs the numbers. Texts arrive translated; everything is escaped here.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 480
_ids = itertools.count(1)


@dataclass(frozen=True)
class Bar:
    """One bar: its label, its value (None: no data, drawn as a dash), the text after it and a CSS class."""

    label: str
    value: float | None
    text: str = ""
    css: str = ""


@dataclass(frozen=True)
class Point:
    """One point of a line: the x label (``W48``), the value (None: a gap), its tooltip and a CSS class."""

    label: str
    value: float | None
    tooltip: str = ""
    css: str = ""


@dataclass(frozen=True)
class Mark:
    """A reference line across the value axis (a grade's threshold: 合格 70)."""

    value: float
    label: str


@dataclass(frozen=True)
class Part:
    """One segment of a stacked bar: its count, its label and a CSS class."""

    label: str
    count: int
    css: str


def _open(title: str, desc: str, height: float, css: str) -> tuple[str, str]:
    n = next(_ids)
    head = (f'<svg class="chart {css}" viewBox="0 0 {WIDTH} {height:g}" role="img" '
            f'aria-labelledby="chart{n}-t chart{n}-d" preserveAspectRatio="xMinYMin meet">'
            f'<title id="chart{n}-t">{escape(title)}</title><desc id="chart{n}-d">{escape(desc)}</desc>')
    return head, "</svg>"


def _short(label: str, chars: int) -> str:
    return label if len(label) <= chars else label[: chars - 1] + "…"


def bar_chart(bars: Sequence[Bar], *, title: str, desc: str, maximum: float = 100.0,
              marks: Sequence[Mark] = ()) -> Markup:
    """Horizontal bars from 0 to ``maximum``, one row per bar: the label and the value's text on a line, the bar
    on a track under them (full width, so a phone keeps the text readable; long names are shortened, the row's
    tooltip has the whole name); ``marks`` as dashed vertical lines labelled above the first row."""
    row, top = 46, 26
    height = top + row * max(len(bars), 1)
    head, tail = _open(title, desc, height, "bars")
    parts = [head]
    xs = [(WIDTH * mark.value / maximum, mark) for mark in marks]
    for x, mark in xs:
        parts.append(f'<text class="mark-label" x="{x:.1f}" y="{top - 10}" text-anchor="middle" font-size="13">'
                     f'{escape(mark.label)}</text>')
    for i, bar in enumerate(bars):
        y = top + i * row
        tip = f"{bar.label}：{bar.text}" if bar.text else bar.label
        parts.append(f'<g class="row {escape(bar.css)}"><title>{escape(tip)}</title>'
                     f'<text class="label" x="0" y="{y + 17}" font-size="17">{escape(_short(bar.label, 13))}</text>'
                     f'<text class="value" x="{WIDTH}" y="{y + 17}" text-anchor="end" font-size="16">'
                     f'{escape(bar.text or "—")}</text>'
                     f'<rect class="track" x="0" y="{y + 24}" width="{WIDTH}" height="14" rx="3"/>')
        if bar.value is not None:
            w = max(WIDTH * min(bar.value, maximum) / maximum, 2)
            parts.append(f'<rect class="bar" x="0" y="{y + 24}" width="{w:.1f}" height="14" rx="3"/>')
        parts.extend(f'<line class="mark" x1="{x:.1f}" y1="{y + 21}" x2="{x:.1f}" y2="{y + 41}"/>' for x, _m in xs)
        parts.append("</g>")
    parts.append(tail)
    return Markup("".join(parts))


def axis_floor(values: Sequence[float | None], marks: Sequence[Mark] = ()) -> float:
    """Where a score axis starts: 10 below the lowest value or mark, in tens, never below 0 — so scores in the 80s
    and 90s are not squashed against the top of a 0–100 axis."""
    lowest = min([v for v in values if v is not None] + [m.value for m in marks], default=0.0)
    return max(0.0, (lowest // 10) * 10 - 10)


def line_chart(points: Sequence[Point], *, title: str, desc: str, maximum: float = 100.0, minimum: float = 0.0,
               marks: Sequence[Mark] = ()) -> Markup:
    """A line over evenly spaced x labels from ``minimum`` to ``maximum``; a None value breaks the line; ``marks``
    as dashed horizontal lines labelled in the right margin."""
    height, top, bottom, left, right = 240, 12, 206, 40, WIDTH - 52  # the right margin: a 6-px dot, then the label
    head, tail = _open(title, desc, height, "line")
    step = (right - left) / max(len(points) - 1, 1)

    def y_of(value: float) -> float:
        clipped = min(max(value, minimum), maximum)
        return bottom - (bottom - top) * (clipped - minimum) / (maximum - minimum)

    parts = [head, f'<line class="axis" x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}"/>']
    for value in (minimum, maximum):
        parts.append(f'<text class="tick" x="{left - 6}" y="{y_of(value) + 5:.1f}" text-anchor="end" '
                     f'font-size="14">{value:g}</text>')
    for mark in marks:
        y = y_of(mark.value)
        parts.append(f'<line class="mark" x1="{left}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}"/>'
                     f'<text class="mark-label" x="{right + 10}" y="{y + 5:.1f}" font-size="13">'
                     f'{escape(mark.label)}</text>')
    xy = [(left + i * step, y_of(p.value) if p.value is not None else None) for i, p in enumerate(points)]
    parts.extend(_segments(xy))
    for (x, y), point in zip(xy, points, strict=True):
        parts.append(f'<text class="tick" x="{x:.1f}" y="{bottom + 22}" text-anchor="middle" font-size="14">'
                     f'{escape(point.label)}</text>')
        if y is not None:
            parts.append(f'<circle class="dot {escape(point.css)}" cx="{x:.1f}" cy="{y:.1f}" r="6">'
                         f'<title>{escape(point.tooltip or point.label)}</title></circle>')
    parts.append(tail)
    return Markup("".join(parts))


def _segments(xy: Sequence[tuple[float, float | None]]) -> list[str]:
    """Polylines through consecutive points that have a value (a week without data breaks the line)."""
    runs: list[list[tuple[float, float]]] = [[]]
    for x, y in xy:
        if y is None:
            runs.append([])
        else:
            runs[-1].append((x, y))
    return [f'<polyline class="trend" points="{" ".join(f"{x:.1f},{y:.1f}" for x, y in run)}"/>'
            for run in runs if len(run) > 1]


def stacked_bar(parts: Sequence[Part], *, title: str, desc: str) -> Markup:
    """One bar split in proportion to the counts (the week's callbacks by state); empty when all are 0."""
    height, total = 22, sum(p.count for p in parts)
    head, tail = _open(title, desc, height, "stack")
    out, x = [head, f'<rect class="track" x="0" y="2" width="{WIDTH}" height="{height - 4}" rx="4"/>'], 0.0
    for part in parts:
        if part.count and total:
            w = WIDTH * part.count / total
            out.append(f'<rect class="seg {escape(part.css)}" x="{x:.1f}" y="2" width="{w:.1f}" height="{height - 4}">'
                       f'<title>{escape(part.label)}：{part.count}</title></rect>')
            x += w
    out.append(tail)
    return Markup("".join(out))
