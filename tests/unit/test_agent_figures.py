"""scheduler/agents.py: live agent figures, their freshness and the staffing they give."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.agents import AgentFigures, Staffing, callers_ahead, is_fresh, line_wait_seconds, staffing
from scheduler.errors import ValidationFailed

NOW = datetime(2027, 1, 4, 10, 0, tzinfo=UTC)
MAX_AGE = timedelta(minutes=2)


def figures(**changes: object) -> AgentFigures:
    values: dict[str, object] = {
        "signed_in": 8,
        "available": 2,
        "average_handle_seconds": 360,
        "longest_wait_seconds": 95,
        "reported_at": NOW - timedelta(seconds=10),
        "source": "push",
    }
    values.update(changes)
    return AgentFigures(**values)  # type: ignore[arg-type]


def test_fresh_figures_are_used_and_old_or_future_ones_fall_back_to_static_staffing() -> None:
    live = staffing(figures(), NOW, MAX_AGE, static_agents=3, static_average_handle_seconds=300)
    assert live == Staffing(agents=8, available=2, average_handle_seconds=360, live=True)
    for stale in (NOW - MAX_AGE - timedelta(seconds=1), NOW + timedelta(minutes=5)):
        fallback = staffing(
            figures(reported_at=stale), NOW, MAX_AGE, static_agents=3, static_average_handle_seconds=300
        )
        assert fallback == Staffing(agents=3, available=None, average_handle_seconds=300, live=False)
    assert staffing(None, NOW, MAX_AGE, static_agents=3, static_average_handle_seconds=300).live is False
    assert is_fresh(figures(reported_at=NOW - MAX_AGE), NOW, MAX_AGE)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"signed_in": -1}, "signed_in"),
        ({"available": 9}, "available"),
        ({"available": -1}, "available"),
        ({"average_handle_seconds": 0}, "average_handle_seconds"),
        ({"longest_wait_seconds": -5}, "longest_wait_seconds"),
        ({"callers_waiting": -1}, "callers_waiting"),
        ({"callers_waiting": 100_001}, "callers_waiting"),
        ({"reported_at": datetime(2027, 1, 4, 10, 0)}, "at"),
    ],
)
def test_figures_that_do_not_add_up_are_refused_field_by_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        figures(**changes)
    assert field in refused.value.details


@given(st.integers(0, 500), st.integers(0, 100), st.integers(0, 100))
def test_free_agents_take_callers_before_anyone_waits(waiting: int, signed_in: int, free: int) -> None:
    free = min(free, signed_in)
    live = Staffing(agents=signed_in, available=free, average_handle_seconds=300, live=True)
    ahead = callers_ahead(waiting, live)
    assert ahead == max(waiting - free, 0) and 0 <= ahead <= waiting
    assert callers_ahead(waiting, Staffing(3, None, 300, live=False)) == waiting


def test_the_callers_waiting_the_source_reports_replace_the_queues_static_figure() -> None:
    reported = staffing(
        figures(available=0, callers_waiting=12), NOW, MAX_AGE, static_agents=3, static_average_handle_seconds=300
    )
    assert reported.waiting == 12
    # 12 in line ahead, each 360 s shared among 8 agents; the static 40 waiting count for nothing
    assert line_wait_seconds(40, reported) == 12 * 360 // 8
    unreported = staffing(figures(available=0), NOW, MAX_AGE, static_agents=3, static_average_handle_seconds=300)
    assert unreported.waiting is None and line_wait_seconds(40, unreported) == 40 * 360 // 8
    stale = staffing(
        figures(callers_waiting=12, reported_at=NOW - 2 * MAX_AGE),
        NOW,
        MAX_AGE,
        static_agents=3,
        static_average_handle_seconds=300,
    )
    assert stale.waiting is None and line_wait_seconds(4, stale) == 4 * 300 // 3  # old figures: all static
