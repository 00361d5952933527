"""Our own wait estimate and when it makes us offer a callback."""

from __future__ import annotations

import pytest

from scheduler.wait import estimated_wait_seconds, ring_seconds_before_offer, should_offer, wait_estimate


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


def test_the_providers_average_wait_comes_first_then_its_position_then_its_size_then_ours() -> None:
    figures = {"average_handle_seconds": 240, "agents": 2}
    assert wait_estimate(480, **figures) == 480
    assert wait_estimate(480, **figures, provider_average_wait_seconds=90, provider_position=9) == 90
    assert wait_estimate(480, **figures, provider_position=3, provider_queue_size=9) == 360
    assert wait_estimate(480, **figures, provider_queue_size=1) == 120
    assert wait_estimate(480, **figures, provider_position=0) == 0
    assert wait_estimate(480, **figures, provider_average_wait_seconds=-1) == 480  # nonsense is ignored


def test_a_caller_who_has_waited_the_threshold_is_offered_and_a_short_wait_rings_what_is_left() -> None:
    assert should_offer(0, 60, offer_at_entry=False, open_now=True, waited_seconds=59) is False
    assert should_offer(0, 60, offer_at_entry=False, open_now=True, waited_seconds=60) is True
    assert ring_seconds_before_offer(60) == 60
    assert ring_seconds_before_offer(60, 45) == 15
    assert ring_seconds_before_offer(60, 90) == 0
