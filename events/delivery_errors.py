"""Why a delivery attempt failed, as a small fixed set of stable codes.

The sender stores one of ``CODES`` in the attempt log (``DeliveryAttempt.error``), the JSON
API answers it as is (``attempts[].error``) and the console's delivery log turns it into a
sentence in the reader's language (console/event_views.py). Never an exception's text or
repr: those name addresses, ports and library internals (the worker's own log has them).

``code_of`` reads a failed POST's exception (requests wraps urllib3's, which wrap the
socket's: the whole chain is looked at); ``stored_code`` reads what an attempt holds,
older phrases too ("HTTP 500", "connection failed", "no answer within 10 s", "target
address not allowed"), so the log written before the codes still reads.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from collections.abc import Iterator

import requests
import urllib3.exceptions

from events.targets import TargetNotAllowed, TargetUnresolved

HTTP_ERROR = "http_error"  # an answer that is not 2xx (its status is the attempt's http_status)
TARGET_NOT_ALLOWED = "target_not_allowed"  # events/address_rules.py refused the address: nothing sent
NAME_NOT_RESOLVED = "name_not_resolved"  # the host name has no address
CONNECTION_REFUSED = "connection_refused"  # nothing listens on the port
CONNECT_TIMEOUT = "connect_timeout"  # no answer while connecting
TLS_FAILED = "tls_failed"  # the TLS handshake or the certificate's check failed
CONNECTION_DROPPED = "connection_dropped"  # reset or closed before a whole answer came
READ_TIMEOUT = "read_timeout"  # connected, but no answer within EVENT_TIMEOUT_SECONDS
CONNECTION_FAILED = "connection_failed"  # any other failure to connect (unreachable network...)

CODES = (
    HTTP_ERROR,
    TARGET_NOT_ALLOWED,
    NAME_NOT_RESOLVED,
    CONNECTION_REFUSED,
    CONNECT_TIMEOUT,
    TLS_FAILED,
    CONNECTION_DROPPED,
    READ_TIMEOUT,
    CONNECTION_FAILED,
)

_DROPPED: tuple[type[BaseException], ...] = (
    ConnectionResetError,
    ConnectionAbortedError,
    BrokenPipeError,
    http.client.RemoteDisconnected,
    http.client.IncompleteRead,
    urllib3.exceptions.ProtocolError,
    urllib3.exceptions.IncompleteRead,
    requests.exceptions.ChunkedEncodingError,
)
_TLS: tuple[type[BaseException], ...] = (ssl.SSLError, urllib3.exceptions.SSLError, requests.exceptions.SSLError)
_UNRESOLVED: tuple[type[BaseException], ...] = (socket.gaierror, urllib3.exceptions.NameResolutionError)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and every exception behind it: causes, contexts, urllib3's ``reason`` and
    the exceptions requests passes on as arguments."""
    seen: set[int] = set()
    waiting = [exc]
    while waiting:
        current = waiting.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        behind = [current.__cause__, current.__context__, getattr(current, "reason", None), *current.args]
        waiting += [e for e in behind if isinstance(e, BaseException)]


def code_of(exc: BaseException) -> str:
    """The code for a POST that raised ``exc`` (a TargetNotAllowed, a TargetUnresolved or
    what requests raised)."""
    chain = list(_chain(exc))

    def found(*kinds: type[BaseException]) -> bool:
        return any(isinstance(e, kinds) for e in chain)

    if isinstance(exc, TargetNotAllowed):
        return TARGET_NOT_ALLOWED
    if found(TargetUnresolved, *_UNRESOLVED):
        return NAME_NOT_RESOLVED
    if found(ConnectionRefusedError):
        return CONNECTION_REFUSED
    if found(*_TLS):
        return TLS_FAILED
    # urllib3's NewConnectionError is a ConnectTimeoutError too, whatever stopped the connection.
    if found(requests.ConnectTimeout) or any(
        isinstance(e, urllib3.exceptions.ConnectTimeoutError)
        and not isinstance(e, urllib3.exceptions.NewConnectionError)
        for e in chain
    ):
        return CONNECT_TIMEOUT
    if found(requests.Timeout, urllib3.exceptions.ReadTimeoutError):
        return READ_TIMEOUT
    if found(*_DROPPED):
        return CONNECTION_DROPPED
    return CONNECTION_FAILED


# What the sender stored before the codes.
_OLD_PHRASES = {
    "target address not allowed": TARGET_NOT_ALLOWED,
    "connection failed": CONNECTION_FAILED,
}


def stored_code(error: str | None) -> str | None:
    """The code for what an attempt's ``error`` holds (None: no error): a code as is, an
    older phrase as its code, anything else as ``connection_failed`` (never shown as it is)."""
    if error is None:
        return None
    if error in CODES:
        return error
    if error in _OLD_PHRASES:
        return _OLD_PHRASES[error]
    if error.startswith("HTTP "):
        return HTTP_ERROR
    if error.startswith("no answer within"):
        return READ_TIMEOUT
    return CONNECTION_FAILED
