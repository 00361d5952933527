"""The embeddable widget's script (/widget.js) and a sample third-party page that embeds it
(/widget-demo). See docs/widget.md."""

from __future__ import annotations

import hashlib
from pathlib import Path

from flask import Blueprint, Response, render_template, request

from app.demo_site import demo_page_origin
from app.security_headers import host_page_policy, origin_of
from infra import context

widget_pages = Blueprint("widget_pages", __name__, template_folder="templates")

WIDGET_JS = Path(__file__).with_name("static") / "widget.js"
# Short: sites embed a fixed URL, so a new version reaches visitors within minutes;
# the ETag makes the revalidation a 304.
WIDGET_MAX_AGE = 300


@widget_pages.get("/widget.js")
def widget_js() -> Response:
    body = WIDGET_JS.read_bytes()
    response = Response(body, mimetype="text/javascript")
    response.set_etag(_etag(body))
    response.cache_control.public = True
    response.cache_control.max_age = WIDGET_MAX_AGE
    # Sites that isolate themselves (Cross-Origin-Embedder-Policy) may still load it.
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.make_conditional(request)  # a 304 when the visitor's copy is current
    return response


def _etag(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()[:32]


@widget_pages.get("/widget-demo")
def widget_demo() -> Response:
    """A stand-in for a customer's website. Its script comes from PUBLIC_BASE_URL: opened at
    another name (localhost for 127.0.0.1, same port) the page is another origin, as a real
    site would be (app/demo_site.py)."""
    base = context.settings().public_base_url
    response = Response(
        render_template(
            "widget_demo.html", widget_src=f"{base}/widget.js", queue="support", page_origin=demo_page_origin(base)
        ),
        mimetype="text/html",
    )
    # The policy docs/widget.md gives a site that embeds the widget, not the console's.
    response.headers["Content-Security-Policy"] = host_page_policy(origin_of(base))
    return response
