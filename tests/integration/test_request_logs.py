"""One access line per request, with the request id the client sent (or one we made),
echoed back; the callback a request is about is on its lines."""

from __future__ import annotations

import logging

import pytest
from flask.testing import FlaskClient

from tests.integration.helpers import book


def access_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "app.access"]


def test_a_sane_request_id_is_kept_and_echoed(client: FlaskClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    response = client.get("/healthz?secret=hunter2", headers={"X-Request-ID": "lb-1234.abc"})
    assert response.headers["X-Request-ID"] == "lb-1234.abc"
    (line,) = access_lines(caplog)
    assert line.request_id == "lb-1234.abc"  # type: ignore[attr-defined]
    assert (line.method, line.path, line.status) == ("GET", "/healthz", 200)  # type: ignore[attr-defined]
    assert isinstance(line.duration_ms, float)  # type: ignore[attr-defined]
    assert "hunter2" not in line.getMessage()


def test_a_missing_or_odd_request_id_is_replaced(client: FlaskClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    made = client.get("/healthz").headers["X-Request-ID"]
    odd = client.get("/healthz", headers={"X-Request-ID": "a b;<script>" + "x" * 200}).headers["X-Request-ID"]
    assert len(made) == 32 and len(odd) == 32 and made != odd
    assert [r.request_id for r in access_lines(caplog)] == [made, odd]  # type: ignore[attr-defined]


def test_a_booking_logs_its_callback_and_never_the_whole_number(
    client: FlaskClient, demo_queue: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    response = book(client, 7)
    assert response.status_code == 201, response.get_json()
    ref = response.get_json()["ref"]
    (line,) = access_lines(caplog)
    assert line.callback == ref and line.status == 201  # type: ignore[attr-defined]
    booked = [r for r in caplog.records if r.name == "services.booking_service"]
    assert booked and booked[0].callback == ref  # type: ignore[attr-defined]
    assert booked[0].request_id == line.request_id  # type: ignore[attr-defined]
    assert all("+447400000007" not in r.getMessage() for r in caplog.records)


def test_secret_path_segments_are_not_logged(client: FlaskClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    client.get("/b/SECRETCODE42")
    (line,) = access_lines(caplog)
    assert line.path == "/b/<code>" and "SECRETCODE42" not in line.getMessage()  # type: ignore[attr-defined]


def test_a_webhook_refused_for_its_signature_logs_no_token(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    response = client.post("/webhooks/simulator/voice/event/SIGNEDTOKEN.abc", json={"call_id": "x"})
    assert response.status_code == 403
    assert "SIGNEDTOKEN" not in caplog.text
    assert "/webhooks/simulator/voice/event/<token>" in caplog.text


@pytest.mark.parametrize("written", ["07400123456", "+447400123456", "0740%20012%203456"])
def test_a_number_in_a_path_is_masked_whatever_its_format(
    client: FlaskClient, caplog: pytest.LogCaptureFixture, written: str
) -> None:
    caplog.set_level(logging.INFO)
    client.get(f"/api/v1/people/{written}")
    (line,) = access_lines(caplog)
    assert line.path.startswith("/api/v1/people/")  # type: ignore[attr-defined]
    digits = "".join(c for c in line.path if c.isdigit())  # type: ignore[attr-defined]
    assert "7400123456" not in digits and "400123" not in caplog.text


def test_a_newline_in_a_url_is_one_escaped_line_in_the_text_log(app, client: FlaskClient, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import io

    from infra import logs

    stream = io.StringIO()
    handler = logs.configure(app.extensions["settings"], stream)
    try:
        client.get("/nowhere%0a2027-01-04 10:00:00,000 INFO app.access: POST /console/login 303")
    finally:
        logging.getLogger().removeHandler(handler)
    (line,) = [entry for entry in stream.getvalue().splitlines() if "app.access" in entry.split(": ")[0]]
    assert "/nowhere\\n2027-01-04" in line
