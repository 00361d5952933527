"""CORS for /api/v1: a page on another site may call the API only if its origin is one of the
queue's ``widget.allowed_origins`` (docs/widget.md). The app's own origin is always allowed.

A refused origin gets no CORS headers, so the browser will not let the page read the answer;
a refused preflight answers 403 ``origin_not_allowed``, and so does a state-changing request
(POST, DELETE) that arrives without one, so that nothing is booked for a page that may not
read the result. The queue comes from the path (``/queues/<key>``), from the booking's
``queue``, or from the callback (``/callbacks/<ref>``): one small query reading one column.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask, Response, g, request
from sqlalchemy import select

from app.errors import error_response
from app.security_headers import origin_of
from infra import context
from infra.json_input import loads
from infra.models import Callback, Queue

API_PREFIX = "/api/v1/"
QUEUE_PATH = re.compile(r"^/api/v1/queues/([^/]+)")
CALLBACK_PATH = re.compile(r"^/api/v1/callbacks/([^/]+)")
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
ALLOW_METHODS = "GET, POST, DELETE"
ALLOW_HEADERS = "Content-Type, Idempotency-Key"
EXPOSE_HEADERS = "Location"
PREFLIGHT_MAX_AGE = "600"

ANY_QUEUE_WIDGETS = select(Queue.widget)


def _json_or_none(body: bytes) -> Any:
    """The body's document, for finding its queue; None when it is not JSON (the view
    then answers what is wrong with it)."""
    try:
        return loads(body)
    except ValueError:
        return None


def init_cors(app: Flask) -> None:
    app.before_request(_before)
    app.after_request(_after)


def own_origins() -> set[str]:
    """This app's origin: the configured public URL, and the host the request was sent to
    (a page served by this app at another name, e.g. localhost, is still same-origin)."""
    return {origin_of(context.settings().public_base_url), origin_of(request.host_url)}


def _listed(widgets: list[Any], origin: str) -> bool:
    return any(origin in ((w or {}).get("allowed_origins") or []) for w in widgets)


def _widgets(preflight: bool) -> list[Any]:
    """The widget settings of the queue this request is about; for a booking's preflight
    (no body yet) or a booking whose body names no queue, every queue's."""
    path = request.path
    with context.db().read() as session:
        match = QUEUE_PATH.match(path)
        if match:
            return list(session.scalars(select(Queue.widget).where(Queue.key == match.group(1))))
        match = CALLBACK_PATH.match(path)
        if match:
            ref = match.group(1).strip().upper()
            stmt = select(Queue.widget).join(Callback, Callback.queue_id == Queue.id).where(Callback.ref == ref)
            return list(session.scalars(stmt))
        if path.rstrip("/") == "/api/v1/callbacks":
            body = None if preflight else _json_or_none(request.get_data(cache=True))
            key = body.get("queue") if isinstance(body, dict) else None
            if isinstance(key, str):
                return list(session.scalars(select(Queue.widget).where(Queue.key == key)))
            return list(session.scalars(ANY_QUEUE_WIDGETS))
    return []


def origin_allowed(origin: str, preflight: bool = False) -> bool:
    origin = origin.rstrip("/").lower()
    if origin in own_origins():
        return True
    everywhere = context.settings().widget_allowed_origins  # WIDGET_ALLOWED_ORIGINS: every queue
    if "*" in everywhere or origin in {o.lower() for o in everywhere}:
        return True
    return _listed(_widgets(preflight), origin)


def _refused() -> Response:
    return error_response(
        403,
        "origin_not_allowed",
        "this site may not use this queue: add its origin to the queue's widget.allowed_origins",
        {"origin": request.headers.get("Origin", "")},
    )


def _before() -> Response | None:
    if not request.path.startswith(API_PREFIX):
        return None
    origin = request.headers.get("Origin")
    if not origin:
        return None  # not a cross-origin browser request: CORS does not apply
    preflight = request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers
    allowed = origin_allowed(origin, preflight)
    if preflight:
        if not allowed:
            return _refused()
        response = Response(status=204)
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Methods"] = ALLOW_METHODS
        response.headers["Access-Control-Allow-Headers"] = ALLOW_HEADERS
        response.headers["Access-Control-Max-Age"] = PREFLIGHT_MAX_AGE
        return response
    if not allowed and request.method not in SAFE_METHODS:
        return _refused()
    g.cors_origin = origin if allowed else None
    return None


def _after(response: Response) -> Response:
    if not request.path.startswith(API_PREFIX):
        return response
    response.vary.add("Origin")
    origin = g.get("cors_origin")
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
    return response
