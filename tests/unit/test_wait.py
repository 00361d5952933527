"""Our own wait estimate and when it makes us offer a callback."""

from __future__ import annotations

import pytest

from scheduler.wait import estimated_wait_seconds, should_offer


def test_callers_ahead_times_handle_time_shared_among_agents() -> None:
    assert estimated_wait_seconds(4, 240, 2) == 480
    assert estimated_wait_seconds(1, 100, 3) == 34  # rounded up: never promise less than the sum
    assert estimated_wait_seconds(0, 300, 1) == 0


def test_no_agents_is_as_good_as_forever() -> None:
    assert estimated_wait_seconds(1, 60, 0) >= 86_400


def test_negative_figures_are_refused() -> None:
    with pytest.raises(ValueError):
        estimated_wait_seconds(-1, 60, 1)


@pytest.mark.parametrize(
    ("estimate", "at_entry", "open_now", "offered"),
    [(59, False, True, False), (60, False, True, True), (0, True, True, True), (0, False, False, True)],
)
def test_offer_at_the_threshold_at_entry_or_when_closed(
    estimate: int, at_entry: bool, open_now: bool, offered: bool
) -> None:
    assert should_offer(estimate, 60, offer_at_entry=at_entry, open_now=open_now) is offered
