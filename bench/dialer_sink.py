"""A fake provider HTTP endpoint for the dialer benchmark: it records every dial request.

    python -m bench.dialer_sink --port 0      # prints "READY <port>" once it listens

Its own process on 127.0.0.1, one thread per connection, HTTP/1.1 keep-alive.

- ``POST /calls`` (JSON ``{to, status_url, answer_url}``): records ``time.time()`` on
  arrival, the body and a new call id; answers 201 ``{"call_id": ...}``.
- ``GET /calls?to=+44...``: the latest call to that number (``{call_id, to, at}``) or 404:
  how the bench adapter's ``find_call`` adopts a call whose id a killed worker never saved.
- ``GET /calls/<call_id>``: one call, or 404 (``fetch_call``).
- ``GET /records``: every call recorded, and how often ``find_call`` asked and found one.
- ``POST /reset``: forget everything (a fresh run).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

HOST = "127.0.0.1"


class Store:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.by_id: dict[str, dict[str, Any]] = {}
        self.latest_to: dict[str, dict[str, Any]] = {}
        self.finds = 0
        self.find_hits = 0
        self.ids = itertools.count(1)


STORE = Store()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the adapter reuses its connection
    # Headers and body are separate writes: without TCP_NODELAY, Nagle's algorithm and
    # the client's delayed ACK hold the body back ~40 ms (a sink artifact, not the app's).
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, status: int, document: Any) -> None:
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        at = time.time()  # the dial request has reached the provider
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        path = urlsplit(self.path).path
        if path == "/reset":
            with STORE.lock:
                STORE.reset()
            self._reply(200, {"ok": True})
            return
        if path != "/calls":
            self._reply(404, {"error": "not found"})
            return
        body = json.loads(raw or b"{}")
        with STORE.lock:
            call_id = f"SINK{next(STORE.ids):08d}"
            record = {
                "call_id": call_id,
                "at": at,
                "to": body.get("to"),
                "status_url": body.get("status_url"),
                "answer_url": body.get("answer_url"),
            }
            STORE.records.append(record)
            STORE.by_id[call_id] = record
            STORE.latest_to[str(body.get("to"))] = record
        self._reply(201, {"call_id": call_id})

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path == "/records":
            with STORE.lock:
                document = {"records": list(STORE.records), "finds": STORE.finds, "find_hits": STORE.find_hits}
            self._reply(200, document)
            return
        if parts.path == "/calls":
            to = parse_qs(parts.query).get("to", [""])[0]
            with STORE.lock:
                STORE.finds += 1
                record = STORE.latest_to.get(to)
                if record is not None:
                    STORE.find_hits += 1
            self._reply(200, record) if record else self._reply(404, {"error": "no call"})
            return
        if parts.path.startswith("/calls/"):
            with STORE.lock:
                record = STORE.by_id.get(parts.path.rsplit("/", 1)[1])
            self._reply(200, record) if record else self._reply(404, {"error": "no call"})
            return
        if parts.path == "/healthz":
            self._reply(200, {"status": "ok"})
            return
        self._reply(404, {"error": "not found"})


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    server = Server((HOST, args.port), Handler)
    print(f"READY {server.server_address[1]}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever(poll_interval=0.2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
