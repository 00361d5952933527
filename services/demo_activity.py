"""A week of made-up past activity for the demo queue, so that `make run`'s console has a
report to read: callbacks from every channel, their calls (answered, missed, the agent
reached or not), cancellations by text, web and supervisor, the IVR's offers, and where the
web callbacks' visitors came from (their attribution).

Deterministic (a seeded random), written once: nothing is added when the queue already
has callbacks from before today. Rows are written as the services would have written
them (events with their steps and actors, attempts with their times), not through the
dialer, whose time is now.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from infra.models import Attempt, Callback, CallbackEvent, IvrOffer, Queue
from services.booking_service import new_ref
from services.ivr_offers import OFFER_POINTS

SOURCES = (("ivr", 40), ("web", 25), ("sms", 15), ("api", 15), ("console", 5))
ACTORS = {
    "ivr": "ivr",
    "web": "customer:web",
    "sms": "customer:sms",
    "api": "api",
    "console": "console:demo@example.com",
}
CANCELLERS = ("customer:sms", "customer:web", "console:supervisor@example.com")
PER_DAY = (18, 30)  # callbacks a weekday
# Where the web callbacks' visitors came from (scheduler/attribution.py), in turn: the
# reports' breakdowns by source and campaign have groups to show.
WEB_ATTRIBUTIONS: tuple[dict[str, str] | None, ...] = (
    {"source": "newsletter", "medium": "email", "campaign": "winter-offer"},
    {"source": "google", "medium": "cpc", "campaign": "winter-offer", "term": "call back"},
    {"source": "google", "medium": "cpc", "campaign": "brand"},
    None,  # came straight to the site
)


def seed_activity(session: Session, queue: Queue, now: datetime, days: int = 7) -> int:
    """Callbacks of the ``days`` weekdays before today, local; 0 when there are some already."""
    zone = ZoneInfo(queue.timezone)
    today = now.astimezone(zone).date()
    earlier = session.scalar(
        select(func.count())
        .select_from(Callback)
        .where(Callback.queue_id == queue.id, Callback.created_at < datetime.combine(today, time(0), zone))
    )
    if earlier:
        return 0
    rng = random.Random(20270104)
    made = 0
    day = today
    for _ in range(days):
        day -= timedelta(days=1)
        while day.weekday() >= 5:
            day -= timedelta(days=1)
        for _ in range(rng.randint(*PER_DAY)):
            _callback(session, queue, day, zone, rng, made)
            made += 1
    session.flush()
    return made


def _callback(session: Session, queue: Queue, day: date, zone: ZoneInfo, rng: random.Random, n: int) -> None:
    source = rng.choices([s for s, _ in SOURCES], weights=[w for _, w in SOURCES])[0]
    booked_at = datetime.combine(day, time(9), zone) + timedelta(minutes=rng.randint(0, 420))
    due = booked_at + timedelta(minutes=rng.choice((5, 10, 30, 60, 90)))
    phone = f"+447400{900000 + n:06d}"
    callback = Callback(
        ref=new_ref(),
        queue_id=queue.id,
        phone=phone,
        source=source,
        kind="asap" if rng.random() < 0.5 else "scheduled",
        state="scheduled",
        attempts=0,
        locale=queue.language,
        sms_consent=source in ("sms", "web"),
        fields=[],
        tags=[],
        attribution=WEB_ATTRIBUTIONS[n % len(WEB_ATTRIBUTIONS)] if source == "web" else None,
        created_at=booked_at,
        updated_at=booked_at,
        next_attempt_at=due,
    )
    session.add(callback)
    session.flush()
    events: list[tuple[str, str | None, str, datetime, str, str | None, dict[str, Any]]] = [
        (
            "book",
            None,
            "scheduled",
            booked_at,
            ACTORS[source],
            f"demo callback via {source}",
            {"due_at": due.isoformat()},
        )
    ]
    if source == "ivr":
        session.add(
            IvrOffer(
                queue_id=queue.id, provider="simulator", call_id=f"demo-{n}", offered_at=booked_at,
                accepted_at=booked_at, choice=rng.choice(("asap", "time")),
                offer_point=OFFER_POINTS[n % 3], wait_avoided_seconds=60 * (3 + n % 7),
            )
        )  # fmt: skip
        if rng.random() < 0.6:  # offered, not taken: the caller kept holding
            session.add(
                IvrOffer(
                    queue_id=queue.id,
                    provider="simulator",
                    call_id=f"demo-{n}-held",
                    offered_at=booked_at,
                    offer_point=OFFER_POINTS[(n + 1) % 3],
                )
            )
    fate = rng.random()
    if fate < 0.15:  # cancelled before the call
        at = booked_at + timedelta(minutes=rng.randint(1, 30))
        events.append(("cancel", "scheduled", "cancelled", at, rng.choice(CANCELLERS), "demo cancellation", {}))
        callback.state, callback.next_attempt_at = "cancelled", None
    else:
        reached = fate < 0.85
        tries = rng.choice((1, 1, 1, 2)) if reached else 3
        at = due + timedelta(seconds=rng.choice((2, 5, 8, 20, 45, 90)))
        for number in range(1, tries + 1):
            last = number == tries
            connected = reached and last
            seconds = rng.randint(120, 900) if connected else rng.randint(20, 35)
            session.add(
                Attempt(
                    callback_id=callback.id, number=number, provider="simulator", call_id=f"demo-{n}-{number}",
                    call_state="completed" if connected else "no-answer",
                    outcome="connected" if connected else "no_answer",
                    requested_at=at, started_at=at, answered_at=at + timedelta(seconds=9) if connected else None,
                    agent_answered_at=at + timedelta(seconds=21) if connected else None,
                    ended_at=at + timedelta(seconds=seconds), duration_seconds=seconds,
                    billable_seconds=seconds if connected else 0,
                )
            )  # fmt: skip
            events.append(("start_dial", "scheduled", "dialing", at, "worker", None, {}))
            if connected:
                events.append(("connect", "dialing", "connected", at + timedelta(seconds=21), "worker", None, {}))
                events.append(
                    ("complete", "connected", "completed", at + timedelta(seconds=seconds), "worker", None, {})
                )
                callback.state = "completed"
            elif last:
                events.append(
                    ("give_up", "dialing", "unreachable", at + timedelta(seconds=seconds), "worker", None, {})
                )
                callback.state = "unreachable"
            else:
                events.append(("retry", "dialing", "retry_wait", at + timedelta(seconds=seconds), "worker", None, {}))
            at += timedelta(minutes=10)
        callback.attempts, callback.next_attempt_at = tries, None
    for step, source_state, target, at, actor, reason, payload in events:
        session.add(
            CallbackEvent(
                callback_id=callback.id, step=step, from_state=source_state, to_state=target, at=at, actor=actor,
                reason=reason, payload=payload,
            )
        )  # fmt: skip
    callback.updated_at = events[-1][3]
