"""The hosted booking page: ``/book/<queue>``, server-rendered, working without JavaScript.

The same booking as the widget and the API (``services.booking_service``), with the same
guards (``app.protection``: per-address limit, per-number allowance, blocked
numbers, the honeypot). Errors are shown next to the field they are about, with a 4xx
status; nothing a visitor sends is put in the page unescaped (Jinja autoescaping).
A booking link from a text (``?t=``, ``services.links``) fills in the phone number.

Routes:
- ``GET /book/<queue>``: the form (``?from=YYYY-MM-DD`` for later days, ``?lang=`` en/ru/fr).
- ``POST /book/<queue>``: book; 303 to the confirmation, or the form again with the errors.
- ``GET /book/<queue>/callbacks/<ref>``: the confirmation, with a cancel button.
- ``POST /book/<queue>/callbacks/<ref>/cancel``: cancel it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from flask import Blueprint, Response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from app.error_statuses import http_status
from app.protection import check_phone
from app.request_input import parse_instant
from infra import context
from infra.i18n import Catalogs
from infra.models import Callback, Queue
from scheduler.attribution import UTM_KEYS
from scheduler.attribution import kept as kept_attribution
from scheduler.calendar import is_open
from scheduler.consent import consent_wording
from scheduler.day_picker import Day, chosen_day, days_of
from scheduler.errors import DomainError, LinkExpired, LinkInvalid, LinkUsed, QueueNotFound, ValidationFailed
from services.availability import bookable_rows_of_days
from services.booking_service import BookingRequest, book, cancel, get_callback, prepare_booking
from services.links import BookingLink, is_used, link_callback, read_booking_token, reschedule_with_link
from services.queues import get_queue, queue_calendar
from sms.service import confirm_new_booking
from sms.texts import format_time_of_day
from web_widget.schemas import Attribution, CreateCallback, validate
from web_widget.web_booking import web_form_problems, web_tags

booking_page = Blueprint("booking_page", __name__, template_folder="templates")


@booking_page.after_request
def _no_referrer(response: Response) -> Response:
    """A booking link's URL holds its token (?t=): no link followed from the page sends it on."""
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


CATALOGS = Catalogs(Path(__file__).parent / "locales", "web")
DAYS_SHOWN = 7
ACTOR = "customer:web"

# Which field a booking error is shown next to.
FIELD_OF = {
    "phone_invalid": "phone",
    "phone_country_not_allowed": "phone",
    "request_phone_blacklisted": "phone",
    "request_throttle_count": "phone",
    "slot_full": "when",
    "slot_not_found": "when",
    "too_soon": "when",
    "too_far": "when",
    "outside_hours": "when",
}


def N_(message: str) -> str:
    return message


# Messages shown next to a field, by error type (the API's own messages are English).
ERROR_TEXT = {
    "phone_invalid": N_("This is not a phone number we can call. Please check it."),
    "phone_country_not_allowed": N_("We cannot call numbers in this country."),
    "request_phone_blacklisted": N_("This number cannot book a callback here."),
    "request_throttle_count": N_("This number has asked for several callbacks already. Please try again later."),
    "request_throttle_timeout": N_("Too many requests. Please wait a moment and try again."),
    "slot_full": N_("That time has just been taken. Please choose another."),
    "slot_not_found": N_("That time is not available. Please choose another."),
    "too_soon": N_("That time is too soon now. Please choose a later one."),
    "too_far": N_("That time is too far ahead. Please choose an earlier one."),
    "outside_hours": N_("We are closed now. Please choose a time."),
    "required": N_("Please fill this in."),
    "invalid": N_("Please check this: it is too long or has characters we cannot take."),
    "choose_time": N_("Please choose when we should call."),
    "link_invalid": N_("This link is not valid. You can book a callback below."),
    "link_expired": N_("This link has expired. You can book a callback below."),
    "link_used": N_("This link has already been used to move your callback. You can book a callback below."),
    "not_reschedulable": N_("This callback can no longer be moved. You can book another one below."),
}
# The parts of a day the times are grouped by (scheduler/day_picker.py).
PART_TEXT = {"morning": N_("Morning"), "afternoon": N_("Afternoon"), "evening": N_("Evening")}


@dataclass
class Form:
    phone: str = ""
    name: str = ""
    when: str = ""
    unit: str = ""
    sms_consent: bool = False
    fields: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def _language(queue: Queue) -> str:
    return CATALOGS.language_code(request.args.get("lang") or queue.language)


def _translator(language: str) -> Callable[[str], str]:
    return lambda message: CATALOGS.gettext(message, language)


def _error_texts(language: str) -> Callable[[str], str]:
    def error_text(key: str) -> str:
        return CATALOGS.gettext(ERROR_TEXT.get(key, key), language)

    return error_text


def _days(queue: Queue, first_day: date | None) -> list[Day]:
    """The local days of ``DAYS_SHOWN`` from ``first_day`` that have a bookable time, each
    with its times (scheduler/day_picker.py)."""
    _, rows = bookable_rows_of_days(context.db(), queue.key, context.now(), first_day, DAYS_SHOWN)
    return days_of((start for start, _end, _seats in rows), ZoneInfo(queue.timezone))


# Where the visitor came from, as the widget sends it (docs/widget.md#attribution): the
# page's UTM parameters and ``ref``, the referrer of the first page of the visit (the page
# itself sends none onward: Referrer-Policy no-referrer), kept by its links and its form.
UTM_ARGS = {f"utm_{key}": key for key in UTM_KEYS}
REFERRER_ARG = "ref"


def _kept_args(language: str, day: date | None) -> dict[str, Any]:
    """The query a day link and the form's action keep: the language, the window of days
    (``from``), the day shown, a booking link's token and where the visitor came from."""
    kept: dict[str, Any] = {"lang": language}
    for name in ("from", "t", *UTM_ARGS):
        if request.args.get(name):
            kept[name] = request.args[name]
    referrer = _referrer()
    if referrer:
        kept[REFERRER_ARG] = referrer
    if day is not None:
        kept["day"] = day.isoformat()
    return kept


def _referrer() -> str | None:
    """The referrer of the visit's first page: ``?ref=`` once a page of ours set it, else
    the Referer a browser sent from another site (none from our own pages)."""
    if request.args.get(REFERRER_ARG):
        return request.args[REFERRER_ARG]
    referrer = request.referrer
    if referrer and urlsplit(referrer).netloc != request.host:
        return referrer
    return None


def _attribution(queue: Queue) -> dict[str, str] | None:
    """The booking's attribution from the page's query: the UTM values, the referrer and the
    landing page (the booking page with those UTM values; never a link's token). A value the
    API's schema would refuse (too long, control characters) is left out, not the booking."""
    found: dict[str, str] = {key: request.args[arg] for arg, key in UTM_ARGS.items() if request.args.get(arg)}
    referrer = _referrer()
    if referrer:
        found["referrer"] = referrer
    if found:
        utm = {arg: request.args[arg] for arg in UTM_ARGS if request.args.get(arg)}
        found["landing_page"] = url_for("booking_page.show_form", key=queue.key, _external=True, **utm)
    good = {}
    for key, value in found.items():
        try:
            validate(Attribution, {key: value})
        except ValidationFailed:
            continue
        good[key] = value
    return kept_attribution(good)


def _wanted_day(form: Form, zone: ZoneInfo) -> date | None:
    """The day whose times to show: the day of the time the form chose (shown again after
    an error), else ``?day=``."""
    try:
        return parse_instant(form.when).astimezone(zone).date()
    except ValueError:
        pass
    try:
        return date.fromisoformat(request.args.get("day", ""))
    except ValueError:
        return None


def _page(
    queue: Queue,
    form: Form,
    status: int = 200,
    notice: str | None = None,
    reschedule: dict[str, str | None] | None = None,
) -> ResponseReturnValue:
    """The form: a new booking, or (``reschedule``: the booking a link moves) times only."""
    language = _language(queue)
    first_day = _first_day()
    now = context.now()
    open_now = is_open(queue_calendar(queue), now)
    shown_from = first_day or now.astimezone(ZoneInfo(queue.timezone)).date()
    widget = {} if reschedule else (queue.widget or {})
    days = _days(queue, first_day)
    shown_day = chosen_day(days, _wanted_day(form, ZoneInfo(queue.timezone)))
    html = render_template(
        "book.html",
        _=_translator(language),
        lang=language,
        queue=queue,
        form=form,
        notice=notice,
        asap=not reschedule and (open_now or queue.collect_off_hours),
        open_now=open_now,
        days=days,
        shown_day=shown_day,
        day_heading=lambda day: format_date(day, "EEEE d MMMM", locale=language),
        times_count=lambda n: CATALOGS.ngettext("%(num)d time", "%(num)d times", n, language) % {"num": n},
        part_name=lambda part: CATALOGS.gettext(PART_TEXT[part], language),
        day_link=lambda day: url_for("booking_page.show_form", key=queue.key, **_kept_args(language, day)),
        kept=_kept_args(language, shown_day.day if shown_day else None),
        later=None if reschedule else (shown_from + timedelta(days=DAYS_SHOWN)).isoformat(),
        earlier=(shown_from - timedelta(days=DAYS_SHOWN)).isoformat() if first_day and not reschedule else None,
        extra_fields=[{"required": False, **f} for f in widget.get("fields", [])],
        units=widget.get("units", []),
        error_text=_error_texts(language),
        reschedule=reschedule,
    )
    return html, status


def _first_day() -> date | None:
    raw = request.args.get("from")
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        return None


def _queue(key: str) -> Queue:
    """The queue with its hours loaded, for use after its read transaction."""
    with context.db().read() as session:
        queue = get_queue(session, key)
        queue_calendar(queue)  # loads (and caches) its weekly hours and date overrides
        session.expunge(queue)
        return queue


def _read_link(queue: Queue, token: str) -> tuple[BookingLink | None, str | None, int]:
    """(the link, or None; the notice to show; the status) for a ``?t=`` token."""
    try:
        link = read_booking_token(context.settings().secret_key, token, context.now())
    except (LinkInvalid, LinkExpired) as error:
        return None, error.type, http_status(error)
    if link.queue != queue.key:
        return None, "link_invalid", http_status(LinkInvalid)
    return link, None, 200


@booking_page.get("/book/<key>")
def show_form(key: str) -> ResponseReturnValue:
    """The form; with a booking link (``?t=``) the phone is filled in, and a reschedule
    link shows the callback it moves and offers times for it instead."""
    queue = _queue(key)
    form, notice, status = Form(), None, 200
    if request.args.get("notice") == "link_expired":  # from an expired short link (/b/<code>)
        notice = "link_expired"
    token = request.args.get("t")
    if token:
        link, notice, status = _read_link(queue, token)
        if link is not None:
            form.phone = link.phone
            if link.is_reschedule:
                return _reschedule_page(queue, link, token, form)
    return _page(queue, form, status, notice)


def _reschedule_page(queue: Queue, link: BookingLink, token: str, form: Form, status: int = 200) -> ResponseReturnValue:
    """A reschedule link: the booking it moves and the free times; or, when the link was
    used or its callback can no longer move, why, above a fresh booking form."""
    with context.db().read() as session:
        try:
            callback = link_callback(session, link)
        except LinkInvalid as error:
            return _page(queue, Form(phone=link.phone), http_status(error), error.type)
        if is_used(session, link):
            return _page(queue, Form(phone=link.phone), http_status(LinkUsed), "link_used")
        if callback.state not in ("requested", "scheduled", "retry_wait"):
            return _page(queue, Form(phone=link.phone), 409, "not_reschedulable")
        current = _when(queue, callback)
    return _page(queue, form, status, reschedule={"when": current, "ref": callback.ref, "token": token})


@booking_page.post("/book/<key>/reschedule")
def reschedule_submit(key: str) -> ResponseReturnValue:
    """Move the callback of a reschedule link (single use: app/links.reschedule_with_link)."""
    queue = _queue(key)
    token = request.args.get("t", "")
    link, notice, status = _read_link(queue, token)
    if link is None or not link.is_reschedule:
        return _page(queue, Form(), status if link is None else 404, notice or "link_invalid")
    form = Form(phone=link.phone, when=request.form.get("when", ""))
    try:
        slot_start = parse_instant(form.when)
    except ValueError:
        form.errors["when"] = "choose_time"
        return _reschedule_page(queue, link, token, form, 422)
    try:
        with context.db().write() as session:
            callback = reschedule_with_link(session, link, slot_start, context.now())
            ref = callback.ref
    except (LinkUsed, LinkInvalid) as error:
        return _page(queue, Form(phone=link.phone), http_status(error), error.type)
    except DomainError as error:  # the time went meanwhile, or is too soon: say so by the times
        form.errors[FIELD_OF.get(error.type, "when")] = error.type
        form.when = ""
        return _reschedule_page(queue, link, token, form, http_status(error))
    return redirect(url_for("booking_page.confirmation", key=queue.key, ref=ref, lang=_language(queue)), 303)


def _when(queue: Queue, callback: Callback) -> str | None:
    instant = callback.promised_at
    if instant is None:
        return None
    return format_datetime(instant.astimezone(ZoneInfo(queue.timezone)), "EEEE d MMMM, HH:mm", locale=_language(queue))


@booking_page.post("/book/<key>")
def submit(key: str) -> ResponseReturnValue:
    queue = _queue(key)
    values = request.form
    widget = queue.widget or {}
    form = Form(
        phone=values.get("phone", "").strip(),
        name=values.get("name", "").strip(),
        when=values.get("when", ""),
        unit=values.get("unit", ""),
        sms_consent=values.get("sms_consent") == "yes",
        fields={f["name"]: values.get(f"field_{f['name']}", "").strip() for f in widget.get("fields", [])},
    )
    if values.get("website"):  # the honeypot: a person never sees it
        form.errors["form"] = "required"
        return _page(queue, form, 422)
    if not form.phone:
        form.errors["phone"] = "required"
    if not form.when:
        form.errors["when"] = "choose_time"
    for key in web_form_problems(widget, form.fields, form.unit or None):  # shown as "please fill this in"
        form.errors[key.replace("fields.", "field_")] = "required"
    if form.errors:
        return _page(queue, form, 422)
    try:
        slot_start = None if form.when == "asap" else parse_instant(form.when)
    except ValueError:
        form.errors["when"] = "choose_time"
        return _page(queue, form, 422)
    form.errors.update(_schema_problems(queue, form))  # what the API would refuse, refused here too
    if form.errors:
        return _page(queue, form, 422)
    booking = BookingRequest(
        queue=queue.key,
        phone=form.phone,
        kind="asap" if slot_start is None else "scheduled",
        source="web",
        slot_start=slot_start,
        name=form.name or None,
        fields=[{"name": n, "value": v} for n, v in form.fields.items() if v],
        tags=web_tags(widget, []),
        unit=form.unit or None,
        locale=_language(queue),
        sms_consent=form.sms_consent,
        consent_wording=consent_wording("booking_page"),
        attribution=_attribution(queue),
    )
    now = context.now()
    try:
        with context.db().read() as session:
            prepared = prepare_booking(session, booking, now, context.settings().agent_figures_max_age)
            if not prepared.has_live_callback:
                check_phone(session, prepared.queue, prepared.phone, now)
        with context.db().write() as session:
            result = book(session, booking, now, ACTOR, prepared=prepared)
            confirm_new_booking(session, result, now, context.settings().caller_id)
            ref = result.callback.ref
    except QueueNotFound:
        raise
    except DomainError as error:  # shown next to its field, the form kept
        form.errors[FIELD_OF.get(error.type, "form")] = error.type
        if error.type in ("slot_full", "too_soon", "slot_not_found"):
            form.when = ""
        return _page(queue, form, http_status(error))
    return redirect(url_for("booking_page.confirmation", key=queue.key, ref=ref, lang=_language(queue)), 303)


def _schema_problems(queue: Queue, form: Form) -> dict[str, str]:
    """The form as the API's booking document, checked with the API's own schema
    (CreateCallback): the page takes nothing the API refuses. Per form field, "invalid"."""
    named = [(n, v) for n, v in form.fields.items() if v]
    document = {
        "queue": queue.key,
        "phone": form.phone,
        "kind": "asap" if form.when == "asap" else "scheduled",
        "slot_start": None if form.when == "asap" else form.when,
        "name": form.name or None,
        "fields": [{"name": n, "value": v} for n, v in named],
        "unit": form.unit or None,
        "sms_consent": form.sms_consent,
    }
    try:
        validate(CreateCallback, document)
    except ValidationFailed as error:
        problems: dict[str, str] = {}
        for loc in error.details:
            head, index, *_ = [*loc.split("."), ""]
            if head == "fields" and index.isdigit() and int(index) < len(named):
                problems[f"field_{named[int(index)][0]}"] = "invalid"
            elif head in ("phone", "name", "unit"):
                problems[head] = "invalid"
            elif head == "slot_start":
                problems["when"] = "choose_time"
            else:
                problems["form"] = "invalid"
        return problems
    return {}


def _callback_page(queue: Queue, callback: Callback, status: int = 200) -> ResponseReturnValue:
    language = _language(queue)
    when = _when(queue, callback) if callback.kind == "scheduled" else None
    # An ASAP callback's ECBT range, written as the confirmation text writes it.
    told = [format_time_of_day(t, queue.timezone) for t in callback.promised_window or ()] if not when else []
    html = render_template(
        "book_done.html",
        _=_translator(language),
        lang=language,
        queue=queue,
        callback=callback,
        when=when,
        told=told,
        cancellable=callback.state in ("requested", "scheduled", "retry_wait"),
    )
    return html, status


@booking_page.get("/book/<key>/callbacks/<ref>")
def confirmation(key: str, ref: str) -> ResponseReturnValue:
    queue = _queue(key)
    with context.db().read() as session:
        callback = get_callback(session, ref)
        if callback.queue_id != queue.id:
            return _not_found(queue)
        return _callback_page(queue, callback)


@booking_page.post("/book/<key>/callbacks/<ref>/cancel")
def cancel_booking(key: str, ref: str) -> ResponseReturnValue:
    queue = _queue(key)
    with context.db().write() as session:
        callback = get_callback(session, ref, for_update=True)
        if callback.queue_id != queue.id:
            return _not_found(queue)
        try:
            callback = cancel(session, ref, context.now(), ACTOR, reason="cancelled on the booking page")
        except DomainError as error:  # being dialled or done: say so on its page
            return _callback_page(queue, callback, http_status(error))
        return _callback_page(queue, callback)


def _not_found(queue: Queue) -> Response:
    return Response(f"No such callback for {queue.name}", status=404, mimetype="text/plain")


@booking_page.errorhandler(DomainError)
def _page_error(error: DomainError) -> ResponseReturnValue:
    """A missing queue or callback on a page is a page with the status, not the API's JSON."""
    html = render_template("book_error.html", _=_translator("en"), lang="en", message=error.message)
    return html, http_status(error)
