"""Logging, set up in one place for web and worker processes (``configure``).

One line per HTTP request (``app.access``) and per worker action, as readable text or
as JSON lines (``LOG_FORMAT``). Each line carries the request id or the public reference
of the callback it is about, so one callback can be followed from the booking request
through the worker's dials to its end. Phone numbers are masked in every line, whatever
the code that logged them remembered to do: customers' numbers are personal data and
logs are kept and shipped far more widely than the database.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, g, has_request_context, request

from infra.settings import Settings
from scheduler.phone import mask_phone as _mask_e164

# What each line may carry besides the message: set by the request hooks and by
# ``callback_context``, or given per call as ``extra={"callback": ref}``.
_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
_callback: ContextVar[str | None] = ContextVar("callback", default=None)

# Fields of a record that the JSON formatter writes when present (extra=...).
EXTRA_FIELDS = ("request_id", "callback", "method", "path", "status", "duration_ms", "attempt", "provider")

# E.164-ish: a plus (or a URL-encoded %2B, as in webhook bodies) and 7 to 15 digits.
_PHONE = re.compile(r"(?:\+|%2[Bb])\d{7,15}(?!\d)")
# A request id we accept from a client or proxy: short, printable, nothing to inject.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:/+=-]{1,128}")
# Path segments that are secrets (signed webhook tokens, short booking links).
_SECRET_VIEW_ARGS = frozenset({"token", "code"})
# Path segments that hold a phone number in whatever form the caller wrote it (a national
# 07400123456, digits with spaces): every digit but the first two and last two is masked.
_PHONE_VIEW_ARGS = frozenset({"phone"})
# Control characters in a message would forge lines of their own in the text log (a URL
# with %0a, a text's body): written as escapes instead. JSON lines escape them anyway.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

REQUEST_ID_HEADER = "X-Request-ID"
_HANDLER_MARK = "_callbacks_handler"

access_log = logging.getLogger("app.access")


def mask_phone(number: str) -> str:
    """A number as logs show it: the country code and the last two digits (+44********56)."""
    if number.startswith(("%2B", "%2b")):
        return "%2B" + _mask_e164("+" + number[3:])[1:]
    return _mask_e164(number)


def mask_digits(value: str) -> str:
    """A number in any format, for logs: its digits starred but the first and last two."""
    digits = [i for i, c in enumerate(value) if c.isdigit()]
    if len(digits) < 6:
        return value
    hidden = set(digits[2:-2])
    return "".join("*" if i in hidden else c for i, c in enumerate(value))


def escape_controls(text: str) -> str:
    """``text`` on one line: control characters as ``\\n``, ``\\r``, ``\\t`` or ``\\xNN``."""
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
    return _CONTROL.sub(lambda m: named.get(m.group(0), f"\\x{ord(m.group(0)):02x}"), text)


def mask_text(text: str) -> str:
    """``text`` with every E.164-looking number in it masked."""
    return _PHONE.sub(lambda match: mask_phone(match.group(0)), text)


def current_request_id() -> str | None:
    return _request_id.get()


@contextmanager
def callback_context(ref: str | None) -> Iterator[None]:
    """Lines logged inside carry ``callback=ref`` (unless they name another)."""
    token = _callback.set(ref)
    try:
        yield
    finally:
        _callback.reset(token)


def note_callback(ref: str) -> None:
    """Within a request: the callback it is about, for its access line and later lines."""
    if has_request_context():
        g.log_callback = ref
        _callback.set(ref)


class ContextFilter(logging.Filter):
    """Puts the request id and the callback reference of the current context on each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = _request_id.get()
        if getattr(record, "callback", None) is None:
            record.callback = _callback.get()
        return True


class MaskFilter(logging.Filter):
    """Masks phone numbers in the message and its arguments: the record is rewritten to
    its masked, formatted message, so any handler after this one sees it masked too."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep what logging would show
            message = f"{record.msg} {record.args}"
        record.msg = mask_text(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        return True


def _context_suffix(record: logging.LogRecord) -> str:
    parts = []
    for name in ("callback", "request_id"):
        value = getattr(record, name, None)
        if value:
            parts.append(f"{name}={value}")
    return " [" + " ".join(parts) + "]" if parts else ""


class TextFormatter(logging.Formatter):
    """``2026-11-23 19:30:00,123 INFO services.dialer.dialer: dial placed [callback=K7… request_id=…]``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        # The message on one line; a traceback, appended after this, keeps its own lines.
        message = record.message
        record.message = escape_controls(message)
        try:
            return super().formatMessage(record)
        finally:
            record.message = message

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        first, newline, rest = text.partition("\n")
        return mask_text(first + _context_suffix(record) + newline + rest)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts``, ``level``, ``logger``, ``message``, the context
    (``request_id``, ``callback``) and the fields of an access line, when present."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": mask_text(record.getMessage()),
        }
        for name in EXTRA_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                data[name] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            data["exception"] = mask_text(record.exc_text)
        return json.dumps(data, ensure_ascii=False, default=str)


def make_formatter(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else TextFormatter()


def configure(settings: Settings, stream: Any = None) -> logging.Handler:
    """Route every logger to one stderr handler with our formatter and filters. Called
    by create_app (web and worker processes alike); calling it again replaces the handler
    it installed before (tests build many apps in one process)."""
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, _HANDLER_MARK, False):
            root.removeHandler(existing)
    handler = logging.StreamHandler(stream or sys.stderr)
    setattr(handler, _HANDLER_MARK, True)
    handler.addFilter(ContextFilter())
    handler.addFilter(MaskFilter())
    handler.setFormatter(make_formatter(settings.log_format))
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    # APScheduler narrates adding and running every job at INFO; the worker logs its own start.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # gunicorn's own error log ("Booting worker", "Handling signal") goes through ours;
    # its access log is off (gunicorn.conf.py): app.access writes one line per request.
    gunicorn = logging.getLogger("gunicorn.error")
    gunicorn.handlers = []
    gunicorn.propagate = True
    return handler


# --- requests ---------------------------------------------------------------------------------


def _request_id_from(raw: str | None) -> str:
    if raw and _SANE_REQUEST_ID.fullmatch(raw):
        return raw
    return uuid.uuid4().hex


def loggable_path() -> str:
    """The path without its query string, secret segments (signed tokens, short link
    codes) replaced by their variable's name."""
    path = request.path
    for name, value in (request.view_args or {}).items():
        if name in _SECRET_VIEW_ARGS and isinstance(value, str) and value:
            path = path.replace(value, f"<{name}>")
        elif name in _PHONE_VIEW_ARGS and isinstance(value, str) and value:
            path = path.replace(value, mask_digits(value))
    return mask_text(path)


def init_request_logging(app: Flask) -> None:
    """Request ids in and out (``X-Request-ID``), one ``app.access`` line per request."""

    @app.before_request
    def _start() -> None:
        g.log_started = time.perf_counter()
        g.request_id = _request_id_from(request.headers.get(REQUEST_ID_HEADER))
        g.log_tokens = (_request_id.set(g.request_id), _callback.set(None))

    @app.after_request
    def _finish(response: Response) -> Response:
        request_id = g.get("request_id") or _request_id_from(None)
        response.headers[REQUEST_ID_HEADER] = request_id
        started = g.get("log_started")
        duration = round((time.perf_counter() - started) * 1000, 1) if started is not None else None
        view_args = request.view_args or {}
        callback = g.get("log_callback") or (view_args.get("ref") if isinstance(view_args.get("ref"), str) else None)
        path = loggable_path()
        access_log.info(
            "%s %s %s %sms",
            request.method,
            path,
            response.status_code,
            duration,
            extra={
                "request_id": request_id,
                "callback": callback,
                "method": request.method,
                "path": path,
                "status": response.status_code,
                "duration_ms": duration,
            },
        )
        return response

    @app.teardown_request
    def _reset(_error: BaseException | None) -> None:
        tokens = g.pop("log_tokens", None)
        if tokens is not None:
            request_token, callback_token = tokens
            try:
                _callback.reset(callback_token)
                _request_id.reset(request_token)
            except ValueError:  # set in another context (a streamed response): just clear
                _callback.set(None)
                _request_id.set(None)
