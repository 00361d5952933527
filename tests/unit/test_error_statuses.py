"""Every domain error type has its HTTP status in app/error_statuses.py (the errors carry
none), and no two error classes define the same type."""

from __future__ import annotations

import importlib
import pkgutil

from app.error_statuses import HTTP_STATUS, http_status
from scheduler.errors import DomainError, LinkUsed, SlotFull
from tests.unit.test_import_layers import PACKAGES


def _every_error() -> list[type[DomainError]]:
    for package in PACKAGES:
        for found in pkgutil.walk_packages(importlib.import_module(package).__path__, f"{package}."):
            importlib.import_module(found.name)
    errors, todo = [], [DomainError]
    while todo:
        cls = todo.pop()
        errors.append(cls)
        todo.extend(cls.__subclasses__())
    return errors


def test_every_error_type_has_a_status_and_one_class() -> None:
    errors = _every_error()
    assert len(errors) > 30  # every package was read
    # A subclass that keeps its parent's type is that error, refined (the console's FormInvalid).
    types = [cls.type for cls in errors if "type" in vars(cls)]
    assert sorted(set(types)) == sorted(types), "two error classes define the same type"
    assert set(types) == set(HTTP_STATUS), "an error type without a status, or a status for no error"
    assert all(not hasattr(cls, "http_status") for cls in errors)  # the web layer maps them
    assert all(400 <= status < 500 for status in HTTP_STATUS.values())


def test_an_error_and_its_class_answer_the_same_status() -> None:
    assert http_status(SlotFull("full")) == http_status(SlotFull) == 409
    assert http_status(LinkUsed) == 410
