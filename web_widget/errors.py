"""Every API error is JSON ``{type, message, details}`` with a 4xx/5xx status; never an HTML page."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from app.logs import loggable_path
from scheduler.errors import DomainError

log = logging.getLogger(__name__)

HTTP_TYPES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "request_throttle_timeout",
}


def error_response(status: int, type_: str, message: str, details: dict[str, object] | None = None) -> Response:
    response = jsonify({"type": type_, "message": message, "details": details or {}})
    response.status_code = status
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain(error: DomainError) -> Response:
        return error_response(error.http_status, error.type, error.message, error.details)

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
