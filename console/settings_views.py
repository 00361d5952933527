"""The console's blocked numbers (with the reason) and the providers' status: which
provider is in use, the webhook URLs to paste into a provider's console, and whether
the credentials to verify each provider's signatures are set."""

from __future__ import annotations

import re

from flask import abort, current_app, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from console.blueprint import console, requires
from console.i18n import N_, _
from infra import context
from infra.account_models import BlockedNumber
from infra.audit import audit
from telephony.registry import Providers

PREFIX = re.compile(r"^\+[0-9]{1,15}$")


def _blocked_page(errors: dict[str, str] | None = None, status: int = 200) -> ResponseReturnValue:
    with context.db().read() as session:
        rows = list(session.scalars(select(BlockedNumber).order_by(BlockedNumber.prefix)))
    return render_template("console_blocked.html", rows=rows, errors=errors or {}), status


@console.get("/blocked")
@requires("supervisor")
def blocked() -> ResponseReturnValue:
    return _blocked_page()


@console.post("/blocked")
@requires("supervisor")
def add_blocked() -> ResponseReturnValue:
    prefix = request.form.get("prefix", "").replace(" ", "")
    reason = request.form.get("reason", "").strip()[:200]
    errors = {}
    if not PREFIX.match(prefix):
        errors["prefix"] = _("a number or prefix in E.164: + and up to 15 digits (+4490 blocks every +4490… number)")
    if not reason:
        errors["reason"] = _("say why, for whoever reads this list later")
    with context.db().write() as session:
        if not errors and session.scalars(select(BlockedNumber).where(BlockedNumber.prefix == prefix)).first():
            errors["prefix"] = _("already blocked")
        if errors:
            return _blocked_page(errors, 422)
        session.add(BlockedNumber(prefix=prefix, reason=reason, created_by=g.user.email, created_at=context.now()))
        audit(session, g.user.email, "blocked_number.add", prefix, context.now(), after={"reason": reason})
    return redirect(url_for("console.blocked"), 303)


@console.post("/blocked/<int:row_id>/remove")
@requires("supervisor")
def remove_blocked(row_id: int) -> ResponseReturnValue:
    with context.db().write() as session:
        row = session.get(BlockedNumber, row_id)
        if row is None:
            abort(404)
        audit(session, g.user.email, "blocked_number.remove", row.prefix, context.now(), before={"reason": row.reason})
        session.delete(row)
    return redirect(url_for("console.blocked"), 303)


@console.get("/providers")
@requires("admin")
def providers() -> ResponseReturnValue:
    settings = context.settings()
    base = settings.public_base_url
    configured: Providers = current_app.extensions["providers"]
    rows = [
        {
            "name": name,
            "default": name == configured.default,
            "verifies": configured.get(name).verifies_webhooks,
            "urls": {
                # Labels translated where shown (console_providers.html).
                N_("Inbound calls (the number's voice webhook)"): f"{base}/webhooks/{name}/voice/inbound",
                N_("Inbound texts (the number's messaging webhook)"): f"{base}/webhooks/{name}/sms/inbound",
                N_("Text delivery reports (Vonage Messages: the Status URL)"): f"{base}/webhooks/{name}/sms/status",
            },
        }
        for name in configured.names()
    ]
    return render_template("console_providers.html", rows=rows, base=base, https=base.startswith("https://"))
