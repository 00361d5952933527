"""What reports need of the inbound IVR: which calls it offered a callback to, and which
callers took it (booked one or asked for a link).

One row per call, keyed by (provider, call id): a provider retrying a webhook, or the
IVR offering again after a hold, changes nothing; the first acceptance is the one kept.
Each row keeps where the IVR first offered (``OFFER_POINTS``: on arrival, from the menu,
or while the caller held) and, once taken, the wait in the line the caller was spared
then (the flow's own estimate): the reports' take rate by offer point and minutes saved.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Table, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from infra.models import IvrOffer
from ivr_flows import inbound

_OFFERS: Table = IvrOffer.__table__  # type: ignore[assignment]
_NOTE = {
    "sqlite": sqlite_insert(_OFFERS).on_conflict_do_nothing(index_elements=["provider", "call_id"]),
    "postgresql": postgresql_insert(_OFFERS).on_conflict_do_nothing(index_elements=["provider", "call_id"]),
}


# Where the IVR offers: as the call is answered, from the menu (the caller pressed for a
# callback), or while the caller holds (ringing the agents, or in the provider's queue).
OFFER_POINTS = ("arrival", "menu", "holding")


def note_offer(session: Session, queue_id: int, provider: str, reply: inbound.Reply, now: datetime, point: str) -> None:
    """Record the offer when ``reply`` is the IVR offering a callback, at ``point``."""
    assert point in OFFER_POINTS, point
    state = reply.state
    if state is None or state.step != "offer":
        return
    connection = session.connection()
    connection.execute(
        _NOTE[connection.dialect.name],
        {
            "queue_id": queue_id,
            "provider": provider,
            "call_id": state.call_id[:64],
            "offered_at": now,
            "offer_point": point,
        },
    )


def note_acceptance(
    session: Session,
    provider: str,
    state: inbound.IvrState,
    effect: inbound.Effect,
    now: datetime,
    callback_ref: str | None = None,
    wait_avoided_seconds: int | None = None,
) -> None:
    """The caller took the offer: a new booking (ASAP or a time, ``callback_ref`` the
    callback's) or a text with a link, sparing them ``wait_avoided_seconds`` in the line.
    Changing or keeping a callback they already had is not taking an offer."""
    if isinstance(effect, inbound.Book):
        choice = "asap" if effect.kind == "asap" else "time"
    elif isinstance(effect, inbound.TextLink):
        choice = "link"
    else:
        return
    session.execute(
        update(IvrOffer)
        .where(IvrOffer.provider == provider, IvrOffer.call_id == state.call_id[:64], IvrOffer.accepted_at.is_(None))
        .values(accepted_at=now, choice=choice, callback_ref=callback_ref, wait_avoided_seconds=wait_avoided_seconds),
        execution_options={"synchronize_session": False},
    )
