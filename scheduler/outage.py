"""What the worker does while the database is away: say so once, try again after a short
backoff, say once when it answers again.

Pure rule (time is an argument: seconds on a monotonic clock). The worker's ticks all
share one ``Outage``: the first tick that finds the database away starts it (and logs);
ticks asked to run before ``retry_at`` do not touch the database; the first one that may
run is the next try, and each try that fails doubles the wait, up to ``MAX_DELAY``. The
first tick that gets through ends the outage (and logs that the database is back).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

FIRST_DELAY = 0.5  # seconds before the first retry
MAX_DELAY = 5.0  # the longest wait between tries: a database back is noticed within it


@dataclass(frozen=True)
class Outage:
    since: float | None = None  # when the database was found away; None while it answers
    failures: int = 0  # failed tries in this outage
    retry_at: float = 0.0  # no tick touches the database before this

    @property
    def active(self) -> bool:
        return self.since is not None


def retry_delay(failures: int) -> float:
    """The wait after ``failures`` failed tries in a row: 0.5, 1, 2, 4, then 5 s."""
    if failures <= 0:
        return 0.0
    if failures > 8:  # 0.5 * 2 ** 7 is far beyond the cap: no huge powers
        return MAX_DELAY
    return min(MAX_DELAY, FIRST_DELAY * (1 << (failures - 1)))


def may_try(outage: Outage, now: float) -> bool:
    """Whether a tick may use the database at ``now`` (always, unless waiting to retry)."""
    return not outage.active or now >= outage.retry_at


def failed(outage: Outage, now: float) -> tuple[Outage, bool]:
    """A tick found the database away at ``now``: the new state, and whether this starts
    an outage (log it; later failures of the same outage are not logged). A failure
    before ``retry_at`` (a tick that began before another one failed) changes nothing."""
    if not outage.active:
        return Outage(since=now, failures=1, retry_at=now + retry_delay(1)), True
    if now < outage.retry_at:
        return outage, False
    failures = outage.failures + 1
    return replace(outage, failures=failures, retry_at=now + retry_delay(failures)), False


def succeeded(outage: Outage, now: float) -> tuple[Outage, float | None]:
    """A tick used the database at ``now``: the new state, and how long the outage it ends
    lasted (log that the database is back), or None if there was none."""
    if outage.since is None:
        return outage, None
    return Outage(), max(0.0, now - outage.since)
