"""The console's event pages: subscriptions (supervisors read them, admins make, change,
pause, rotate and delete them) and the delivery log (supervisors and admins; a settled
delivery can be sent again). The rules are events/subscriptions.py's and events/log.py's,
the same the JSON API uses. A secret is shown once, on the answer that made it, and that
answer is never cached."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Response, abort, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from console.blueprint import console, requires
from console.i18n import N_, _, number
from console.redirects import local_target
from console.views import Known, shown_errors
from events import delivery_errors, log, subscriptions
from events.address_rules import REASONS
from events.log import AttemptView, LogFilter
from events.subscriptions import FORMATS, MAX_NAME, MAX_SECRET, MAX_URL, MIN_SECRET, SubscriptionNotFound
from events.targets import app_targets
from events.types import EVENT_TYPES
from infra import context
from infra.models import Queue
from scheduler.errors import DomainError
from services.accounts import at_least

LOG_PAGE = 50

# A delivery's status (events/log.py STATUSES) as the log names it.
STATUS_NAMES = {"pending": N_("pending"), "delivered": N_("delivered"), "failed": N_("failed")}

# Why an attempt failed (events/delivery_errors.py's codes), in a sentence.
ATTEMPT_ERRORS = {
    delivery_errors.TARGET_NOT_ALLOWED: N_("The address is not one we send to (private or reserved)"),
    delivery_errors.NAME_NOT_RESOLVED: N_("The receiver's name has no address"),
    delivery_errors.CONNECTION_REFUSED: N_("Connection refused by the receiver"),
    delivery_errors.CONNECT_TIMEOUT: N_("The receiver could not be reached within %(seconds)s s"),
    delivery_errors.TLS_FAILED: N_("The receiver's TLS certificate was not accepted (or it does not speak TLS)"),
    delivery_errors.CONNECTION_DROPPED: N_("The connection was dropped"),
    delivery_errors.READ_TIMEOUT: N_("No answer within %(seconds)s s"),
    delivery_errors.CONNECTION_FAILED: N_("The receiver could not be reached"),
}
# A short reason for the statuses receivers commonly answer; others by their class.
HTTP_REASONS = {
    400: N_("bad request"),
    401: N_("not signed in"),
    403: N_("forbidden"),
    404: N_("not found"),
    405: N_("method not allowed"),
    410: N_("gone"),
    413: N_("too large"),
    415: N_("format not accepted"),
    422: N_("content refused"),
    429: N_("too many requests"),
}
HTTP_CLASSES = {3: N_("a redirect, not followed"), 4: N_("request refused"), 5: N_("server error")}

# events/address_rules.py REASONS, as the console names them.
TARGET_REASONS = {
    "loopback": N_("a loopback address"),
    "private": N_("a private address"),
    "link_local": N_("a link-local address"),
    "unspecified": N_("an unspecified address"),
    "cgnat": N_("a carrier-grade NAT (shared) address"),
    "multicast": N_("a multicast address"),
    "broadcast": N_("the broadcast address"),
    "reserved": N_("a reserved or special-purpose address"),
}

# events/subscriptions.py's answers to the form's fields.
SUBSCRIPTION_ERRORS: Known = {
    "required": (N_("required"), {}),
    f"1 to {MAX_NAME} characters, no control characters": (
        N_("%(low)s to %(high)s characters, no control characters"),
        {"low": 1, "high": MAX_NAME},
    ),
    f"1 to {MAX_URL} characters": (N_("%(low)s to %(high)s characters"), {"low": 1, "high": MAX_URL}),
    "must not contain spaces or control characters": (N_("must not contain spaces or control characters"), {}),
    "must be an absolute http:// or https:// URL": (N_("must be an absolute http:// or https:// URL"), {}),
    "must not hold a user name or password": (N_("must not hold a user name or password"), {}),
    "the port is not valid": (N_("the port is not valid"), {}),
    "choose at least one event type": (N_("choose at least one event type"), {}),
    f"{MIN_SECRET} to {MAX_SECRET} printable characters without spaces, or 'rotate'": (
        N_("%(low)s to %(high)s printable characters without spaces"),
        {"low": MIN_SECRET, "high": MAX_SECRET},
    ),
    "no queue has this key": (N_("no queue has this key"), {}),
}


def status_name(status: str) -> str:
    return _(STATUS_NAMES[status]) if status in STATUS_NAMES else status


def attempt_text(attempt: AttemptView) -> str:
    """What became of an attempt, in a sentence: never an exception's text."""
    status = attempt.http_status
    if status is not None and 200 <= status < 300:
        return f"HTTP {status}"
    if status is not None:
        reason = HTTP_REASONS.get(status) or HTTP_CLASSES.get(status // 100)
        if reason is None:
            return _("The receiver answered HTTP %(status)s", status=status)
        return _("The receiver answered HTTP %(status)s (%(reason)s)", status=status, reason=_(reason))
    code = delivery_errors.stored_code(attempt.error) or delivery_errors.CONNECTION_FAILED
    seconds = number(context.settings().event_timeout_seconds)
    return _(ATTEMPT_ERRORS.get(code, ATTEMPT_ERRORS[delivery_errors.CONNECTION_FAILED]), seconds=seconds)


def _form_errors(error: DomainError, url: object) -> dict[str, str]:
    """A refused subscription's details as the form shows them, in the reader's language."""
    shown = shown_errors(error.details, SUBSCRIPTION_ERRORS)
    reason = error.details.get("reason")
    if "url" in error.details and reason in REASONS:  # TargetNotAllowed: its host and why
        host = urlsplit(url).hostname if isinstance(url, str) else None
        shown["url"] = _(
            "%(host)s is or resolves to %(address)s: events go to public addresses, "
            "or to hosts and networks listed in EVENT_TARGETS_ALLOWED",
            host=host or url,
            address=_(TARGET_REASONS[reason]),
        )
    return shown


def _actor() -> str:
    return str(g.user.email)


def _no_store(html: str, status: int) -> Response:
    response = Response(html, status=status)
    response.headers["Cache-Control"] = "no-store"  # it may show a secret: never cached
    return response


def _queues() -> list[tuple[str, str]]:
    with context.db().read() as session:
        return [(k, n) for k, n in session.execute(select(Queue.key, Queue.name).order_by(Queue.key))]


def _events_page(
    new_secret: tuple[str, str] | None = None,
    errors: dict[str, str] | None = None,
    form: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    with context.db().read() as session:
        rows = subscriptions.list_subscriptions(session)
        listed = [
            {
                "id": s.id,
                "name": s.name,
                "url": s.url,
                "event_types": list(s.event_types),
                "format": s.format,
                "queue": key,
                "active": s.active,
                "hint": subscriptions.secret_hint(s.secret),
                "created_by": s.created_by,
            }
            for s, key in rows
        ]
    html = render_template(
        "console_events.html",
        subscriptions=listed,
        new_secret=new_secret,
        errors=errors or {},
        form=form or {"event_types": [], "format": "json", "queue": ""},
        queues=_queues(),
        event_types=EVENT_TYPES,
        formats=FORMATS,
        admin=at_least(g.user.role, "admin"),
    )
    return _no_store(html, status)


def _form_fields(*, creating: bool) -> dict[str, Any]:
    """The form as the fields events/subscriptions.py checks (a blank secret: none given)."""
    form = request.form
    fields: dict[str, Any] = {
        "name": form.get("name", ""),
        "url": form.get("url", ""),
        "event_types": form.getlist("event_types"),
        "format": form.get("format", "json"),
        "queue": form.get("queue") or None,
    }
    secret = form.get("secret", "")
    if creating and secret:
        fields["secret"] = secret
    return fields


@console.get("/events")
@requires("supervisor")
def events() -> ResponseReturnValue:
    return _events_page()


@console.post("/events")
@requires("admin")
def add_subscription() -> ResponseReturnValue:
    fields = _form_fields(creating=True)
    targets = app_targets(fields.get("url"))  # DNS before the transaction
    try:
        with context.db().write() as session:
            saved = subscriptions.create_subscription(session, fields, _actor(), context.now(), targets)
            name, secret = saved.subscription.name, saved.new_secret
    except DomainError as error:
        return _events_page(errors=_form_errors(error, fields.get("url")), form=fields, status=422)
    assert secret is not None
    return _events_page(new_secret=(name, secret), status=201)


@console.get("/events/<int:subscription_id>")
@requires("admin")
def edit_subscription(subscription_id: int) -> ResponseReturnValue:
    with context.db().read() as session:
        try:
            subscription = subscriptions.get_subscription(session, subscription_id)
        except SubscriptionNotFound:
            abort(404)
        form = {
            "name": subscription.name,
            "url": subscription.url,
            "event_types": list(subscription.event_types),
            "format": subscription.format,
            "queue": subscriptions.queue_key_of(session, subscription) or "",
        }
    return _edit_page(subscription_id, form)


def _edit_page(
    subscription_id: int, form: dict[str, Any], errors: dict[str, str] | None = None, status: int = 200
) -> ResponseReturnValue:
    html = render_template(
        "console_event_edit.html",
        subscription_id=subscription_id,
        form=form,
        errors=errors or {},
        queues=_queues(),
        event_types=EVENT_TYPES,
        formats=FORMATS,
    )
    return html, status


@console.post("/events/<int:subscription_id>")
@requires("admin")
def change_subscription(subscription_id: int) -> ResponseReturnValue:
    fields = _form_fields(creating=False)
    targets = app_targets(fields.get("url"))  # DNS before the transaction
    try:
        with context.db().write() as session:
            subscriptions.update_subscription(session, subscription_id, fields, _actor(), context.now(), targets)
    except SubscriptionNotFound:
        abort(404)
    except DomainError as error:
        errors = _form_errors(error, fields.get("url"))
        return _edit_page(subscription_id, {**fields, "queue": fields["queue"] or ""}, errors, 422)
    return redirect(url_for("console.events"), 303)


@console.post("/events/<int:subscription_id>/active")
@requires("admin")
def set_subscription_active(subscription_id: int) -> ResponseReturnValue:
    active = request.form.get("active")
    if active not in ("yes", "no"):
        abort(400)
    try:
        with context.db().write() as session:
            subscriptions.set_active(session, subscription_id, active == "yes", _actor(), context.now())
    except SubscriptionNotFound:
        abort(404)
    return redirect(url_for("console.events"), 303)


@console.post("/events/<int:subscription_id>/rotate")
@requires("admin")
def rotate_subscription_secret(subscription_id: int) -> ResponseReturnValue:
    try:
        with context.db().write() as session:
            saved = subscriptions.update_subscription(
                session, subscription_id, {"secret": subscriptions.ROTATE}, _actor(), context.now()
            )
            name, secret = saved.subscription.name, saved.new_secret
    except SubscriptionNotFound:
        abort(404)
    assert secret is not None
    return _events_page(new_secret=(name, secret))


@console.post("/events/<int:subscription_id>/delete")
@requires("admin")
def delete_subscription(subscription_id: int) -> ResponseReturnValue:
    try:
        with context.db().write() as session:
            subscriptions.delete_subscription(session, subscription_id, _actor(), context.now())
    except SubscriptionNotFound:
        abort(404)
    return redirect(url_for("console.events"), 303)


def _form_instant(raw: str, name: str, errors: dict[str, str]) -> datetime | None:
    """A date (its midnight) or a date and time, in UTC, as the browser's inputs send them."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        instant = datetime.fromisoformat(raw)
    except ValueError:
        errors[name] = _(
            "a date (%(day)s) or a date and time (%(moment)s), in UTC", day="2027-01-04", moment="2027-01-04T09:30"
        )
        return None
    return instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant.astimezone(UTC)


def _log_filter(errors: dict[str, str]) -> tuple[LogFilter, int | None]:
    args = request.args
    subscription = args.get("subscription", "")
    status = args.get("status", "")
    cursor = args.get("cursor", "")
    since = _form_instant(args.get("from", ""), "from", errors)
    until = _form_instant(args.get("until", ""), "until", errors)
    if status and status not in log.STATUSES:
        errors["status"] = _("pending, delivered or failed")
    if since is not None and until is not None and until <= since:
        errors["until"] = _("must be after from")
    if subscription and not subscription.isdigit():
        errors["subscription"] = _("choose a subscription")
    return (
        LogFilter(
            subscription_id=int(subscription) if subscription.isdigit() and len(subscription) < 18 else None,
            status=status if status in log.STATUSES else None,
            since=since,
            until=until,
        ),
        int(cursor) if cursor.isdigit() and len(cursor) < 18 else None,
    )


@console.get("/events/deliveries")
@requires("supervisor")
def deliveries() -> ResponseReturnValue:
    errors: dict[str, str] = {}
    log_filter, cursor = _log_filter(errors)
    with context.db().read() as session:
        page = log.list_deliveries(session, log_filter, LOG_PAGE, cursor)
        names = [(s.id, s.name) for s, _ in subscriptions.list_subscriptions(session)]
    older = None
    if page.next_cursor is not None:
        query = urlencode({**request.args.to_dict(), "cursor": str(page.next_cursor)})
        older = f"{url_for('console.deliveries')}?{query}"
    html = render_template(
        "console_deliveries.html",
        deliveries=page.deliveries,
        subscriptions=names,
        statuses=log.STATUSES,
        status_name=status_name,
        attempt_text=attempt_text,
        args=request.args,
        errors=errors,
        older=older,
        here=request.full_path.rstrip("?"),
    )
    return html, 422 if errors else 200


@console.post("/events/deliveries/<int:delivery_id>/redeliver")
@requires("supervisor")
def redeliver(delivery_id: int) -> ResponseReturnValue:
    try:
        with context.db().write() as session:
            log.redeliver(session, delivery_id, context.now(), _actor())
    except log.DeliveryNotFound:
        abort(404)
    back = local_target(request.form.get("next", ""), "/console/events/deliveries", url_for("console.deliveries"))
    return redirect(back, 303)
