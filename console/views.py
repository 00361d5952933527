"""The console's pages: sign-in, the overview of queues, users and API keys (admins), the
audit log (the capacity grid: console/capacity_views.py). The guard on every route
(roles, CSRF, the session cookie) is console/blueprint.py's.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, abort, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select

from app.error_statuses import http_status
from console.blueprint import console, requires
from console.i18n import COOKIE, COOKIE_SECONDS, LANGUAGES, N_, _, ngettext
from console.redirects import local_target
from console.sessions import LONG_LIVED
from infra import context
from infra.account_models import ApiKey, AuditEntry, ConsoleUser
from infra.audit import audit
from infra.models import Callback, Queue, Slot
from scheduler.errors import DomainError
from scheduler.lifecycle import LIVE_STATES
from services import centre_switches
from services.accounts import (
    API_KEY_ROLES,
    MIN_PASSWORD,
    ROLES,
    LoginRefused,
    LoginThrottled,
    authenticate,
    create_api_key,
    create_user,
)
from services.login_throttle import peek, throttles_for

# A known English text from a service (one field's detail) -> the console's text and its values.
Known = Mapping[str, tuple[str, Mapping[str, Any]]]


def shown_errors(details: Mapping[str, Any], known: Known) -> dict[str, str]:
    """A DomainError's details, per field, as the console shows them: a text the console
    knows in the reader's language, any other (a newer rule's) in the service's English."""
    shown = {}
    for name, text in details.items():
        message, values = known.get(str(text), (None, {}))
        shown[name] = _(message, **values) if message else str(text)
    return shown


# services/accounts.py's answers to a new user or key.
USER_ERRORS: Known = {
    "must be an email address": (N_("must be an email address"), {}),
    f"must be at least {MIN_PASSWORD} characters": (
        N_("must be at least %(count)s characters"),
        {"count": MIN_PASSWORD},
    ),
    f"must be one of {', '.join(ROLES)}": (N_("must be one of %(roles)s"), {"roles": ", ".join(ROLES)}),
    "already has an account": (N_("already has an account"), {}),
}
KEY_ERRORS: Known = {
    "1 to 100 characters": (N_("%(low)s to %(high)s characters"), {"low": 1, "high": 100}),
    " or ".join(API_KEY_ROLES): (N_("client or admin"), {}),
}


def _login_refusal(refused: LoginRefused | LoginThrottled) -> str:
    """The sign-in page's words for a refusal (the service's message is English)."""
    if isinstance(refused, LoginThrottled):
        seconds = refused.retry_after
        return ngettext(
            "Too many attempts: try again in %(num)d second", "Too many attempts: try again in %(num)d seconds", seconds
        )
    return _("wrong email or password")


def _actor() -> str:
    return str(g.user.email)


@console.get("/login")
def login() -> ResponseReturnValue:
    return render_template("console_login.html", error=None, email="")


@console.post("/login")
def login_submit() -> ResponseReturnValue:
    email = request.form.get("email", "")[:254]
    password = request.form.get("password", "")[:1024]
    now = context.now()
    # The client's address as create_app sees it (behind TRUSTED_PROXIES, from X-Forwarded-For).
    throttles = throttles_for(context.settings().secret_key, email, request.remote_addr)
    with context.db().read() as db_session:
        waiting = peek(db_session, throttles, now)  # throttled: answered without a write
    refused: LoginRefused | LoginThrottled | None = LoginThrottled(waiting) if waiting else None
    if refused is None:
        with context.db().write() as db_session:
            try:
                user = authenticate(db_session, email, password, now, throttles)
                user_id, version, role = user.id, user.session_version, user.role
            except (LoginRefused, LoginThrottled) as error:
                refused = error  # caught inside the transaction: the failure is counted
    if refused is not None:
        html = render_template("console_login.html", error=_login_refusal(refused), email=email)
        response = Response(html, status=http_status(refused))
        if isinstance(refused, LoginThrottled):
            response.headers["Retry-After"] = str(refused.retry_after)
        return response
    session.clear()
    session.permanent = True
    session["user_id"], session["session_version"] = user_id, version
    if role == "wallboard":  # a TV: signed in for good, and it only sees the wallboard
        session[LONG_LIVED] = True
        return redirect(url_for("console.wallboard"), 303)
    return redirect(
        local_target(request.args.get("next", ""), ("/console/", "/simulator"), url_for("console.overview")), 303
    )


@console.post("/logout")
def logout() -> ResponseReturnValue:
    session.clear()
    return redirect(url_for("console.login"), 303)


@console.post("/language")
def choose_language() -> ResponseReturnValue:
    """The language picker (every page's header and the sign-in page): kept in a cookie of
    its own, so it holds before signing in and after signing out."""
    chosen = request.form.get("language", "")
    if chosen not in LANGUAGES:
        page = render_template(
            "console_message.html", title=_("Unknown language"), message=_("Choose English, Russian or French.")
        )
        return page, 400
    response = redirect(local_target(request.form.get("next", ""), "/console/", url_for("console.overview")), 303)
    secure = context.settings().public_base_url.startswith("https://")
    response.set_cookie(
        COOKIE, chosen, max_age=COOKIE_SECONDS, path="/console", secure=secure, httponly=True, samesite="Lax"
    )
    return response


@console.get("/")
@requires("viewer")
def overview() -> ResponseReturnValue:
    """Each queue today, in its own zone: seats booked of capacity, live callbacks."""
    now = context.now()
    rows = []
    with context.db().read() as db_session:
        for queue in db_session.scalars(select(Queue).order_by(Queue.key)):
            zone = ZoneInfo(queue.timezone)
            today = now.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
            day = (today.astimezone(ZoneInfo("UTC")), (today + timedelta(days=1)).astimezone(ZoneInfo("UTC")))
            capacity, booked = db_session.execute(
                select(func.coalesce(func.sum(Slot.capacity), 0), func.coalesce(func.sum(Slot.booked), 0)).where(
                    Slot.queue_id == queue.id, Slot.active.is_(True), Slot.starts_at >= day[0], Slot.starts_at < day[1]
                )
            ).one()
            live = db_session.scalar(
                select(func.count())
                .select_from(Callback)
                .where(Callback.queue_id == queue.id, Callback.state.in_([s.value for s in LIVE_STATES]))
            )
            rows.append(
                {
                    "key": queue.key,
                    "name": queue.name,
                    "capacity": capacity,
                    "booked": booked,
                    "live": live,
                    "register_enabled": queue.register_enabled,
                    "process_enabled": queue.process_enabled,
                }
            )
        switches = centre_switches.current(db_session)
    return render_template("console_overview.html", queues=rows, switches=switches)


@console.post("/switches")
@requires("supervisor")
def change_switches() -> ResponseReturnValue:
    """The switches for every queue at once (services/centre_switches.py), audited."""
    with context.db().write() as db_session:
        centre_switches.change(
            db_session,
            register_enabled=request.form.get("register_enabled") == "yes",
            process_enabled=request.form.get("process_enabled") == "yes",
            actor=_actor(),
            now=context.now(),
        )
    return redirect(url_for("console.overview"), 303)


@console.get("/users")
@requires("admin")
def users() -> ResponseReturnValue:
    return _users_page()


def _users_page(errors: dict[str, str] | None = None, status: int = 200) -> ResponseReturnValue:
    with context.db().read() as db_session:
        listed = list(db_session.scalars(select(ConsoleUser).order_by(ConsoleUser.email)))
    return render_template("console_users.html", users=listed, roles=ROLES, errors=errors or {}), status


@console.post("/users")
@requires("admin")
def add_user() -> ResponseReturnValue:
    email, role = request.form.get("email", ""), request.form.get("role", "")
    try:
        with context.db().write() as db_session:
            user = create_user(db_session, email, request.form.get("password", ""), role, context.now())
            audit(db_session, _actor(), "user.create", user.email, context.now(), after={"role": role})
    except DomainError as error:
        return _users_page(shown_errors(error.details, USER_ERRORS), 422)
    return redirect(url_for("console.users"), 303)


@console.post("/users/<int:user_id>")
@requires("admin")
def change_user(user_id: int) -> ResponseReturnValue:
    """Change a user's role, or deactivate / reactivate them. An admin cannot demote or
    deactivate themselves (there would be no way back if they are the only admin)."""
    role, active = request.form.get("role"), request.form.get("active")
    if user_id == g.user.id:
        return _users_page({"user": _("you cannot change your own role or deactivate yourself")}, 422)
    with context.db().write() as db_session:
        user = db_session.get(ConsoleUser, user_id)
        if user is None:
            abort(404)
        before = {"role": user.role, "active": user.active}
        if role in ROLES:
            user.role = role
        if active in ("yes", "no"):
            user.active = active == "yes"
        if (user.role, user.active) != (before["role"], before["active"]):
            user.session_version += 1  # their sessions pick up the change at once
            audit(
                db_session,
                _actor(),
                "user.change",
                user.email,
                context.now(),
                before,
                {"role": user.role, "active": user.active},
            )
    return redirect(url_for("console.users"), 303)


@console.get("/api-keys")
@requires("admin")
def api_keys() -> ResponseReturnValue:
    return _keys_page()


def _keys_page(
    new_key: str | None = None, errors: dict[str, str] | None = None, status: int = 200
) -> ResponseReturnValue:
    with context.db().read() as db_session:
        keys = list(db_session.scalars(select(ApiKey).order_by(ApiKey.created_at.desc(), ApiKey.id.desc())))
    html = render_template("console_api_keys.html", keys=keys, new_key=new_key, errors=errors or {})
    response = Response(html, status=status)
    response.headers["Cache-Control"] = "no-store"  # a new key is shown once: never cached
    return response


@console.post("/api-keys")
@requires("admin")
def add_api_key() -> ResponseReturnValue:
    try:
        with context.db().write() as db_session:
            key, _ = create_api_key(
                db_session,
                request.form.get("name", ""),
                _actor(),
                context.now(),
                role=request.form.get("role", "client"),
            )
    except DomainError as error:
        return _keys_page(errors=shown_errors(error.details, KEY_ERRORS), status=422)
    return _keys_page(new_key=key, status=201)


@console.post("/api-keys/<int:key_id>/revoke")
@requires("admin")
def revoke_api_key(key_id: int) -> ResponseReturnValue:
    with context.db().write() as db_session:
        row = db_session.get(ApiKey, key_id)
        if row is None:
            abort(404)
        if row.revoked_at is None:
            row.revoked_at = context.now()
            audit(db_session, _actor(), "api_key.revoke", f"{row.name} ({row.prefix}…)", context.now())
    return redirect(url_for("console.api_keys"), 303)


@console.get("/audit")
@requires("supervisor")
def audit_log() -> ResponseReturnValue:
    with context.db().read() as db_session:
        entries = list(
            db_session.scalars(select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(200))
        )
    return render_template("console_audit.html", entries=entries)
