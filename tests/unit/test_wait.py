"""Our own wait estimate and when it makes us offer a callback."""

from __future__ import annotations

import pytest

from scheduler.wait import (
    estimated_wait_seconds,
    queue_hold_seconds,
    queue_offer_due,
    ring_seconds_before_offer,
    should_offer,
    wait_estimate,
)


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


@pytest.mark.parametrize(
    ("waited", "due"),
    [(0, False), (59, False), (60, True), (62, True), (69, True), (70, False), (119, False), (120, True), (181, True)],
)
def test_in_the_providers_queue_the_offer_comes_at_the_first_point_then_every_repeat(waited: int, due: bool) -> None:
    assert queue_offer_due(waited, 60, 60) is due


@pytest.mark.parametrize(
    ("waited", "hold"), [(0, 30), (30, 30), (45, 15), (60, 30), (75, 30), (100, 20), (119, 1), (-5, 30)]
)
def test_a_hold_in_the_queue_lasts_up_to_the_next_offer_and_at_most_thirty_seconds(waited: int, hold: int) -> None:
    assert queue_hold_seconds(waited, 60, 60) == hold


def test_a_short_repeat_offers_only_at_its_points() -> None:
    assert [w for w in range(0, 40) if queue_offer_due(w, 10, 10)] == [
        10,
        11,
        12,
        13,
        14,
        20,
        21,
        22,
        23,
        24,
        30,
        31,
        32,
        33,
        34,
    ]
    assert queue_hold_seconds(13, 10, 10) == 7  # the caller held on: the next request comes at 20
