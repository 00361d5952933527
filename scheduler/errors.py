"""Domain errors with a stable machine-readable ``type``.

The JSON API maps them to ``{type, message, details}`` with the status below; the IVR
and SMS shells map the same types to a spoken or texted retry prompt.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    type = "domain_error"

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "message": self.message, "details": self.details}


class QueueNotFound(DomainError):
    """No queue has that key."""

    type = "queue_not_found"


class CallbackNotFound(DomainError):
    """No callback has that reference."""

    type = "callback_not_found"


class SlotNotFound(DomainError):
    """The queue has no bookable slot starting at that instant."""

    type = "slot_not_found"


class SlotFull(DomainError):
    """Every seat of the slot is taken."""

    type = "slot_full"


class CallbacksWithheld(DomainError):
    """The queue takes no new callbacks now: switched off, too many waiting, or the
    estimated callback time too long (scheduler/offer_limits.py); ``details`` says which."""

    type = "callbacks_withheld"


class OutsideHours(DomainError):
    """The queue is closed and does not collect requests off-hours."""

    type = "outside_hours"


class TooSoon(DomainError):
    """The slot starts before the queue's lead time allows."""

    type = "too_soon"


class TooFar(DomainError):
    """The slot starts beyond the queue's booking horizon."""

    type = "too_far"


class PhoneInvalid(DomainError):
    """The phone number is not a valid number."""

    type = "phone_invalid"


class PhoneCountryNotAllowed(DomainError):
    """The queue does not call that country."""

    type = "phone_country_not_allowed"


class ValidationFailed(DomainError):
    """The request does not have the expected shape (details per field)."""

    type = "validation_error"


class NotCancellable(DomainError):
    """The callback is past the point where it can be cancelled."""

    type = "not_cancellable"


class NotReschedulable(DomainError):
    """The callback can no longer be moved to another slot."""

    type = "not_reschedulable"


class IdempotencyKeyReused(DomainError):
    """The Idempotency-Key was used before with a different request."""

    type = "idempotency_key_reused"


class IllegalTransition(DomainError):
    """A life-cycle step the current state does not allow: a bug or a race, never user input."""

    type = "illegal_transition"


class PhoneBlocked(DomainError):
    """The number (or its prefix) is on the queue's list of numbers not accepted from the web."""

    type = "request_phone_blacklisted"


class TooManyForPhone(DomainError):
    """This number made the queue's hourly allowance of booking requests."""

    type = "request_throttle_count"


class CapacityBelowBooked(DomainError):
    """A slot's capacity may not go below the seats already booked in it."""

    type = "capacity_below_booked"


class SlotInThePast(DomainError):
    """A slot that has begun is history: its capacity no longer changes."""

    type = "slot_in_the_past"


class LinkInvalid(DomainError):
    """A booking link that is not ours: tampered with, signed with another key, or unknown."""

    type = "link_invalid"


class LinkExpired(DomainError):
    """A booking link past its expiry (BOOKING_LINK_DAYS after it was sent)."""

    type = "link_expired"


class LinkUsed(DomainError):
    """A reschedule link that has already moved its callback once: it is single-use."""

    type = "link_used"


class NotDialable(DomainError):
    """Only a callback waiting for its call (requested, scheduled, retry_wait) can be dialled now."""

    type = "not_dialable"


class PersonOnCall(DomainError):
    """An erasure request for a number we are on a call with right now: asked again once
    the call has ended, it goes through."""

    type = "person_on_call"
