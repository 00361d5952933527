"""A stand-in CRM for the demo (``make run``, the simulator): ``POST /simulator/crm``
receives events like a subscriber would, checks their signature against the secret of
the subscriptions that point at it, and answers 200, or 503 while it is switched "down"
(to watch retries). ``GET /simulator/crm`` shows what it got; the console's delivery log
shows the sender's side. Registered only when TELEPHONY_PROVIDER is the simulator."""

from __future__ import annotations

import hmac
from datetime import datetime

from flask import Blueprint, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response as BaseResponse

from events.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature
from events.subscriptions import create_subscription, update_subscription
from events.targets import TargetPolicy
from events.types import EVENT_TYPES
from infra import context
from infra.event_models import EventSubscription
from infra.json_input import loads
from infra.simulator_models import SimCrmEvent, SimSwitch

demo_crm = Blueprint("demo_crm", __name__, url_prefix="/simulator/crm", template_folder="templates")

PATH = "/simulator/crm"
DOWN = "crm_down"
DEMO_NAME = "Simulator CRM"
DEMO_SECRET = "whsec_demo-simulator-crm-secret"  # a demo: real subscriptions get a random one


def _down(session: Session) -> bool:
    switch = session.get(SimSwitch, DOWN)
    return switch is not None and switch.on


def _signed_by_a_subscriber(session: Session, body: bytes) -> bool:
    stamp = request.headers.get(TIMESTAMP_HEADER, "")
    presented = request.headers.get(SIGNATURE_HEADER, "")
    if not stamp.isdigit():
        return False
    secrets = session.scalars(select(EventSubscription.secret).where(EventSubscription.url.endswith(PATH)))
    return any(hmac.compare_digest(signature(secret, int(stamp), body), presented) for secret in secrets)


@demo_crm.post("")
def receive() -> tuple[str, int]:
    body = request.get_data()
    try:
        document = loads(body)
    except ValueError:
        document = {}  # an XML subscription: shown as received
    with context.db().write() as session:
        ok = _signed_by_a_subscriber(session, body)
        answered = 401 if not ok else 503 if _down(session) else 200
        callback = document.get("callback") if isinstance(document, dict) else None
        session.add(
            SimCrmEvent(
                received_at=context.now(),
                event_id=request.headers.get("X-Callbacks-Event-Id", "")[:64] or None,
                type=request.headers.get("X-Callbacks-Event-Type", "")[:40] or None,
                callback_ref=(callback or {}).get("ref") if isinstance(callback, dict) else None,
                signature_ok=ok,
                answered=answered,
                body=body.decode("utf-8", "replace")[:20_000],
            )
        )
    return {200: "ok", 401: "bad signature", 503: "down for maintenance"}[answered], answered


@demo_crm.get("")
def page() -> str:
    with context.db().read() as session:
        events = list(session.scalars(select(SimCrmEvent).order_by(SimCrmEvent.id.desc()).limit(200)))
        down = _down(session)
    return render_template("demo_crm.html", events=events, down=down)


@demo_crm.post("/switch")
def switch() -> BaseResponse:
    with context.db().write() as session:
        row = session.get(SimSwitch, DOWN) or SimSwitch(name=DOWN, on=False)
        row.on = request.form.get("down") == "1"
        session.add(row)
    return redirect(url_for("demo_crm.page"), 303)


def ensure_demo_subscription(session: Session, base_url: str, now: datetime, targets: TargetPolicy) -> str:
    """The demo queue's subscription to the stand-in CRM (every event type, JSON), made once:
    ``made``, ``moved`` (it pointed at another address, say an earlier ``make run`` on
    another port, and now points here) or ``kept``. One subscription whatever the port, so
    that a second ``make run`` does not deliver every event twice. The app's own address is
    on loopback in the demo: EVENT_TARGETS_ALLOWED must name it (make run sets it), else
    ``target_not_allowed``."""
    url = base_url.rstrip("/") + PATH
    existing = session.scalars(
        select(EventSubscription)
        .where(EventSubscription.name == DEMO_NAME, EventSubscription.url.endswith(PATH))
        .order_by(EventSubscription.id)
    ).first()
    if existing is None:
        fields = {"name": DEMO_NAME, "url": url, "secret": DEMO_SECRET, "event_types": list(EVENT_TYPES)}
        create_subscription(session, fields | {"queue": "support", "format": "json"}, "make run", now, targets)
        return "made"
    if existing.url == url:
        return "kept"
    update_subscription(session, existing.id, {"url": url}, "make run", now, targets)
    return "moved"
