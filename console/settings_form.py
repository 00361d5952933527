"""A queue's settings as a form, one input per setting (the hours have their own form):
read from the queue's document and written back into it, so the document's checks, the
slot re-planning and the audit log apply as when the document itself is edited."""

from __future__ import annotations

from typing import Any

from flask import g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from console.blueprint import console, requires
from console.i18n import N_, _
from console.queue_views import document_error, save_edited
from infra import context
from scheduler.retry import DEFAULT_RULES, Outcome
from services.queue_documents import export_queue
from services.queues import get_queue

TEXT = ("name", "timezone", "region")
OPTIONAL_TEXT = (  # empty: None
    "agent_target", "caller_id", "voicemail_text", "twilio_queue",
    "taskrouter_workspace_sid", "taskrouter_task_queue_sid", "taskrouter_workflow_sid",
)  # fmt: skip
NUMBERS = (
    "max_concurrent_calls", "offer_threshold_seconds", "offer_repeat_seconds", "callers_waiting", "agents",
    "average_handle_seconds", "estimated_wait_seconds", "lead_minutes", "horizon_days", "asap_reserve_percent",
)  # fmt: skip
CHECKS = ("offer_at_entry", "collect_off_hours", "register_enabled", "process_enabled")
OPTIONAL_NUMBERS = ("max_pending", "max_ecbt_seconds")  # empty: no limit
FRACTIONS = ("over_dial_ratio",)
CHOICES = {
    "language": ("en", "ru", "fr"),
    "dial_mode": ("customer_first", "agent_first"),
    "hold_mode": ("dial", "enqueue"),
}
OUTCOMES = [o.value for o in DEFAULT_RULES]  # the outcomes a retry rule is for (not "connected")
# What a person reads for a choice's value (the value itself is what the form sends).
CHOICE_NAMES = {
    "language": {"en": N_("English"), "ru": N_("Russian"), "fr": N_("French")},
    "dial_mode": {"customer_first": N_("Customer first"), "agent_first": N_("Agent first")},
    "hold_mode": {"dial": N_("a plain Dial (dial)"), "enqueue": N_("a Twilio queue (enqueue)")},
    "in_quiet_hours": {"earlier": N_("Send it earlier"), "skip": N_("Skip it")},
}
OUTCOME_NAMES = {
    "busy": N_("Busy"),
    "no_answer": N_("No answer"),
    "machine": N_("Answering machine"),
    "rejected": N_("Rejected"),
    "failed": N_("Failed"),
    "customer_hung_up": N_("Customer hung up"),
    "agent_unavailable": N_("Agent unavailable"),
}
# The settings typed as whole numbers (the document's field: the form's input), and the decimals.
WHOLE_NUMBERS = {name: name for name in (*NUMBERS, *OPTIONAL_NUMBERS, "retention_days")} | {
    "widget.requests_per_phone_per_hour": "widget-per-phone"
}


def choice_name(name: str, value: str) -> str:
    said = CHOICE_NAMES.get(name, {}).get(value)
    return _(said) if said else value


def outcome_name(outcome: str) -> str:
    return _(OUTCOME_NAMES[outcome]) if outcome in OUTCOME_NAMES else outcome


def _number(raw: str) -> int | str:
    raw = raw.strip()
    return int(raw) if raw.isdigit() else raw


def _fraction(raw: str) -> float | str:
    """A decimal ("0.25"), or the text as typed for the document's check to name."""
    try:
        return float(raw.strip())
    except ValueError:
        return raw.strip()


def _list(raw: str) -> list[str]:
    return [part.strip() for part in raw.replace("\n", ",").split(",") if part.strip()]


def _lines(raw: str) -> list[list[str]]:
    return [[cell.strip() for cell in line.split("|")] for line in raw.splitlines() if line.strip()]


def apply_form(document: dict[str, Any], form: Any) -> dict[str, Any]:
    """The document with the form's values put in (checked later, as a whole)."""
    doc = dict(document)
    for name in TEXT:
        doc[name] = form.get(name, "").strip()
    for name in OPTIONAL_TEXT:
        doc[name] = form.get(name, "").strip() or None
    for name in NUMBERS:
        doc[name] = _number(form.get(name, ""))
    for name in CHECKS:
        doc[name] = form.get(name) == "yes"
    for name in FRACTIONS:
        doc[name] = _fraction(form.get(name, ""))
    for name in OPTIONAL_NUMBERS:
        doc[name] = _number(form.get(name, "")) if form.get(name, "").strip() else None
    for name in CHOICES:
        doc[name] = form.get(name, "")
    doc["allowed_countries"] = [c.upper() for c in _list(form.get("allowed_countries", ""))]
    rules = {}
    for outcome in OUTCOMES:  # only what differs from the defaults goes in the document
        rule = {
            "delay_seconds": _number(form.get(f"retry-{outcome}-delay", "")),
            "max_attempts": _number(form.get(f"retry-{outcome}-attempts", "")),
        }
        default = DEFAULT_RULES[Outcome(outcome)]
        if rule != {"delay_seconds": default.delay_seconds, "max_attempts": default.max_attempts}:
            rules[outcome] = rule
    doc["retry_policy"] = {
        "rules": rules,
        "quiet_hours": {
            "enabled": form.get("quiet-enabled") == "yes",
            "starts": form.get("quiet-starts", "").strip(),
            "ends": form.get("quiet-ends", "").strip(),
        },
    }
    doc["reminders"] = {
        "confirmation": form.get("reminders-confirmation") == "yes",
        "before_minutes": [_number(m) for m in _list(form.get("reminders-before", ""))],
        "in_quiet_hours": form.get("reminders-in-quiet", ""),
    }
    widget = dict(doc.get("widget") or {})
    widget["allowed_origins"] = _list(form.get("widget-origins", ""))
    widget["tags"] = _list(form.get("widget-tags", ""))
    widget["blocked_numbers"] = _list(form.get("widget-blocked", ""))
    widget["requests_per_phone_per_hour"] = _number(form.get("widget-per-phone", ""))
    widget["fields"] = [
        {
            "name": cells[0],
            "label": cells[1] if len(cells) > 1 else "",
            "required": len(cells) > 2 and cells[2] == "required",
        }
        for cells in _lines(form.get("widget-fields", ""))
    ]
    widget["units"] = [
        {"id": cells[0], "name": cells[1] if len(cells) > 1 else ""} for cells in _lines(form.get("widget-units", ""))
    ]
    doc["widget"] = widget
    retention = form.get("retention_days", "").strip()
    doc["retention_days"] = _number(retention) if retention else None
    return doc


def _not_a_number(raw: str, number: type[int] | type[float]) -> bool:
    try:
        number(raw.strip())
    except ValueError:
        return True
    return False


def form_errors(details: dict[str, Any], form: Any) -> dict[str, str]:
    """The document's errors per field, in the console's words where the form can tell
    what is wrong (text typed where a number goes); the document's own words otherwise."""
    errors = {field: str(problem) for field, problem in details.items()}
    for field in errors:
        if field in WHOLE_NUMBERS and _not_a_number(form.get(WHOLE_NUMBERS[field], ""), int):
            errors[field] = _("a whole number, like 30")
        elif field in FRACTIONS and _not_a_number(form.get(field, ""), float):
            errors[field] = _("a number, like 0.25")
    return errors


def _page(key: str, document: dict[str, Any], errors: dict[str, str], status: int = 200) -> ResponseReturnValue:
    rules = {o: (document.get("retry_policy") or {}).get("rules", {}).get(o) for o in OUTCOMES}
    defaults = {o: DEFAULT_RULES[Outcome(o)] for o in OUTCOMES}
    html = render_template(
        "console_settings.html",
        key=key,
        d=document,
        rules=rules,
        defaults=defaults,
        outcomes=OUTCOMES,
        choices=CHOICES,
        choice_name=choice_name,
        outcome_name=outcome_name,
        errors=errors,
        editable=g.user.role in ("supervisor", "admin"),
    )
    return html, status


@console.get("/queues/<key>/settings")
@requires("viewer")
def queue_settings(key: str) -> ResponseReturnValue:
    with context.db().read() as session:
        return _page(key, export_queue(get_queue(session, key)), {})


@console.post("/queues/<key>/settings")
@requires("supervisor")
def save_queue_settings(key: str) -> ResponseReturnValue:
    wanted, error = save_edited(
        key,
        lambda current: apply_form(current, request.form),
        "queue.settings",
        lambda before, after: [k for k in after if after[k] != before.get(k)],
    )
    if error is not None:
        errors = form_errors(error.details, request.form) or {"form": document_error(error)}
        return _page(key, wanted, errors, 422)
    return redirect(url_for("console.queue_settings", key=key, saved=1), 303)
