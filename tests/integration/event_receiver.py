"""A real HTTP receiver on loopback, in a thread, for the event push tests: it records
what it is sent and answers as told (2xx, 500, too late, or by dropping the connection)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


# What to do with a request: a status to answer, or "close" (drop the connection unanswered).
Behaviour = Callable[[Received], int | str]


class Receiver:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.behaviour: Behaviour = lambda _request: 200
        self.arrived = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks"

    def answer(self, behaviour: Behaviour | int | str) -> None:
        self.behaviour = behaviour if callable(behaviour) else (lambda _request: behaviour)

    def wait_for(self, count: int, timeout: float = 10) -> list[Received]:
        with self.arrived:
            if not self.arrived.wait_for(lambda: len(self.received) >= count, timeout):
                raise AssertionError(f"the receiver got {len(self.received)} requests, expected {count}")
            return list(self.received)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                request = Received(self.path, dict(self.headers.items()), self.rfile.read(length))
                with receiver.arrived:
                    receiver.received.append(request)
                    receiver.arrived.notify_all()
                answer = receiver.behaviour(request)
                if answer == "close":
                    self.close_connection = True
                    self.connection.close()
                    return
                assert isinstance(answer, int)
                try:
                    self.send_response(answer)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the sender gave up waiting (a timeout test)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()
