"""The wallboard's row of a queue (scheduler/wallboard.py): pure, ``now`` passed in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from scheduler.agents import Staffing
from scheduler.reports import AttemptRow, CallbackRow, EventRow
from scheduler.wallboard import SPARK_HEIGHT, SPARK_WIDTH, QueueFacts, bucket_of, row, sparkline

NOW = datetime(2027, 1, 4, 10, 0, tzinfo=UTC)  # a Monday, 10:00 in London
LIVE = Staffing(agents=4, available=2, average_handle_seconds=300, live=True)
STATIC = Staffing(agents=4, available=None, average_handle_seconds=300, live=False)


def facts(**changes: object) -> QueueFacts:
    values: dict[str, object] = {
        "key": "support",
        "name": "Support",
        "timezone": "Europe/London",
        "due_times": (),
        "dialing": 0,
        "connected": 0,
        "staffing": LIVE,
        "ecbt_seconds": 240,
        "today": (),
        "samples": (),
    }
    values.update(changes)
    return QueueFacts(**values)  # type: ignore[arg-type]


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def test_pending_counts_every_waiting_callback_and_due_now_only_those_due_by_now() -> None:
    due = (NOW - minutes(7), NOW - minutes(1), NOW, NOW + minutes(30), NOW + timedelta(days=1))
    result = row(facts(due_times=due, dialing=3, connected=2), NOW)
    assert (result.pending, result.due_now, result.dialing, result.connected) == (5, 3, 3, 2)
    assert result.oldest_due_seconds == 7 * 60


def test_nothing_due_has_no_oldest_age() -> None:
    result = row(facts(due_times=(NOW + minutes(5),)), NOW)
    assert (result.pending, result.due_now, result.oldest_due_seconds) == (1, 0, None)


def test_agents_free_come_from_live_figures_only() -> None:
    assert row(facts(staffing=LIVE), NOW).agents_free == 2
    assert row(facts(staffing=STATIC), NOW).agents_free is None


def _dialled(due: datetime, lag: timedelta) -> CallbackRow:
    return CallbackRow(
        "api", (EventRow("book", due - minutes(60), "api", due_at=due),), (AttemptRow(due + lag, "connected"),)
    )


def test_on_time_rate_is_todays_in_the_queues_zone() -> None:
    # London is UTC+0 in January: today began at 00:00 UTC; yesterday's dial does not count.
    today = [_dialled(NOW - minutes(30), timedelta(seconds=20)), _dialled(NOW - minutes(20), minutes(5))]
    yesterday = [_dialled(NOW - timedelta(hours=11), timedelta(seconds=5))]
    assert row(facts(today=today + yesterday), NOW).on_time_rate == 0.5
    assert row(facts(today=()), NOW).on_time_rate is None
    # In Tokyo (UTC+9) the local day began at 15:00 UTC yesterday: all three count.
    assert row(facts(timezone="Asia/Tokyo", today=today + yesterday), NOW).on_time_rate == 2 / 3


def test_the_trend_keeps_the_last_four_hours_oldest_first() -> None:
    samples = [(NOW - minutes(5), 300), (NOW - timedelta(hours=5), 900), (NOW - minutes(60), 120), (NOW, 60)]
    result = row(facts(samples=samples), NOW)
    assert [s for _, s in result.trend] == [120, 300, 60]
    points = [tuple(map(float, p.split(","))) for p in result.sparkline.split()]
    assert len(points) == 3 and points[-1][0] == SPARK_WIDTH  # now at the right edge
    assert points[1][1] == 0.0  # the largest sample at the top
    assert all(0 <= x <= SPARK_WIDTH and 0 <= y <= SPARK_HEIGHT for x, y in points)


def test_a_single_sample_draws_no_line() -> None:
    assert sparkline([(NOW, 60)], NOW) == ""
    assert row(facts(samples=[(NOW, 60)]), NOW).sparkline == ""


def test_buckets_are_five_minutes_whatever_the_zone() -> None:
    assert bucket_of(NOW + timedelta(minutes=4, seconds=59)) == NOW
    assert bucket_of(NOW + minutes(5)) == NOW + minutes(5)
    assert bucket_of(NOW.astimezone(UTC).replace(minute=3)).minute == 0


def test_the_json_names_every_figure() -> None:
    result = row(facts(due_times=(NOW,), texts_failing=2, deliveries_failing=1), NOW).as_json()
    assert result["queue"] == "support" and result["pending"] == 1 and result["ecbt_seconds"] == 240
    assert (result["texts_failing"], result["deliveries_failing"]) == (2, 1)
