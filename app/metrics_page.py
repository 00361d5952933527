"""The ``/metrics`` page Prometheus scrapes (the metrics themselves: infra/metrics.py)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, request
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from infra.metrics import UNAUTHORIZED, build_registry, token_accepted
from infra.settings import Settings

metrics = Blueprint("metrics", __name__)


def _registry() -> CollectorRegistry:
    """The app's registry, built at the first scrape (it holds the app's database)."""
    ext = current_app.extensions
    registry: CollectorRegistry | None = ext.get("metrics_registry")
    if registry is None:
        registry = ext["metrics_registry"] = build_registry(ext["settings"], ext["db"], ext["clock"])
    return registry


@metrics.get("/metrics")
def scrape() -> Response | tuple[dict[str, Any], int]:
    settings: Settings = current_app.extensions["settings"]
    if not token_accepted(settings, request.headers.get("Authorization")):
        return UNAUTHORIZED, 401
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    response = Response(encoder(_registry()), content_type=content_type)
    response.headers["Cache-Control"] = "no-store"
    return response
