"""Typed access to what create_app put on the current app."""

from __future__ import annotations

from datetime import datetime

from flask import current_app

from infra.clock import Clock
from infra.db import Database
from infra.settings import Settings


def db() -> Database:
    database: Database = current_app.extensions["db"]
    return database


def settings() -> Settings:
    value: Settings = current_app.extensions["settings"]
    return value


def now() -> datetime:
    clock: Clock = current_app.extensions["clock"]
    return clock.now()
