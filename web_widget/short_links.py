"""``GET /b/<code>``: the short link in a text, redirected to the signed booking page.

A phone's browser follows it, so an unknown or expired link gets a short HTML page
when HTML is what the client prefers, and the API's JSON error (same ``type``) otherwise.
"""

from __future__ import annotations

from html import escape

from flask import Blueprint, Response, request

from app.error_statuses import http_status
from infra import context
from scheduler.errors import LinkExpired, LinkInvalid
from services.links import follow_short_link

short_links = Blueprint("short_links", __name__)

PAGES = {
    "link_invalid": ("Link not found", "This link is not valid. Please check the text we sent you."),
    "link_expired": ("Link expired", "This link has expired. Text CALL ME to the number that sent it to book again."),
}


def _prefers_html() -> bool:
    return request.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html"


@short_links.get("/b/<code>")
def follow(code: str) -> Response:
    try:
        with context.db().read() as session:
            target = follow_short_link(session, context.settings(), code, context.now())
    except (LinkInvalid, LinkExpired) as error:
        if not _prefers_html():
            raise
        queue = error.details.get("queue")
        if isinstance(error, LinkExpired) and queue:
            # A person with an old link: the queue's booking page says so and offers a fresh booking.
            fresh = f"{context.settings().public_base_url}/book/{queue}?notice=link_expired"
            return Response(status=302, headers={"Location": fresh, "Cache-Control": "no-store"})
        title, message = PAGES[error.type]
        page = (
            '<!doctype html><html lang="en"><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><h1>{escape(title)}</h1><p>{escape(message)}</p></html>"
        )
        return Response(page, status=http_status(error), mimetype="text/html")
    response = Response(status=302, headers={"Location": target})
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
