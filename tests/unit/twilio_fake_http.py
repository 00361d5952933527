"""A fake at the Twilio SDK's HTTP boundary: records what the real SDK would send and
answers with canned Twilio-shaped responses (or raises a transport error), so the
adapter runs the SDK's own serialisation and error handling with no network."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import requests
from twilio.http import HttpClient
from twilio.http.response import Response

ACCOUNT_SID = "AC" + "0" * 31 + "1"
AUTH_TOKEN = "test-auth-token"
API = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}"


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    url: str
    form: list[tuple[str, str]]  # the urlencoded body as sent, repeated keys kept in order
    headers: dict[str, str]
    auth: tuple[str, str] | None

    def values(self, name: str) -> list[str]:
        return [value for key, value in self.form if key == name]

    def keys(self) -> set[str]:
        return {key for key, _ in self.form}


class FakeTwilioHttp(HttpClient):  # type: ignore[misc]
    def __init__(self, *outcomes: Response | BaseException) -> None:
        super().__init__(logging.getLogger("tests.twilio"), is_async=False)
        self.outcomes = list(outcomes)
        self.requests: list[RecordedRequest] = []

    def request(
        self,
        method: str,
        uri: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        # Encode exactly as requests would put it on the wire (lists become repeated keys).
        prepared = requests.Request(method, uri, params=params, data=data or None).prepare()
        body = prepared.body or ""
        if isinstance(body, bytes):
            body = body.decode("utf-8")
        self.requests.append(
            RecordedRequest(
                method=method,
                url=str(prepared.url),
                form=parse_qsl(body, keep_blank_values=True),
                headers=dict(headers or {}),
                auth=auth,
            )
        )
        if not self.outcomes:
            raise AssertionError(f"unexpected request {method} {uri}")
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    @property
    def only_request(self) -> RecordedRequest:
        assert len(self.requests) == 1, self.requests
        return self.requests[0]


def json_response(status: int, payload: dict[str, Any]) -> Response:
    return Response(status, json.dumps(payload), {"Content-Type": "application/json"})


def call_payload(sid: str, **changes: Any) -> dict[str, Any]:
    """A Call resource as Twilio's API returns it."""
    payload: dict[str, Any] = {
        "sid": sid,
        "account_sid": ACCOUNT_SID,
        "parent_call_sid": None,
        "date_created": "Mon, 04 Jan 2027 10:00:00 +0000",
        "date_updated": "Mon, 04 Jan 2027 10:00:00 +0000",
        "to": "+447700900123",
        "to_formatted": "+447700900123",
        "from": "+442071838750",
        "from_formatted": "+442071838750",
        "phone_number_sid": None,
        "status": "queued",
        "start_time": None,
        "end_time": None,
        "duration": None,
        "price": None,
        "price_unit": "USD",
        "direction": "outbound-api",
        "answered_by": None,
        "api_version": "2010-04-01",
        "forwarded_from": None,
        "group_sid": None,
        "caller_name": None,
        "queue_time": "0",
        "trunk_sid": None,
        "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/{sid}.json",
        "subresource_uris": {},
    }
    payload.update(changes)
    return payload


def message_payload(sid: str, **changes: Any) -> dict[str, Any]:
    """A Message resource as Twilio's API returns it."""
    payload: dict[str, Any] = {
        "sid": sid,
        "account_sid": ACCOUNT_SID,
        "api_version": "2010-04-01",
        "body": "Your callback is at 10:30.",
        "date_created": "Mon, 04 Jan 2027 10:00:00 +0000",
        "date_sent": None,
        "date_updated": "Mon, 04 Jan 2027 10:00:00 +0000",
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": "+442071838750",
        "messaging_service_sid": None,
        "num_media": "0",
        "num_segments": "1",
        "price": None,
        "price_unit": "USD",
        "status": "queued",
        "subresource_uris": {},
        "to": "+447700900123",
        "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}.json",
    }
    payload.update(changes)
    return payload


def twilio_error(status: int, code: int, message: str) -> Response:
    """Twilio's REST error body."""
    return json_response(
        status,
        {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status},
    )
