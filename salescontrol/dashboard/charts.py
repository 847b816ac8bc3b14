"""Small SVG charts drawn on the server: no script, nothing to download.

Two shapes: `bar_chart`, horizontal bars with the label above each bar (labels
such as a category's description are long, and a phone is narrow), and
`column_chart`, vertical columns along an axis of days or hours with an optional
line of a share (0-100 %) over them. Each chart is an `<svg role="img">` with its
title as `<title>` and aria-label; each bar has its own `<title>`, which a
browser shows on hover and a screen reader reads. The `viewBox` and `width="100%"`
make it as wide as its card. Every text is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

ACCENT = "#2458c6"
LINE = "#c23a2b"
MUTED = "#5f6b7a"
GRID = "#dfe3ea"
FONT = 'font-family="system-ui, sans-serif"'

BAR_WIDTH = 420
BAR_ROW = 34
BAR_HEIGHT = 12
VALUE_ROOM = 130
"""Room right of the longest bar for its value."""
MAX_LABEL = 60

COLUMN_WIDTH = 420
COLUMN_HEIGHT = 190
PLOT_TOP = 14
PLOT_BOTTOM = 164
PLOT_LEFT = 30
PLOT_RIGHT = 378
MAX_TICKS = 12


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: float
    text: str
    """The value as shown next to the bar ("12", "45 %")."""
    detail: str = ""
    """More for the hover title ("54 попытки из 120")."""


def _num(value: float) -> str:
    """A coordinate: short, and never "-0.0"."""
    return f"{round(value, 1) + 0.0:g}"


def _open(title: str, width: int, height: int) -> str:
    label = escape(title)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="{label}" {FONT} font-size="12">'
        f"<title>{label}</title>"
    )


def _tip(bar: Bar) -> str:
    parts = [bar.label, bar.text] + ([bar.detail] if bar.detail else [])
    return f"<title>{escape(' — '.join(parts))}</title>"


def _short(label: str) -> str:
    return label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1] + "…"


EMPTY = "Нет данных за период"


def empty_chart(title: str, message: str | None = None, width: int = BAR_WIDTH) -> Markup:
    height = 60
    return Markup(
        _open(title, width, height)
        + f'<text x="{width // 2}" y="{height // 2 + 4}" text-anchor="middle" '
        f'fill="{MUTED}">{escape(message or EMPTY)}</text></svg>'
    )


def bar_chart(
    title: str, bars: Sequence[Bar], *, maximum: float | None = None, empty: str | None = None
) -> Markup:
    """Horizontal bars scaled to `maximum` (by default the largest value)."""
    top = max([bar.value for bar in bars] + [maximum or 0])
    if not bars or top <= 0:
        return empty_chart(title, empty)
    room = BAR_WIDTH - VALUE_ROOM
    parts = [_open(title, BAR_WIDTH, len(bars) * BAR_ROW + 4)]
    for i, bar in enumerate(bars):
        y = i * BAR_ROW
        length = max(bar.value, 0) / top * room
        parts.append(
            f'<g class="bar">{_tip(bar)}'
            f'<text x="0" y="{y + 12}" fill="#1d2433">{escape(_short(bar.label))}</text>'
            f'<rect x="0" y="{y + 17}" width="{room}" height="{BAR_HEIGHT}" fill="{GRID}" '
            f'opacity="0.5"/>'
            f'<rect x="0" y="{y + 17}" width="{_num(length)}" height="{BAR_HEIGHT}" '
            f'fill="{ACCENT}" rx="2"/>'
            f'<text x="{_num(length + 6)}" y="{y + 27}" fill="{MUTED}">{escape(bar.text)}</text>'
            "</g>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _ticks(count: int) -> int:
    """Label every n-th column so that at most MAX_TICKS labels fit."""
    return max(1, -(-count // MAX_TICKS))


def column_chart(
    title: str,
    columns: Sequence[Bar],
    *,
    rate: Sequence[float | None] | None = None,
    rate_label: str = "",
    empty: str | None = None,
) -> Markup:
    """Columns scaled to the largest value, with their labels along the bottom; a
    share per column (None where there is none) as a line on a 0-100 % scale."""
    top = max((column.value for column in columns), default=0)
    if top <= 0:
        return empty_chart(title, empty, COLUMN_WIDTH)
    step = (PLOT_RIGHT - PLOT_LEFT) / len(columns)
    height = PLOT_BOTTOM - PLOT_TOP
    every = _ticks(len(columns))
    parts = [
        _open(title, COLUMN_WIDTH, COLUMN_HEIGHT),
        f'<line x1="{PLOT_LEFT}" y1="{PLOT_BOTTOM}" x2="{PLOT_RIGHT}" y2="{PLOT_BOTTOM}" '
        f'stroke="{GRID}"/>',
        f'<text x="{PLOT_LEFT - 4}" y="{PLOT_TOP + 4}" text-anchor="end" fill="{MUTED}">'
        f"{escape(_value_label(top))}</text>",
        f'<text x="{PLOT_LEFT - 4}" y="{PLOT_BOTTOM}" text-anchor="end" fill="{MUTED}">0</text>',
    ]
    for i, column in enumerate(columns):
        x = PLOT_LEFT + i * step
        size = max(column.value, 0) / top * height
        parts.append(
            f'<g class="bar">{_tip(column)}'
            f'<rect x="{_num(x + step * 0.12)}" y="{_num(PLOT_BOTTOM - size)}" '
            f'width="{_num(step * 0.76)}" height="{_num(size)}" fill="{ACCENT}" rx="1"/></g>'
        )
        if i % every == 0:
            parts.append(
                f'<text x="{_num(x + step / 2)}" y="{PLOT_BOTTOM + 16}" text-anchor="middle" '
                f'fill="{MUTED}">{escape(column.label)}</text>'
            )
    if rate is not None:
        parts.append(_rate_line(rate, step, rate_label))
    parts.append("</svg>")
    return Markup("".join(parts))


def _value_label(value: float) -> str:
    return f"{value:g}" if value < 10_000 else f"{value / 1000:.0f}k"


def _rate_line(rate: Sequence[float | None], step: float, label: str) -> str:
    """The share as a line (broken where a column has none) with a dot per column
    and its scale on the right."""
    height = PLOT_BOTTOM - PLOT_TOP
    parts = [
        f'<text x="{PLOT_RIGHT + 4}" y="{PLOT_TOP + 4}" fill="{LINE}">100 %</text>',
        f'<text x="{PLOT_RIGHT + 4}" y="{PLOT_BOTTOM}" fill="{LINE}">0 %</text>',
    ]
    runs: list[list[str]] = [[]]
    for i, share in enumerate(rate):
        if share is None:
            runs.append([])
            continue
        x = _num(PLOT_LEFT + (i + 0.5) * step)
        y = _num(PLOT_BOTTOM - min(max(share, 0.0), 1.0) * height)
        runs[-1].append(f"{x},{y}")
        shown = f"{share * 100:.0f} %"
        tip = escape(f"{label}: {shown}" if label else shown)
        parts.append(f'<circle cx="{x}" cy="{y}" r="3" fill="{LINE}"><title>{tip}</title></circle>')
    for run in runs:
        if len(run) > 1:
            parts.insert(
                2,
                f'<polyline points="{" ".join(run)}" fill="none" stroke="{LINE}" '
                f'stroke-width="2"/>',
            )
    return "".join(parts)
