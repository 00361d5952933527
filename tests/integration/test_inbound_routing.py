"""Inbound numbers route to one queue."""

from __future__ import annotations

import pytest

from infra.db import Database
from scheduler.errors import ValidationFailed
from services.queues import queue_key_for_number


def test_a_called_number_finds_its_queue(db: Database, make_queue) -> None:  # type: ignore[no-untyped-def]
    make_queue()
    make_queue(key="sales", name="Sales", inbound_numbers=["+441632960002", "+441632960003"])
    with db.read() as session:
        assert queue_key_for_number(session, "+441632960001") == "support"
        assert queue_key_for_number(session, "+441632960003") == "sales"
        assert queue_key_for_number(session, "+441632960999") is None


def test_a_number_cannot_answer_two_queues(db: Database, make_queue) -> None:  # type: ignore[no-untyped-def]
    make_queue()
    with pytest.raises(ValidationFailed) as caught:
        make_queue(key="sales", name="Sales", inbound_numbers=["+441632960001"])
    assert "support" in caught.value.details["inbound_numbers"]
    make_queue(inbound_numbers=["+441632960009"])  # the queue itself may change its own numbers
