"""A fast CRM stand-in for the event delivery benchmark, in its own process (it must not
share the sender's GIL): ``python -m bench.events_receiver PORTS``.

PORTS receivers (one port per subscription, as each CRM is its own host: the sender's
``requests`` session keeps one connection pool per host and port), each a threaded
HTTP/1.1 server with keep-alive that answers every POST 200 at once and counts it by
(port, ``X-Callbacks-Event-Id``). The first port also answers ``GET /stats`` (JSON: the
requests, the distinct (port, event) pairs, the duplicates, the requests per port) and
``POST /reset``. It prints its ports on one line of stdout when ready.
"""

from __future__ import annotations

import json
import sys
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from events.signing import EVENT_ID_HEADER

_lock = threading.Lock()
_seen: Counter[tuple[int, str]] = Counter()


def _stats() -> dict[str, object]:
    with _lock:
        requests = sum(_seen.values())
        per_port: Counter[int] = Counter()
        for (port, _event), count in _seen.items():
            per_port[port] += count
        return {
            "requests": requests,
            "distinct": len(_seen),
            "duplicates": requests - len(_seen),
            "per_port": {str(port): count for port, count in sorted(per_port.items())},
        }


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the listen backlog (read when the socket is opened)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self, status: int, body: bytes, content_type: str = "text/plain") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(length)
        if self.path == "/reset":
            with _lock:
                _seen.clear()
            self._answer(200, b"ok")
            return
        key = (int(self.connection.getsockname()[1]), self.headers.get(EVENT_ID_HEADER, ""))
        with _lock:
            _seen[key] += 1
        self._answer(200, b"ok")

    def do_GET(self) -> None:
        if self.path == "/stats":
            self._answer(200, json.dumps(_stats()).encode(), "application/json")
        else:
            self._answer(404, b"not found")

    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    servers = []
    for _ in range(count):
        servers.append(Server(("127.0.0.1", 0), Handler))
    for server in servers[1:]:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print(" ".join(str(s.server_address[1]) for s in servers), flush=True)
    servers[0].serve_forever()


if __name__ == "__main__":
    main()
