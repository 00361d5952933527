"""``HttpSinkTelephony``: a bench-only adapter that places calls by POSTing to the sink
(bench/dialer_sink.py) over a keep-alive connection, so a dial costs what a provider's
REST call costs us (one HTTP round trip), and the sink records when it arrived.

Registered under the name "simulator" by bench/dialer_worker.py. ``find_call`` and
``fetch_call`` ask the sink, so that lease reconciliation adopts a call a killed worker
placed but never saved instead of dialing it again. Texts, voice scripts and inbound
webhooks go to the real simulator adapter.
"""

from __future__ import annotations

import http.client
import json
import threading
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from telephony.base import (
    CallEvent,
    CallState,
    DialResult,
    GatherResult,
    InboundCall,
    InboundSms,
    OutboundCall,
    PlacedCall,
    ProviderError,
    RenderedScript,
    SentSms,
    SmsStatus,
    Telephony,
    WebhookRequest,
)
from telephony.script import VoiceScript

HOST = "127.0.0.1"


class HttpSinkTelephony:
    name = "simulator"
    default_agent_target = "sim:agent"
    supports_enqueue = False
    verifies_webhooks = True
    confirms_opt_out = False

    def opted_out_by_provider(self, text: str) -> bool:
        return self.fallback.opted_out_by_provider(text)

    def sms_webhook_answer(self) -> RenderedScript | None:
        return self.fallback.sms_webhook_answer()

    def __init__(self, port: int, fallback: Telephony, timeout: float = 10.0) -> None:
        self.port = port
        self.fallback = fallback
        self.timeout = timeout
        self._local = threading.local()  # one keep-alive connection per thread (ticks run in a pool)

    # --- HTTP -----------------------------------------------------------------------------

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        for attempt in (1, 2):
            conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
            if conn is None:
                conn = http.client.HTTPConnection(HOST, self.port, timeout=self.timeout)
                self._local.conn = conn
            try:
                conn.request(method, path, body=data, headers=headers)
                response = conn.getresponse()
                payload = response.read()
            except TimeoutError:
                conn.close()
                self._local.conn = None
                raise ProviderError("the sink did not answer in time", uncertain=True, code="timeout") from None
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                self._local.conn = None
                # A kept-alive connection the server closed: reconnect once. A POST that may
                # have arrived is not resent blindly (it would be a second dial).
                if attempt == 1 and method == "GET":
                    continue
                raise ProviderError(f"sink request failed: {exc}", uncertain=True, code="timeout") from None
            return response.status, json.loads(payload or b"{}")
        raise AssertionError("unreachable")

    def _event(self, record: dict[str, Any]) -> CallEvent:
        call_id = str(record["call_id"])
        return CallEvent(
            provider=self.name,
            call_id=call_id,
            state=CallState.RINGING,
            sequence=0,
            started_at=datetime.fromtimestamp(float(record["at"]), UTC),
            dedupe_key=f"{call_id}:ringing:0",
        )

    # --- calls ----------------------------------------------------------------------------

    def place_call(self, call: OutboundCall) -> PlacedCall:
        status, document = self._request(
            "POST", "/calls", {"to": call.to, "status_url": call.status_url, "answer_url": call.answer_url}
        )
        if status != 201:
            raise ProviderError(f"sink answered {status}")
        return PlacedCall(self.name, str(document["call_id"]))

    def fetch_call(self, call_id: str) -> CallEvent:
        status, document = self._request("GET", f"/calls/{quote(call_id)}")
        if status == 404:
            raise ProviderError(f"no call {call_id}", permanent=True, code="not_found")
        return self._event(document)

    def find_call(self, to: str, placed_after: datetime) -> CallEvent | None:
        status, document = self._request("GET", f"/calls?to={quote(to)}")
        if status == 404 or float(document["at"]) < placed_after.timestamp():
            return None
        return self._event(document)

    # --- everything else: the real simulator adapter ----------------------------------------

    def send_sms(self, to: str, from_: str, text: str, status_url: str | None = None) -> SentSms:
        return self.fallback.send_sms(to, from_, text, status_url)

    def render(self, script: VoiceScript) -> RenderedScript:
        return self.fallback.render(script)

    def verify(self, request: WebhookRequest) -> None:
        self.fallback.verify(request)

    def parse_call_event(self, request: WebhookRequest) -> CallEvent:
        return self.fallback.parse_call_event(request)

    def parse_gather(self, request: WebhookRequest) -> GatherResult:
        return self.fallback.parse_gather(request)

    def parse_dial_result(self, request: WebhookRequest) -> DialResult:
        return self.fallback.parse_dial_result(request)

    def parse_inbound_sms(self, request: WebhookRequest) -> InboundSms:
        return self.fallback.parse_inbound_sms(request)

    def parse_sms_status(self, request: WebhookRequest) -> SmsStatus:
        return self.fallback.parse_sms_status(request)

    def parse_inbound_call(self, request: WebhookRequest) -> InboundCall:
        return self.fallback.parse_inbound_call(request)
