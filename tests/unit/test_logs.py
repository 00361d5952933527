"""Log lines: phone numbers masked whoever logged them, text or JSON, with their context."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra import logs
from infra.settings import Settings, SettingsError, load_settings


@pytest.fixture
def capture(tmp_path: Path) -> Iterator[tuple[logging.Logger, io.StringIO, Settings]]:
    stream = io.StringIO()
    settings = Settings(database_url="sqlite://", secret_key="x", instance_path=tmp_path)
    yield logging.getLogger("test.logs"), stream, settings
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_callbacks_handler", False):
            root.removeHandler(handler)


def test_mask_phone_keeps_the_country_code_and_the_last_two_digits() -> None:
    assert logs.mask_phone("+447400123456") == "+44********56"
    assert logs.mask_phone("%2B447400123456") == "%2B44********56"


def test_numbers_anywhere_in_a_text_are_masked_and_other_digits_are_not() -> None:
    text = "dial to +447400123456 from %2B15005550006 for attempt 1234567890 at 2026-11-23"
    masked = logs.mask_text(text)
    assert "7400123456" not in masked and "5005550006" not in masked
    assert "+44********56" in masked and "attempt 1234567890" in masked and "2026-11-23" in masked


def test_a_number_passed_as_an_argument_is_masked_in_text_lines(capture) -> None:  # type: ignore[no-untyped-def]
    logger, stream, settings = capture
    logs.configure(settings, stream)
    logger.info("text to %s: %s", "+447400123456", "sent", extra={"callback": "ABC123"})
    line = stream.getvalue()
    assert "+44********56" in line and "7400123456" not in line
    assert "callback=ABC123" in line and " INFO test.logs: text to " in line


def test_json_lines_carry_the_context_and_mask_exceptions(capture) -> None:  # type: ignore[no-untyped-def]
    logger, stream, settings = capture
    logs.configure(settings.with_overrides(log_format="json"), stream)
    with logs.callback_context("REF42"):
        try:
            raise ValueError("the 'To' number +447400123456 is not valid")
        except ValueError:
            logger.exception("dial failed")
    record = json.loads(stream.getvalue().splitlines()[0])
    assert record["level"] == "ERROR" and record["logger"] == "test.logs"
    assert record["message"] == "dial failed" and record["callback"] == "REF42"
    assert "+44********56" in record["exception"] and "7400123456" not in record["exception"]


def test_configuring_twice_leaves_one_handler(capture) -> None:  # type: ignore[no-untyped-def]
    logger, stream, settings = capture
    logs.configure(settings, io.StringIO())
    logs.configure(settings, stream)
    logger.warning("once")
    assert stream.getvalue().count("once") == 1
    assert sum(getattr(h, "_callbacks_handler", False) for h in logging.getLogger().handlers) == 1


def test_log_format_and_shutdown_seconds_are_parsed_strictly(tmp_path: Path) -> None:
    env = {"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x"}
    assert load_settings(env).log_format == "text"
    assert load_settings({**env, "LOG_FORMAT": "JSON"}).log_format == "json"
    with pytest.raises(SettingsError, match="LOG_FORMAT"):
        load_settings({**env, "LOG_FORMAT": "xml"})
    assert load_settings(env).worker_shutdown_seconds == 20
    assert load_settings({**env, "WORKER_SHUTDOWN_SECONDS": "5"}).worker_shutdown_seconds == 5
    with pytest.raises(SettingsError, match="WORKER_SHUTDOWN_SECONDS"):
        load_settings({**env, "WORKER_SHUTDOWN_SECONDS": "0"})


def test_control_characters_in_a_message_cannot_forge_a_line(capture) -> None:  # type: ignore[no-untyped-def]
    logger, stream, settings = capture
    logs.configure(settings, stream)
    logger.warning("GET %s 404", "/x\n2026-01-01 00:00:00,000 INFO app: admin signed in\r\x1b[31m")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    assert "/x\\n2026-01-01" in lines[0] and "\\r\\x1b[31m" in lines[0]


def test_a_traceback_keeps_its_own_lines_and_the_message_its_one(capture) -> None:  # type: ignore[no-untyped-def]
    logger, stream, settings = capture
    logs.configure(settings, stream)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logger.exception("failed for\nnobody")
    first, *rest = stream.getvalue().splitlines()
    # (a context suffix, "[request_id=…]", may follow the message on its line)
    assert "ERROR test.logs: failed for\\nnobody" in first and rest[0] == "Traceback (most recent call last):"


def test_a_number_in_any_format_is_masked_but_its_ends() -> None:
    assert logs.mask_digits("07400123456") == "07*******56"
    assert logs.mask_digits("+44 7400 123456") == "+44 **** ****56"
    assert logs.mask_digits("SUPPORT") == "SUPPORT" and logs.mask_digits("12345") == "12345"
