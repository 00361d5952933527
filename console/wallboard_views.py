"""The live wallboard: one row per queue (scheduler/wallboard.py), as a page for a TV, as
a JSON snapshot, and as a Server-Sent Events stream that pushes a new snapshot whenever
anything changed in the cluster (services/wallboard_feed.py: one poller per process).

A stream lasts at most WALLBOARD_STREAM_SECONDS (5 minutes), then ends: the page's
EventSource reconnects by itself (``retry:``), so a stream never holds one of gunicorn's
threads for good, and every reconnect is a request that checks the session again (a
deactivated account stops at the next one) and refreshes its cookie. A web process told
to stop (SIGTERM) ends its streams at once (gunicorn.conf.py), so they do not hold up its
shutdown, and the browsers reconnect to the processes still serving.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from flask import Flask, Response, current_app, render_template
from flask.typing import ResponseReturnValue

from console.blueprint import console, requires
from infra import context
from services.wallboard_feed import Feed, snapshot_json

STREAM_SECONDS = 300  # then the client reconnects
KEEP_ALIVE_SECONDS = 15  # a comment line: proxies keep the connection, a gone client is noticed
RETRY_MILLISECONDS = 2000  # EventSource waits this long before it reconnects
_feed_lock = threading.Lock()


def feed(app: Flask) -> Feed:
    """The app's one feed in this process."""
    with _feed_lock:
        found = app.extensions.get("wallboard_feed")
        if found is None:
            found = Feed(context.db(), app.extensions["clock"], context.settings().agent_figures_max_age)
            app.extensions["wallboard_feed"] = found
        return found


def _snapshot() -> str:
    return snapshot_json(context.db(), current_app.extensions["clock"], context.settings().agent_figures_max_age)


@console.get("/wallboard")
@requires("wallboard")
def wallboard() -> ResponseReturnValue:
    snapshot = json.loads(_snapshot())
    return render_template("console_wallboard.html", snapshot=snapshot, retry=RETRY_MILLISECONDS)


@console.get("/wallboard.json")
@requires("wallboard")
def wallboard_json() -> ResponseReturnValue:
    return Response(_snapshot(), mimetype="application/json", headers={"Cache-Control": "no-store"})


def _events(source: Feed, seconds: float, keep_alive: float) -> Iterator[str]:
    source.join()
    try:
        yield f"retry: {RETRY_MILLISECONDS}\n\n"
        version, ends = 0, time.monotonic() + seconds
        while (left := ends - time.monotonic()) > 0 and not source.stopping:
            got = source.after(version, min(keep_alive, left))
            if got is None:
                if not source.stopping:
                    yield ": keep-alive\n\n"
                continue
            version, data = got
            yield f"id: {version}\nevent: snapshot\ndata: {data}\n\n"
        yield "event: reconnect\ndata: {}\n\n"
    finally:
        source.leave()  # the client went away (the write failed) or the stream ran its time


@console.get("/wallboard/stream")
@requires("wallboard")
def wallboard_stream() -> ResponseReturnValue:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    seconds = float(app.config.get("WALLBOARD_STREAM_SECONDS", STREAM_SECONDS))
    keep_alive = float(app.config.get("WALLBOARD_KEEP_ALIVE_SECONDS", KEEP_ALIVE_SECONDS))
    return Response(
        _events(feed(app), seconds, keep_alive),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@console.get("/wallboard.js")
@requires("wallboard")
def wallboard_script() -> ResponseReturnValue:
    path = Path(__file__).parent / "static" / "wallboard.js"
    return Response(path.read_text(), mimetype="text/javascript", headers={"Cache-Control": "no-cache"})
