"""The pure pieces of event push: when a failed delivery is tried again, the signature,
and the XML rendering of an event document."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree

from events.payloads import to_json, to_xml
from events.retry import next_attempt_after
from events.signing import signature, signed_headers

NOW = datetime(2027, 1, 4, 10, 0, tzinfo=UTC)


def test_a_failed_delivery_is_tried_again_after_the_interval_until_the_attempts_run_out() -> None:
    assert next_attempt_after(1, NOW, 4, 300) == NOW + timedelta(minutes=5)
    assert next_attempt_after(3, NOW, 4, 300) == NOW + timedelta(minutes=5)
    assert next_attempt_after(4, NOW, 4, 300) is None
    assert next_attempt_after(1, NOW, 1, 300) is None  # one attempt in all: no retry


def test_the_signature_is_an_hmac_of_the_timestamp_a_dot_and_the_body() -> None:
    body = b'{"id":"e1","type":"callback.created"}'
    expected = hmac.new(b"secret", b"1798970400." + body, hashlib.sha256).hexdigest()
    assert signature("secret", 1798970400, body) == f"v1={expected}"
    assert signature("secret", 1798970401, body) != signature("secret", 1798970400, body)
    headers = signed_headers("secret", 1798970400, body, "e1", "callback.created")
    assert headers["X-Callbacks-Timestamp"] == "1798970400" and headers["X-Callbacks-Event-Id"] == "e1"


def test_an_event_as_xml_keeps_every_field_names_list_items_and_marks_nulls() -> None:
    doc = {
        "id": "e1",
        "type": "callback.created",
        "occurred_at": NOW.isoformat(),
        "callback": {
            "ref": "ABC",
            "name": None,
            "sms_consent": False,
            "attempts": 2,
            "tags": ["vip", "<b>&"],
            "fields": [{"name": "order", "value": "A-17"}],
        },
    }
    root = ElementTree.fromstring(to_xml(doc))
    assert (root.tag, root.get("id"), root.get("type")) == ("event", "e1", "callback.created")
    assert root.findtext("occurred_at") == NOW.isoformat()
    assert root.find("callback/name").get("null") == "true"  # type: ignore[union-attr]
    assert root.findtext("callback/sms_consent") == "false" and root.findtext("callback/attempts") == "2"
    assert [t.text for t in root.findall("callback/tags/tag")] == ["vip", "<b>&"]  # escaped, and back
    assert root.findtext("callback/fields/field/value") == "A-17"


def test_an_event_as_json_is_compact_utf8() -> None:
    assert to_json({"id": "e", "name": "Алиса"}) == '{"id":"e","name":"Алиса"}'.encode()
