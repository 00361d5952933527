"""How long a console sign-in must wait after failed attempts: the rule, with no clock and
no database (services/login_throttle.py keeps the counts).

Failures are counted twice, per email (whether or not it has an account, so that the
answer never tells) and per client address. The first few are free; then each failure
doubles the wait, up to a cap. The email's cap is short (a minute): an attacker who
spreads guesses over many addresses can only slow an account's owner down, never lock
them out for long. The address's cap is long (a quarter of an hour): one address trying
many emails is slowed until it is harmless.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Backoff:
    free: int  # failures in a row that cost nothing
    cap_seconds: int  # the longest wait, however many failures

    def delay_seconds(self, failures: int) -> int:
        """The wait after ``failures`` failures in a row: 0 while free, then 1, 2, 4 … capped."""
        beyond = failures - self.free
        if beyond <= 0:
            return 0
        if beyond > self.cap_seconds.bit_length():  # 2 ** beyond > cap: no huge powers
            return self.cap_seconds
        return min(self.cap_seconds, 1 << (beyond - 1))


PER_EMAIL = Backoff(free=3, cap_seconds=60)
PER_ADDRESS = Backoff(free=3, cap_seconds=15 * 60)
# Failures with none newer for this long are forgotten (and their rows deleted).
FORGET_AFTER = timedelta(days=1)


def counted_failures(failures: int, last_failure_at: datetime | None, now: datetime) -> int:
    """The failures that still count: none once the last is older than ``FORGET_AFTER``."""
    if last_failure_at is None or now - last_failure_at >= FORGET_AFTER:
        return 0
    return failures


def seconds_to_wait(not_before: datetime | None, now: datetime) -> int:
    """Whole seconds until ``not_before`` (rounded up, so that waiting that long is enough); 0 if past."""
    if not_before is None or not_before <= now:
        return 0
    return max(1, math.ceil((not_before - now).total_seconds()))


def address_bucket(address: str | None) -> str:
    """The client address as it is counted: an IPv6 client by its /64 (one subscriber's
    network, which they may fill with addresses), an IPv4-mapped one as IPv4."""
    if not address:
        return "unknown"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)
