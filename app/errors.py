"""Every API error is JSON ``{type, message, details}`` with a 4xx/5xx status; never an HTML page.

A database that cannot be reached (or is locked past the busy timeout) is 503
``database_unavailable`` with ``Retry-After``, logged as one line without a traceback; the
pages people open (the booking page, short links, the console) get a short HTML page instead.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from app.error_statuses import http_status
from infra.db import describe, is_unavailable
from infra.logs import loggable_path
from scheduler.errors import DomainError

log = logging.getLogger(__name__)

HTTP_TYPES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    429: "request_throttle_timeout",
}

# While the database is away: how long clients are told to wait, and who gets a page.
RETRY_AFTER_SECONDS = 5
PAGE_BLUEPRINTS = frozenset({"booking_page", "short_links", "console"})
UNAVAILABLE_PAGE = (
    '<!doctype html>\n<html lang="en">\n<head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
    "<title>Temporarily unavailable</title></head>\n"
    "<body><main><h1>Temporarily unavailable</h1>"
    "<p>We cannot take your request just now. Please try again in a moment.</p></main></body>\n</html>\n"
)


def error_response(status: int, type_: str, message: str, details: dict[str, object] | None = None) -> Response:
    response = jsonify({"type": type_, "message": message, "details": details or {}})
    response.status_code = status
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain(error: DomainError) -> Response:
        return error_response(http_status(error), error.type, error.message, error.details)

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Response | HTTPException:
        status = error.code or 500
        if status == 413:
            message = f"the request body is larger than {app.config['MAX_CONTENT_LENGTH']} bytes"
        else:
            message = error.description or error.name
        response = error_response(status, HTTP_TYPES.get(status, "http_error"), message)
        if status == 405 and error.valid_methods:  # type: ignore[attr-defined]
            response.headers["Allow"] = ", ".join(error.valid_methods)  # type: ignore[attr-defined]
        return response

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, loggable_path())
        return error_response(500, "internal_error", "something went wrong on our side; it has been logged")

    @app.errorhandler(SQLAlchemyError)
    def _database(error: SQLAlchemyError) -> Response:
        if not is_unavailable(error):  # an integrity, programming or data error: a bug, as above
            return _unexpected(error)
        log.warning("database unavailable on %s %s: %s", request.method, loggable_path(), describe(error))
        if request.blueprint in PAGE_BLUEPRINTS:
            response = Response(UNAVAILABLE_PAGE, status=503, mimetype="text/html")
        else:
            response = error_response(
                503, "database_unavailable", "the service cannot reach its database just now; try again shortly"
            )
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        response.headers["Cache-Control"] = "no-store"
        return response
