"""Limits on taking callbacks (scheduler/offer_limits.py)."""

from __future__ import annotations

from scheduler.offer_limits import OfferLimits, withheld


def test_no_limits_take_every_callback() -> None:
    assert withheld(OfferLimits(), pending=10_000, ecbt_seconds=86_400) is None


def test_a_queue_switched_off_takes_none() -> None:
    assert withheld(OfferLimits(register_enabled=False), pending=0, ecbt_seconds=None) == "paused"


def test_max_pending_stops_taking_at_the_limit() -> None:
    limits = OfferLimits(max_pending=3)
    assert withheld(limits, pending=2, ecbt_seconds=None) is None
    assert withheld(limits, pending=3, ecbt_seconds=None) == "too_many_pending"


def test_max_ecbt_stops_asap_requests_only_and_only_past_it() -> None:
    limits = OfferLimits(max_ecbt_seconds=600)
    assert withheld(limits, pending=0, ecbt_seconds=600) is None
    assert withheld(limits, pending=0, ecbt_seconds=601) == "wait_too_long"
    assert withheld(limits, pending=0, ecbt_seconds=None) is None  # a scheduled booking: its slot is its promise


def test_the_switch_is_said_before_the_thresholds() -> None:
    limits = OfferLimits(register_enabled=False, max_pending=0, max_ecbt_seconds=0)
    assert withheld(limits, pending=5, ecbt_seconds=60) == "paused"
