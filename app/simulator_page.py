"""/simulator: the built-in phone. See the calls we place ring, answer them as a person
or a voicemail, press keys, and read our texts."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, render_template, request

from infra import context
from infra.json_input import loads
from telephony.simulator_driver import Deliver, SimulatorDriver, SimulatorError

simulator = Blueprint(
    "simulator", __name__, url_prefix="/simulator", template_folder="templates", static_folder="static"
)

ACTIONS = ("answer", "machine", "press", "silent", "ring_out", "busy", "decline", "hang_up")


def _body() -> dict[str, Any]:
    """The request's JSON object; {} when there is none or it is not an object or not JSON
    (the view then says which field is missing)."""
    try:
        document = loads(request.get_data(cache=True) or b"{}")
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def in_process_deliver(app: Flask) -> Deliver:
    """Deliver a webhook to this very app through its full WSGI stack, without a socket."""
    base = app.extensions["settings"].public_base_url

    def deliver(method: str, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        if not url.startswith(base):
            raise SimulatorError(f"{url} is not one of this app's URLs")
        response = app.test_client().open(url[len(base) :], method=method, data=body, headers=headers)
        return response.status_code, response.get_data()

    return deliver


def phone_of(app: Flask, agents_available: bool = True) -> SimulatorDriver:
    """The app's simulated phone, with the simulator's agents when it has some
    (SIMULATOR_AGENTS): then a bridge finds an agent only when one is free (else the call
    holds in line for one), whatever the page's switch (``agents_available``) says."""
    simulator = app.extensions["providers"].get("simulator")
    return SimulatorDriver(
        app.extensions["db"],
        app.extensions["settings"].secret_key,
        in_process_deliver(app),
        app.extensions["clock"],
        agents_available,
        agents=getattr(simulator, "agents", 0),
        handle_seconds=getattr(simulator, "agent_handle_seconds", 240),
    )


def driver(agents_available: bool = True) -> SimulatorDriver:
    return phone_of(current_app._get_current_object(), agents_available)  # type: ignore[attr-defined]


@simulator.get("")
def page() -> str:
    return render_template("simulator.html")


@simulator.get("/api/state")
def state() -> Response:
    phone = driver()
    phone.follow_redirects()  # the network plays what our side redirected calls to (an answering machine's message)
    return jsonify({"calls": phone.calls(), "texts": phone.texts(), "agents": phone.agents_state()})


@simulator.post("/api/calls")
def call_in() -> Response | tuple[Response, int]:
    """ "Call the queue": the person dials one of our numbers from the number they typed."""
    body: dict[str, Any] = _body()
    from_, to = str(body.get("from", "")).strip()[:32], str(body.get("to", "")).strip()[:32]
    if not to:
        return jsonify({"type": "validation_error", "message": "which number are you calling?", "details": {}}), 400
    answer_url = f"{context.settings().public_base_url}/webhooks/simulator/voice/inbound"
    try:
        result = driver().dial_in(from_, to, answer_url)
    except SimulatorError as error:
        return jsonify({"type": "simulator_conflict", "message": str(error), "details": {}}), 409
    return jsonify({key: value for key, value in result.items() if key in ("call_id", "state", "script")})


@simulator.post("/api/calls/<call_id>/<action>")
def act(call_id: str, action: str) -> Response | tuple[Response, int]:
    if action not in ACTIONS:
        return jsonify({"type": "not_found", "message": f"no action {action}", "details": {}}), 404
    body: dict[str, Any] = _body()
    phone = driver(agents_available=bool(body.get("agents_available", True)))
    try:
        if action == "answer":
            result = phone.answer(call_id)
        elif action == "machine":
            result = phone.answer(call_id, machine=True)
        elif action == "press":
            result = phone.press(call_id, str(body.get("digits", ""))[:20])
        elif action == "silent":
            result = phone.stay_silent(call_id)
        else:
            result = getattr(phone, action)(call_id)
    except SimulatorError as error:
        return jsonify({"type": "simulator_conflict", "message": str(error), "details": {}}), 409
    return jsonify({key: value for key, value in result.items() if key in ("call_id", "state", "script")})


@simulator.post("/api/texts")
def send_text() -> Response | tuple[Response, int]:
    """The person texts us: delivered, signed, to our inbound SMS webhook like a provider would."""
    body: dict[str, Any] = _body()
    settings = context.settings()
    sender, text = str(body.get("from", "")).strip()[:20], str(body.get("text", ""))[:1600]
    to = str(body.get("to") or "").strip()[:20] or settings.caller_id
    if not sender or not text.strip():
        return jsonify({"type": "validation_error", "message": "a number and a text are needed", "details": {}}), 400
    url = f"{settings.public_base_url}/webhooks/simulator/sms/inbound"
    try:
        message_id = driver().send_text(url, sender, to, text)
    except SimulatorError as error:
        return jsonify({"type": "simulator_conflict", "message": str(error), "details": {}}), 409
    return jsonify({"message_id": message_id})
