"""The event types a subscription may ask for, and which life-cycle step makes which."""

from __future__ import annotations

CREATED = "callback.created"
RESCHEDULED = "callback.rescheduled"
CANCELLED = "callback.cancelled"
REMINDER_SENT = "callback.reminder_sent"
ATTEMPT_FINISHED = "callback.attempt_finished"
CONNECTED = "callback.connected"
COMPLETED = "callback.completed"
UNREACHABLE = "callback.unreachable"
SMS_RECEIVED = "sms.received"

EVENT_TYPES: tuple[str, ...] = (
    CREATED,
    RESCHEDULED,
    CANCELLED,
    REMINDER_SENT,
    ATTEMPT_FINISHED,
    CONNECTED,
    COMPLETED,
    UNREACHABLE,
    SMS_RECEIVED,
)

# The life-cycle steps (scheduler/lifecycle.py) that are events of their own. The other
# steps (claim, release, retry, decline, dial_now, note) are not: a retry or a decline is
# told by the attempt it ended (callback.attempt_finished).
STEP_EVENTS: dict[str, str] = {
    "book": CREATED,
    "reschedule": RESCHEDULED,
    "cancel": CANCELLED,
    "connect": CONNECTED,
    "complete": COMPLETED,
    "give_up": UNREACHABLE,
}
