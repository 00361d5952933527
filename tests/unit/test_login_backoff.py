"""The wait after failed console sign-ins: free at first, then doubling, capped; forgotten after a day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from scheduler.login_backoff import (
    FORGET_AFTER,
    PER_ADDRESS,
    PER_EMAIL,
    Backoff,
    address_bucket,
    counted_failures,
    seconds_to_wait,
)

NOW = datetime(2027, 1, 4, 10, 0, tzinfo=UTC)
backoffs = st.builds(Backoff, free=st.integers(0, 10), cap_seconds=st.integers(1, 10**6))
counts = st.integers(0, 10**6)


def test_the_first_three_failures_are_free_then_the_wait_doubles_up_to_a_minute_per_email() -> None:
    assert [PER_EMAIL.delay_seconds(n) for n in range(12)] == [0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 60, 60]


def test_an_address_waits_up_to_a_quarter_of_an_hour() -> None:
    assert PER_ADDRESS.delay_seconds(13) == 512
    assert PER_ADDRESS.delay_seconds(14) == PER_ADDRESS.delay_seconds(10**9) == 900


@given(backoffs, counts, counts)
def test_the_wait_never_shrinks_as_failures_grow(backoff: Backoff, a: int, b: int) -> None:
    low, high = sorted((a, b))
    assert backoff.delay_seconds(low) <= backoff.delay_seconds(high)


@given(backoffs, counts)
def test_the_wait_is_never_above_the_cap_and_free_failures_cost_nothing(backoff: Backoff, failures: int) -> None:
    delay = backoff.delay_seconds(failures)
    assert 0 <= delay <= backoff.cap_seconds
    assert (delay == 0) == (failures <= backoff.free)


@given(backoffs, st.integers(1, 40))
def test_each_failure_beyond_the_free_ones_doubles_the_wait_until_the_cap(backoff: Backoff, beyond: int) -> None:
    before, after = backoff.delay_seconds(backoff.free + beyond), backoff.delay_seconds(backoff.free + beyond + 1)
    assert after == min(backoff.cap_seconds, 2 * before)


def test_failures_are_forgotten_a_day_after_the_last() -> None:
    assert counted_failures(7, NOW - FORGET_AFTER + timedelta(seconds=1), NOW) == 7
    assert counted_failures(7, NOW - FORGET_AFTER, NOW) == 0
    assert counted_failures(7, None, NOW) == 0


@given(st.floats(0.000001, 10**6))
def test_the_seconds_to_wait_are_rounded_up_so_that_waiting_them_is_enough(seconds: float) -> None:
    wait = seconds_to_wait(NOW + timedelta(seconds=seconds), NOW)
    assert wait >= 1 and NOW + timedelta(seconds=wait) >= NOW + timedelta(seconds=seconds)
    assert seconds_to_wait(NOW - timedelta(seconds=seconds), NOW) == 0
    assert seconds_to_wait(None, NOW) == 0


def test_an_ipv6_client_is_counted_by_its_64_and_a_mapped_ipv4_as_ipv4() -> None:
    assert address_bucket("2001:db8:1:2:aaaa::1") == address_bucket("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert address_bucket("2001:db8:1:3::1") != address_bucket("2001:db8:1:2::1")
    assert address_bucket("::ffff:192.0.2.7") == address_bucket("192.0.2.7") == "192.0.2.7"
    assert address_bucket(None) == address_bucket("") == "unknown"
