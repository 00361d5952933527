"""Bar charts as plain geometry for a template to draw as SVG (console_reports.html):
no chart library, no CDN. Only numbers and the fixed palette come from here (and a bar's
text, in the console's language); every text goes into the SVG through Jinja's autoescaping."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from console.i18n import _

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 12, 28
MAX_X_LABELS = 12
PALETTE = ("#2f6db5", "#e0872b", "#3c9a5f", "#a04cb0", "#c23b3b", "#6b7280", "#d4b106")


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float]
    figure: str | None = None  # the report's figure its bars drill down to (scheduler/reports.py DRILLABLE)


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    color: str
    label: str  # the bar's own text (its <title>): "Mon 4 Jan, ivr: 3"
    index: int = 0  # the x label (the report's window) it stands over
    figure: str | None = None  # what a click on it lists, when it can be drilled into


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class XLabel:
    x: float
    label: str


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    description: str
    width: int
    height: int
    plot_left: int
    plot_right: int
    plot_bottom: int
    bars: tuple[Bar, ...]
    ticks: tuple[Tick, ...]
    x_labels: tuple[XLabel, ...]
    legend: tuple[tuple[str, str], ...]  # (name, colour)


def _format(value: float, unit: str) -> str:
    return f"{value:g}{unit}"


def bar_chart(
    key: str,
    title: str,
    description: str,
    x_labels: Sequence[str],
    series: Sequence[Series],
    *,
    stacked: bool,
    top: float | None = None,
    unit: str = "",
) -> Chart:
    """Bars per x label: the series stacked in one bar, or side by side. ``top`` is the
    value the plot's height stands for (the largest bar, rounded up, when not given)."""
    count = max(len(x_labels), 1)
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    if top is None:
        sums = [
            sum(s.values[i] for s in series) if stacked else max((s.values[i] for s in series), default=0)
            for i in range(len(x_labels))
        ]
        top = max(math.ceil(max(sums, default=0)), 2)
        top += top % 2  # even: the middle tick is a whole number too
    group = plot_width / count
    bars = []
    for i, label in enumerate(x_labels):
        base = 0.0
        for n, one in enumerate(series):
            value = one.values[i]
            height = plot_height * min(value, top) / top
            color = PALETTE[n % len(PALETTE)]
            text = _("%(label)s, %(series)s: %(value)s", label=label, series=one.name, value=_format(value, unit))
            if stacked:
                width = group * 0.7
                x = LEFT + group * i + (group - width) / 2
                y = TOP + plot_height - base - height
                base += height
            else:
                width = group * 0.8 / max(len(series), 1)
                x = LEFT + group * i + group * 0.1 + width * n
                y = TOP + plot_height - height
            if value > 0:
                geometry = (round(x, 2), round(y, 2), round(width, 2), round(height, 2))
                bars.append(Bar(*geometry, color, text, i, one.figure))
    ticks = tuple(
        Tick(round(TOP + plot_height * (1 - fraction), 2), _format(round(top * fraction, 2), unit))
        for fraction in (0, 0.5, 1)
    )
    every = math.ceil(count / MAX_X_LABELS)  # 96 quarter hours: a label every 8th
    labels = tuple(
        XLabel(round(LEFT + group * (i + 0.5), 2), label) for i, label in enumerate(x_labels) if i % every == 0
    )
    legend = tuple((one.name, PALETTE[n % len(PALETTE)]) for n, one in enumerate(series))
    return Chart(
        key,
        title,
        description,
        WIDTH,
        HEIGHT,
        LEFT,
        WIDTH - RIGHT,
        TOP + plot_height,
        tuple(bars),
        ticks,
        labels,
        legend,
    )
