"""The console's blueprint and its guard: every route states the weakest role that may use
it (``@requires``); anonymous visitors are sent to the sign-in page, a signed-in user
without the role gets 403. Every POST carries a CSRF token (Flask-WTF), checked before the
view runs. The session cookie holds the user's id and ``session_version``: a password
change or deactivation ends the sessions made before it.

The pages register on the blueprint in their own modules; console/pages.py imports them
all for the factory."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Blueprint, abort, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError, CSRFProtect

from console.i18n import _, template_globals
from console.sessions import LONG_LIVED
from infra import context
from infra.account_models import ConsoleUser
from services.accounts import at_least

console = Blueprint("console", __name__, url_prefix="/console", template_folder="templates")
csrf = CSRFProtect()

View = TypeVar("View", bound=Callable[..., ResponseReturnValue])


def requires(role: str) -> Callable[[View], View]:
    def decorate(view: View) -> View:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> ResponseReturnValue:
            user = g.get("user")
            if user is None:
                return redirect(url_for("console.login", next=request.path))
            if not at_least(user.role, role):
                abort(403)
            return view(*args, **kwargs)

        return cast(View, guarded)

    return decorate


def signed_in_user() -> ConsoleUser | None:
    """The console user this request's session cookie is for, if that session still holds
    (an ended one is cleared): for the console's pages and the demo's (console/demo_access.py)."""
    user_id, version = session.get("user_id"), session.get("session_version")
    if user_id is None:
        return None
    with context.db().read() as db_session:
        user = db_session.get(ConsoleUser, user_id)
        long_lived = bool(session.get(LONG_LIVED))  # console/sessions.py: wallboards only
        if (
            user is not None
            and user.active
            and user.session_version == version
            and (not long_lived or user.role == "wallboard")
        ):
            db_session.expunge(user)
            return user
    session.clear()
    return None


console.context_processor(template_globals)


@console.before_request
def _load_user() -> None:
    if request.method == "POST":
        csrf.protect()
    g.user = signed_in_user()


@console.errorhandler(CSRFError)
def _csrf_failed(error: CSRFError) -> ResponseReturnValue:
    return (
        render_template(
            "console_message.html",
            title=_("Form expired"),
            message=_("The form was open too long or its page was reloaded. Please send it again."),
        ),
        400,
    )


@console.errorhandler(403)
def _forbidden(_error: Exception) -> ResponseReturnValue:
    return render_template("console_message.html", title=_("Not allowed"), message=_("Your role cannot do this.")), 403
