"""Every SDK, pydantic and requests failure of a Vonage call, as a ProviderError:
permanent when it is the number's fault, uncertain when it timed out after being sent;
numbers in messages masked."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Final

import requests
from pydantic import ValidationError
from vonage_http_client.errors import (
    AuthenticationError,
    ForbiddenError,
    HttpRequestError,
    InvalidAuthError,
    JWTGenerationError,
)
from vonage_jwt.errors import VonageJwtError
from vonage_sms import PartialFailureError, SmsError
from vonage_utils.errors import VonageError

# The model classes come from vonage_voice.models.* (not vonage_utils.types, whose Dtmf
# is a plain string type that shadows the NCCO input model of the same name).
from telephony.base import (
    ProviderError,
)

_SMS_ERROR_CODE = re.compile(r"error code (\d+)")

_LONG_DIGITS = re.compile(r"\+?\d{7,15}")

# SMS API response status -> (permanent, code). Meanings from
# https://developer.vonage.com/api-errors/sms and x-errors in vonage_sms.yml.
_SMS_STATUS: Final[dict[int, tuple[bool, str]]] = {
    1: (False, "rate_limited"),  # Throttled: faster than the account's limit
    2: (False, "bad_request"),  # Missing parameters: our request is incomplete, not the customer's fault
    3: (True, "invalid_params"),  # Invalid parameters: in practice a `to` Vonage cannot use (ours are checked first)
    4: (False, "auth"),  # Invalid credentials: key/secret wrong or disabled
    5: (False, "server_error"),  # Internal error in Vonage's platform
    6: (True, "invalid_number"),  # Invalid message: unroutable, e.g. an unrecognised number prefix
    7: (True, "number_barred"),  # Number barred: the destination is blacklisted
    8: (False, "auth"),  # Partner account barred: our account is suspended (another provider may work)
    9: (False, "quota"),  # Partner quota violation: out of credit; top up and retry
    10: (False, "rate_limited"),  # Too many existing binds (simultaneous connections)
    11: (False, "auth"),  # Account not enabled for the HTTP SMS API
    12: (True, "message_too_long"),  # Message too long: the same text will never fit
    14: (False, "auth"),  # Invalid signature: we send with Basic auth, so the client is misconfigured
    15: (True, "invalid_sender"),  # Invalid sender address: a non-authorised sender ID in `from`
    22: (False, "bad_request"),  # Invalid network code (we send none)
    23: (False, "bad_request"),  # Invalid callback URL: too long or illegal characters (configuration)
    29: (True, "destination_not_whitelisted"),  # Non-whitelisted destination: demo-mode account
    32: (False, "auth"),  # Signature and API secret disallowed
    33: (True, "number_deactivated"),  # Number de-activated
}


# --- errors ---------------------------------------------------------------------------


# What a call into the SDK can raise: its own errors, requests' transport errors, and
# pydantic/KeyError/TypeError when a response does not have the shape it expects.
_SDK_FAILURES: Final = (
    VonageError,
    requests.RequestException,
    ValidationError,
    KeyError,
    IndexError,
    TypeError,
    ValueError,
)


@contextmanager
def _building(action: str) -> Iterator[None]:
    """The SDK's request models refused what we asked (e.g. ringing_timer > 120, a
    callback URL over 100 characters): configuration, not the customer's number."""
    try:
        yield
    except (VonageError, ValidationError) as exc:
        raise ProviderError(
            f"Vonage {action}: request refused by the SDK: {_mask(str(exc))}", code="bad_request"
        ) from exc


@contextmanager
def _provider_call(action: str) -> Iterator[None]:
    """Turn whatever the SDK, pydantic or requests raise into ProviderError."""
    try:
        yield
    except ProviderError:
        raise
    except _SDK_FAILURES as exc:
        raise _translate(exc, action) from exc


def _translate(exc: Exception, action: str) -> ProviderError:
    if isinstance(exc, HttpRequestError):
        return _from_http(exc, action)
    if isinstance(exc, PartialFailureError):
        # Some parts of a long text went out; report the first failed part's status.
        statuses = [m.get("status") for m in exc.response.get("messages", []) if isinstance(m, dict)]
        failed = next((s for s in statuses if str(s) != "0"), None)
        return _from_sms_status(failed, f"{action}: only some parts were accepted")
    if isinstance(exc, SmsError):
        match = _SMS_ERROR_CODE.search(str(exc))
        return _from_sms_status(match.group(1) if match else None, f"{action}: {_mask(str(exc))}")
    if isinstance(exc, requests.Timeout):
        return ProviderError(f"Vonage {action} timed out", uncertain=True, code="timeout")
    if isinstance(exc, requests.ConnectionError):
        return ProviderError(f"Vonage {action}: cannot reach Vonage ({type(exc).__name__})", code="connection")
    if isinstance(exc, requests.RequestException):
        return ProviderError(f"Vonage {action}: transport error ({type(exc).__name__})", code="transport")
    if isinstance(exc, InvalidAuthError | JWTGenerationError | VonageJwtError):
        return ProviderError(f"Vonage {action}: credentials rejected by the SDK", code="auth")
    return ProviderError(f"Vonage {action}: unexpected response ({type(exc).__name__})", code="unexpected_response")


def _from_http(exc: HttpRequestError, action: str) -> ProviderError:
    response = exc.response
    status = int(response.status_code)
    problem = _problem(response)
    text = f"Vonage {action}: HTTP {status}"
    summary = " - ".join(str(problem[k]) for k in ("title", "detail") if problem.get(k))
    if summary:
        text += f" {_mask(summary)}"
    if isinstance(exc, AuthenticationError | ForbiddenError) or status in (401, 403):
        return ProviderError(text, code="auth")  # another provider may still work
    if status == 404:
        return ProviderError(text, permanent=True, code="not_found")
    if status == 429:
        return ProviderError(text, code="rate_limited")
    if status >= 500:
        return ProviderError(text, code="server_error")
    if status in (400, 422):
        if _names_destination(problem):
            return ProviderError(text, permanent=True, code="invalid_number")
        return ProviderError(text, code="bad_request")
    return ProviderError(text, code=f"http_{status}")


def _from_sms_status(status: object, message: str) -> ProviderError:
    try:
        code = int(str(status))
    except ValueError:
        return ProviderError(f"Vonage {message}", code="unexpected_response")
    permanent, name = _SMS_STATUS.get(code, (False, f"sms_status_{code}"))
    text = message if f"error code {code}" in message else f"{message} (status {code})"
    return ProviderError(f"Vonage {text}", permanent=permanent, code=name)


def _problem(response: Any) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _names_destination(problem: Mapping[str, Any]) -> bool:
    """Whether a 4xx validation error is about the number we called (``to``)."""
    parameters = problem.get("invalid_parameters")
    if not isinstance(parameters, list):
        return False
    names = [str(p.get("name", "")) for p in parameters if isinstance(p, dict)]
    return any(n == "to" or n.startswith(("to[", "to.")) for n in names)


def _mask(text: str) -> str:
    """Provider messages can echo phone numbers; logs keep only the edges."""
    return _LONG_DIGITS.sub(lambda m: m.group()[:3] + "*" * (len(m.group()) - 5) + m.group()[-2:], text)
