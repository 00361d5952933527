"""Bar chart geometry (console/charts.py): what the SVG template draws."""

from __future__ import annotations

import pytest

from console.charts import HEIGHT, Series, bar_chart

BOTTOM_OF_PLOT = HEIGHT - 28


def test_stacked_bars_sit_on_each_other_and_empty_values_draw_nothing() -> None:
    chart = bar_chart("b", "Booked", "d", ["Mon", "Tue"], [Series("ivr", [1, 0]), Series("web", [3, 0])], stacked=True)
    assert chart.ticks[-1].label == "4" and chart.ticks[1].label == "2"  # the largest total, even
    ivr, web = chart.bars  # Tuesday has no bars
    assert ivr.y + ivr.height == pytest.approx(BOTTOM_OF_PLOT)
    assert web.y + web.height == pytest.approx(ivr.y)
    assert web.height == pytest.approx(3 * ivr.height)
    assert (ivr.label, web.label) == ("Mon, ivr: 1", "Mon, web: 3")


def test_side_by_side_bars_share_the_day_and_a_fixed_top_caps_them() -> None:
    chart = bar_chart(
        "r", "Rate", "d", ["Mon"], [Series("a", [50]), Series("b", [150])], stacked=False, top=100, unit="%"
    )
    a, b = chart.bars
    assert a.x + a.width == pytest.approx(b.x)
    assert b.height == pytest.approx(2 * a.height)  # 150 % is drawn at the top, not above it
    assert [t.label for t in chart.ticks] == ["0%", "50%", "100%"]
