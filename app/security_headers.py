"""The headers every answer carries against framing, sniffing and leaking, and the limit on
a URL's length.

- HTML pages get a Content-Security-Policy with no inline script (every page's script is a
  file from this origin), ``frame-ancestors 'none'`` and ``X-Frame-Options: DENY``: no other
  site may frame the console, the booking page or the simulator (clickjacking).
- The sample host page (/widget-demo) stands for a customer's site: its policy is the one
  docs/widget.md tells a site that embeds the widget to use (the widget's origin in
  ``script-src`` and ``connect-src``, inline styles for its shadow DOM).
- Every answer gets ``X-Content-Type-Options: nosniff`` and a ``Referrer-Policy``; a view that
  set its own (the booking page's ``no-referrer``: its URL holds a token) keeps it.
- A URL longer than ``MAX_URL_BYTES`` is refused with 414 before routing (JSON, like every
  error). gunicorn's own limit (gunicorn.conf.py) is set above it, so the app gives the answer.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, request
from werkzeug.exceptions import RequestURITooLarge

MAX_URL_BYTES = 4096

PAGE_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        # style attributes in the templates; no script can use them to run
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
# JSON, scripts, CSV: nothing in them runs as a page; never framed either.
OTHER_POLICY = "default-src 'none'; frame-ancestors 'none'"
REFERRER_POLICY = "strict-origin-when-cross-origin"


def host_page_policy(widget_origin: str) -> str:
    """The policy a site that embeds the widget from ``widget_origin`` needs (docs/widget.md)."""
    return "; ".join(
        (
            "default-src 'self'",
            f"script-src 'self' {widget_origin}",
            f"connect-src 'self' {widget_origin}",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        )
    )


def origin_of(url: str) -> str:
    """A URL's origin as browsers send it in ``Origin`` (scheme and host are case-blind)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def init_security_headers(app: Flask) -> None:
    @app.before_request
    def _url_length() -> None:
        if len(request.full_path.encode()) > MAX_URL_BYTES:
            raise RequestURITooLarge(f"the URL is longer than {MAX_URL_BYTES} bytes")

    @app.after_request
    def _headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", REFERRER_POLICY)
        if response.mimetype == "text/html":
            headers.setdefault("Content-Security-Policy", PAGE_POLICY)
            headers.setdefault("X-Frame-Options", "DENY")
        else:
            headers.setdefault("Content-Security-Policy", OTHER_POLICY)
        return response
