"""Inbound calls through the real Vonage adapter: the answer URL fetched with GET (the
number's default) and input events posted as JSON, each with the signed HS256 JWT whose
payload_hash covers what was sent; NCCO answers asserted as JSON."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any
from urllib.parse import urlencode

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from infra.db import Database
from infra.models import Callback
from tests.unit.test_vonage_adapter import SIGNATURE_SECRET, make_adapter

CALL_UUID = "aaaaaaaa-4a51-4f6b-86e1-46edebcf9356"
CALLER = "447400123456"  # Vonage writes numbers without the +
QUEUE_NUMBER = "441632960001"


@pytest.fixture
def vonage(app: Flask) -> None:
    app.extensions["providers"].register(make_adapter())


def token(payload: bytes, secret: str = SIGNATURE_SECRET) -> str:
    claims = {"iat": int(time.time()), "payload_hash": hashlib.sha256(payload).hexdigest(), "iss": "Vonage"}
    return jwt.encode(claims, secret, algorithm="HS256")


class VonageCall:
    def __init__(self, app: Flask, client: FlaskClient, uuid: str = CALL_UUID) -> None:
        self.app, self.client, self.uuid = app, client, uuid
        self.base = app.extensions["settings"].public_base_url
        self.ncco: list[dict[str, Any]] = []

    def dial(self, caller: str = CALLER, secret: str = SIGNATURE_SECRET) -> Any:
        query = {"to": QUEUE_NUMBER, "from": caller, "uuid": self.uuid, "conversation_uuid": "CON-9"}
        compact = json.dumps(query, separators=(",", ":")).encode()
        return self._ncco(
            self.client.get(
                f"/webhooks/vonage/voice/inbound?{urlencode(query)}",
                headers={"Authorization": f"Bearer {token(compact, secret)}"},
            )
        )

    def press(
        self, digits: str, *, url: str | None = None, secret: str = SIGNATURE_SECRET, said: str | None = None
    ) -> Any:
        speech: dict[str, Any] = {}
        if said is not None:  # Vonage's speech result: several guesses, each with a confidence (a string)
            speech = {"results": [{"text": "zzz", "confidence": "0.2"}, {"text": said, "confidence": "0.87"}]}
        event = {
            "uuid": self.uuid,
            "conversation_uuid": "CON-9",
            "dtmf": {"digits": digits, "timed_out": not digits},
            "speech": speech,
            "timestamp": "2027-01-04T10:00:05.000Z",
        }
        body = json.dumps(event).encode()
        target = url or self.input_url()
        return self._ncco(
            self.client.post(
                target[len(self.base) :],
                data=body,
                headers={"Content-Type": "application/json", "Authorization": f"Bearer {token(body, secret)}"},
            )
        )

    def input_url(self) -> str:
        collect = next(a for a in self.ncco if a["action"] == "input")
        url: str = collect["eventUrl"][0]
        return url

    def _ncco(self, response: Any) -> Any:
        if response.status_code != 200:
            return response
        assert response.mimetype == "application/json"
        self.ncco = response.get_json()
        return self.ncco


def talk(ncco: list[dict[str, Any]]) -> str:
    return " ".join(a["text"] for a in ncco if a["action"] == "talk")


def test_offered_a_callback_the_caller_chooses_a_time_by_keypad(
    app: Flask,
    client: FlaskClient,
    db: Database,
    make_queue,
    vonage: None,  # type: ignore[no-untyped-def]
) -> None:
    make_queue(agent_target="+442079460000")
    call = VonageCall(app, client)
    greeting = call.dial()
    assert "Thank you for calling Support." in talk(greeting) and "press star" in talk(greeting)
    assert all(a["language"] == "en-GB" for a in greeting if a["action"] == "talk")
    collect = greeting[-1]
    assert collect["action"] == "input" and collect["type"] == ["dtmf", "speech"] and collect["dtmf"]["maxDigits"] == 1
    assert collect["eventMethod"] == "POST" and greeting[-2].get("bargeIn") is True
    assert collect["speech"]["language"] == "en-GB"

    call.press("2")
    times = talk(call.press("1"))
    assert "Press 1 for today at half past ten. Press 2 for today at quarter to eleven." in times
    pick = call.input_url()
    done = call.press("2")
    assert talk(done) == (
        "Thank you. We will call you back today at quarter to eleven, on 0 7 4 0 0, 1 2 3 4 5 6."
        " To get a text confirming this, press 1."
    )

    again = call.press("2", url=pick)  # Vonage retried the event
    assert talk(again) == talk(done)
    bye = call.press("")  # no text, thanks
    assert talk(bye) == "Goodbye." and not any(a["action"] == "input" for a in bye)  # the NCCO ends: Vonage hangs up
    with db.read() as session:
        (callback,) = session.scalars(select(Callback)).all()
    shown = client.get(f"/api/v1/callbacks/{callback.ref}").get_json()
    assert (shown["source"], shown["phone"], shown["slot_start"]) == (
        "ivr",
        "+447400123456",
        "2027-01-04T10:45:00+00:00",
    )


@pytest.mark.parametrize("hold_mode", ["dial", "enqueue"])  # Vonage has no queue of its own: always a connect
def test_keep_holding_connects_to_the_agents_number(
    app: Flask,
    client: FlaskClient,
    make_queue,
    vonage: None,  # type: ignore[no-untyped-def]
    hold_mode: str,
) -> None:
    make_queue(agent_target="+442079460000", hold_mode=hold_mode)
    call = VonageCall(app, client)
    call.dial()
    ncco = call.press("*")
    connect = ncco[-1]
    assert connect["action"] == "connect" and connect["endpoint"] == [{"type": "phone", "number": "442079460000"}]
    assert connect["eventType"] == "synchronous" and connect["eventUrl"][0].endswith(f"?call_id={CALL_UUID}")
    # Nobody answered: Vonage posts the agent leg's event; the caller is offered a callback again.
    body = json.dumps({"uuid": "leg-2", "status": "timeout", "conversation_uuid": "CON-9"}).encode()
    missed = client.post(
        connect["eventUrl"][0][len(call.base) :],
        data=body,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token(body)}"},
    )
    assert missed.status_code == 200
    assert "Sorry to keep you waiting" in talk(missed.get_json()) and missed.get_json()[-1]["action"] == "input"


def test_a_withheld_caller_types_a_number_in(
    app: Flask,
    client: FlaskClient,
    db: Database,
    make_queue,
    vonage: None,  # type: ignore[no-untyped-def]
) -> None:
    make_queue(agent_target="+442079460000")
    call = VonageCall(app, client)
    call.dial(caller="Unknown")
    entry = call.press("1")
    assert "enter your phone number" in talk(entry) and entry[-1]["dtmf"]["maxDigits"] == 15
    assert entry[-1]["dtmf"]["submitOnHash"] is True
    assert "You entered 0 7 4 0 0, 9 0 0 1 2 3." in talk(call.press("07400900123"))
    done = call.press("1")
    assert "we will call you back between 8 and 10 minutes from now, on 0 7 4 0 0, 9 0 0 1 2 3" in talk(done)
    with db.read() as session:
        (callback,) = session.scalars(select(Callback)).all()
    assert (callback.phone, callback.kind, callback.source) == ("+447400900123", "asap", "ivr")


def test_a_withheld_caller_says_their_number_in_french(
    app: Flask,
    client: FlaskClient,
    db: Database,
    make_queue,
    vonage: None,  # type: ignore[no-untyped-def]
) -> None:
    make_queue(agent_target="+442079460000", language="fr", region="FR")
    call = VonageCall(app, client)
    call.dial(caller="Unknown")
    entry = call.press("", said="Rappelez-moi dès que possible, un.")
    assert entry[-1]["type"] == ["dtmf", "speech"] and entry[-1]["speech"]["language"] == "fr-FR"
    assert entry[-1]["dtmf"]["maxDigits"] == 15
    confirm = call.press("", said="zéro six, douze, trente-quatre, cinquante-six, soixante-dix-huit")
    assert "0 6, 1 2, 3 4, 5 6, 7 8" in talk(confirm)
    call.press("", said="un")
    with db.read() as session:
        (callback,) = session.scalars(select(Callback)).all()
    assert (callback.phone, callback.kind) == ("+33612345678", "asap")


def test_bad_signatures_are_refused_and_nothing_is_booked(
    app: Flask,
    client: FlaskClient,
    db: Database,
    make_queue,
    vonage: None,  # type: ignore[no-untyped-def]
) -> None:
    make_queue(agent_target="+442079460000")
    call = VonageCall(app, client)
    assert call.dial(secret="not-the-signature-secret-but-long-enough").status_code == 403
    assert client.get(f"/webhooks/vonage/voice/inbound?to={QUEUE_NUMBER}&from={CALLER}&uuid=x").status_code == 403
    call.dial()
    call.press("2")
    call.press("1")
    assert call.press("1", secret="not-the-signature-secret-but-long-enough").status_code == 403
    with db.read() as session:
        assert session.scalars(select(Callback)).all() == []


def test_a_queues_recorded_prompt_is_streamed(
    app: Flask,
    client: FlaskClient,
    make_queue,
    vonage: None,  # type: ignore[no-untyped-def]
) -> None:
    offer = "https://cdn.example.com/support/offer.mp3"
    make_queue(agent_target="+442079460000", prompt_audio={"offer": offer})
    greeting = VonageCall(app, client).dial()
    assert [a["action"] for a in greeting] == ["talk", "talk", "stream", "input"]
    assert greeting[2] == {"action": "stream", "streamUrl": [offer], "bargeIn": True}
    assert "Thank you for calling Support." in talk(greeting) and "press star" not in talk(greeting)
