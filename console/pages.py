"""Every console page, registered on the console's blueprint: the factory imports this."""

from __future__ import annotations

from console import (  # noqa: F401  (each registers its routes on the blueprint)
    callback_views,
    capacity_views,
    event_views,
    hours_views,
    queue_views,
    report_views,
    settings_form,
    settings_views,
    views,
    wallboard_views,
)
from console.blueprint import console, csrf

__all__ = ["console", "csrf"]
