"""The HTTP status of every domain error, by its machine-readable ``type``: the errors
themselves (scheduler/errors.py and the services') carry none, because the web is one
of their shells (the IVR and texts map the same types to a spoken or texted prompt).
tests/unit/test_error_statuses.py checks that every error type has its status here."""

from __future__ import annotations

from scheduler.errors import DomainError

HTTP_STATUS: dict[str, int] = {
    "domain_error": 400,
    # Booking, slots and callbacks (scheduler/errors.py)
    "queue_not_found": 404,
    "callback_not_found": 404,
    "slot_not_found": 404,
    "slot_full": 409,
    "outside_hours": 409,
    "callbacks_withheld": 409,
    "too_soon": 422,
    "too_far": 422,
    "phone_invalid": 422,
    "phone_country_not_allowed": 422,
    "validation_error": 422,
    "not_cancellable": 409,
    "not_reschedulable": 409,
    "idempotency_key_reused": 422,
    "illegal_transition": 409,
    "request_phone_blacklisted": 403,
    "request_throttle_count": 429,
    "capacity_below_booked": 409,
    "slot_in_the_past": 409,
    "link_invalid": 404,
    "link_expired": 410,
    "link_used": 410,
    "not_dialable": 409,
    "person_on_call": 409,
    # Console sign-in (services/accounts.py)
    "login_refused": 401,
    "login_throttled": 429,
    # Requests (app/request_input.py) and keys (app/protection.py)
    "malformed_json": 400,
    "unsupported_media_type": 415,
    "api_key_invalid": 401,
    "api_key_required": 401,
    "admin_key_required": 403,
    # CRM events (events/)
    "delivery_not_found": 404,
    "target_not_allowed": 422,
    "subscription_invalid": 422,
    "subscription_not_found": 404,
}


def http_status(error: DomainError | type[DomainError]) -> int:
    """The status a page or the API answers ``error`` (an error or its class) with."""
    return HTTP_STATUS[error.type]
