"""What reports need of the inbound IVR: which calls it offered a callback to, and which
callers took it (booked one or asked for a link).

One row per call, keyed by (provider, call id): a provider retrying a webhook, or the
IVR offering again after a hold, changes nothing; the first acceptance is the one kept.
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


def note_offer(session: Session, queue_id: int, provider: str, reply: inbound.Reply, now: datetime) -> None:
    """Record the offer when ``reply`` is the IVR offering a callback."""
    state = reply.state
    if state is None or state.step != "offer":
        return
    connection = session.connection()
    connection.execute(
        _NOTE[connection.dialect.name],
        {"queue_id": queue_id, "provider": provider, "call_id": state.call_id[:64], "offered_at": now},
    )


def note_acceptance(
    session: Session,
    provider: str,
    state: inbound.IvrState,
    effect: inbound.Effect,
    now: datetime,
    callback_ref: str | None = None,
) -> None:
    """The caller took the offer: a new booking (ASAP or a time, ``callback_ref`` the
    callback's) or a text with a link. Changing or keeping a callback they already had is
    not taking an offer."""
    if isinstance(effect, inbound.Book):
        choice = "asap" if effect.kind == "asap" else "time"
    elif isinstance(effect, inbound.TextLink):
        choice = "link"
    else:
        return
    session.execute(
        update(IvrOffer)
        .where(IvrOffer.provider == provider, IvrOffer.call_id == state.call_id[:64], IvrOffer.accepted_at.is_(None))
        .values(accepted_at=now, choice=choice, callback_ref=callback_ref),
        execution_options={"synchronize_session": False},
    )
