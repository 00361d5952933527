"""What we do when an answering machine takes a callback call: hang up, or leave the
queue's short message after the beep; and whether a message left closes the callback.

Pure: the caller gives the queue's settings and what the provider's machine detection
said; nothing here reads a clock, a database or a provider.
"""

from __future__ import annotations

from enum import StrEnum

from scheduler.retry import Outcome


class MachineAction(StrEnum):
    HANG_UP = "hang_up"  # end the call at once; the retry policy's ``machine`` rule applies
    LEAVE_MESSAGE = "leave_message"  # after the beep, say the queue's voicemail_text, then hang up


class AfterMessage(StrEnum):
    RETRY = "retry"  # a message left is still a ``machine`` attempt: retried by the policy
    CLOSE = "close"  # a message left ends the callback (unreachable, with the usual text)


def machine_action(configured: str | None, voicemail_text: str | None) -> MachineAction:
    """The queue's action. Unset: leave the message when the queue has one, else hang up.
    A message without words cannot be left: hang up."""
    if not voicemail_text:
        return MachineAction.HANG_UP
    if configured is None:
        return MachineAction.LEAVE_MESSAGE
    return MachineAction(configured)


def act_on_verdict(action: MachineAction, greeting_ended: bool, already_handled: bool) -> MachineAction | None:
    """What to do now that a machine verdict arrived; None: nothing (yet).

    Handled once per attempt (a verdict delivered twice, or Vonage's machine event
    followed by its beep event, acts once). A message waits for the end of the greeting
    (Twilio's ``machine_end_*``, Vonage's beep): said earlier, the machine would not
    record it. Hanging up needs no beep."""
    if already_handled:
        return None
    if action is MachineAction.LEAVE_MESSAGE and not greeting_ended:
        return None
    return action


def closes_callback(outcome: Outcome | None, handled_as: str | None, after_message: str | None) -> bool:
    """Whether the attempt's end closes the callback instead of applying the retry policy:
    a machine took the call, our message was left, and the queue says a message is enough."""
    return (
        outcome is Outcome.MACHINE
        and handled_as == MachineAction.LEAVE_MESSAGE.value
        and after_message == AfterMessage.CLOSE.value
    )
