"""Who may use the demo's pages (the phone simulator and the stand-in CRM, DEMO_MODE only).

They act on real callbacks (a text "CANCEL" from the simulator cancels one) and show whole
numbers, so they are open to two kinds of visitor only:

- this machine itself (a browser on the host ``make run`` started on), when the request
  reached the app straight from a loopback address: behind a proxy that is not declared in
  ``TRUSTED_PROXIES`` every visitor would seem to come from 127.0.0.1, so a request that
  carries ``X-Forwarded-For`` then counts as from elsewhere;
- a signed-in console user: a viewer may look, a supervisor may act.

A request that changes something must also come from the demo's own pages (``Origin``
this app's, or ``Sec-Fetch-Site`` same-origin or none): a page on another site cannot make
the browser of someone on this machine post to it. The stand-in CRM's receiver is left
open: it checks the subscriber's signature itself.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from flask import Blueprint, Flask, redirect, request, url_for
from flask.typing import ResponseReturnValue

from app.errors import error_response
from app.security_headers import origin_of
from console.blueprint import signed_in_user
from infra import context
from services.accounts import at_least

READ_METHODS = ("GET", "HEAD", "OPTIONS")


@dataclass(frozen=True)
class Visitor:
    remote_addr: str | None
    forwarded: bool  # X-Forwarded-For present and no trusted proxy to read it
    role: str | None  # the signed-in console user's, if any
    method: str
    same_origin: bool


def from_this_machine(visitor: Visitor) -> bool:
    if visitor.forwarded or not visitor.remote_addr:
        return False
    try:
        address = ipaddress.ip_address(visitor.remote_addr)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def decide(visitor: Visitor) -> str:
    """``allow``, ``sign_in`` (nobody signed in, from elsewhere) or ``refuse``."""
    reading = visitor.method in READ_METHODS
    if not reading and not visitor.same_origin:
        return "refuse"
    if from_this_machine(visitor):
        return "allow"
    if visitor.role is None:
        return "sign_in"
    return "allow" if at_least(visitor.role, "viewer" if reading else "supervisor") else "refuse"


def _same_origin() -> bool:
    origin = request.headers.get("Origin")
    if origin is not None:
        return origin_of(origin) == origin_of(request.host_url)
    return request.headers.get("Sec-Fetch-Site", "same-origin") in ("same-origin", "none")


def _gate() -> ResponseReturnValue | None:
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    user = signed_in_user()
    visitor = Visitor(
        remote_addr=request.remote_addr,
        forwarded=context.settings().trusted_proxies == 0 and "X-Forwarded-For" in request.headers,
        role=user.role if user is not None else None,
        method=request.method,
        same_origin=_same_origin(),
    )
    verdict = decide(visitor)
    if verdict == "allow":
        return None
    if verdict == "sign_in" and request.method == "GET" and not request.path.startswith("/simulator/api/"):
        return redirect(url_for("console.login", next=request.path))
    if verdict == "sign_in":
        return error_response(
            401, "demo_access_refused", "the simulator is open to this machine and to signed-in console users only"
        )
    return error_response(
        403, "demo_access_refused", "the simulator's actions need a supervisor, from the simulator's own pages"
    )


# Checked by the view itself (the subscriber's signature).
OPEN_ENDPOINTS = frozenset({"demo_crm.receive"})


def guard(app: Flask, blueprints: Iterable[Blueprint]) -> None:
    """Hold every request to ``blueprints`` (registered on ``app``) to the rule above."""
    names = frozenset(blueprint.name for blueprint in blueprints)

    @app.before_request
    def _demo_gate() -> ResponseReturnValue | None:
        return _gate() if request.blueprint in names else None
