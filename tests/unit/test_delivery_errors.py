"""A failed POST's exception as a stable code (events/delivery_errors.py), from real sockets
on 127.0.0.1 where one can show it, and the attempt log's older phrases read as codes."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from ipaddress import IPv4Address

import pytest
import requests
import urllib3.exceptions

from events import delivery_errors as codes
from events.delivery_errors import code_of, stored_code
from events.sender import Job, new_http, post
from events.targets import TargetNotAllowed, TargetPolicy, TargetUnresolved

TO_LOOPBACK = TargetPolicy.of(["127.0.0.1"], lambda _host, _port: [IPv4Address("127.0.0.1")])


def closed_port() -> int:
    with socket.socket() as probe:  # bound, never listening: a connection is refused
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def server() -> Iterator[Callable[[Callable[[socket.socket], None]], int]]:
    """A TCP server on 127.0.0.1 doing ``handle`` with each connection; gives its port."""
    sockets: list[socket.socket] = []

    def start(handle: Callable[[socket.socket], None]) -> int:
        listening = socket.socket()
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        sockets.append(listening)

        def serve() -> None:
            while True:
                try:
                    connection, _ = listening.accept()
                except OSError:
                    return
                sockets.append(connection)
                handle(connection)

        threading.Thread(target=serve, daemon=True).start()
        return int(listening.getsockname()[1])

    yield start
    for s in sockets:
        s.close()


def attempt(url: str, timeout: float = 2) -> str | None:
    http = new_http()
    try:
        job = Job(1, 1, url, "s" * 32, "application/json", b"{}", "e", "callback.created")
        return post(http, job, timeout, 0, TO_LOOPBACK).error
    finally:
        http.close()


def test_a_closed_port_is_a_refused_connection() -> None:
    assert attempt(f"http://127.0.0.1:{closed_port()}/hooks") == codes.CONNECTION_REFUSED


def test_a_connection_closed_unanswered_is_a_dropped_one(server: Callable[..., int]) -> None:
    def hang_up(connection: socket.socket) -> None:
        connection.recv(65536)
        connection.close()

    assert attempt(f"http://127.0.0.1:{server(hang_up)}/hooks") == codes.CONNECTION_DROPPED


def test_a_connection_reset_is_a_dropped_one(server: Callable[..., int]) -> None:
    def reset(connection: socket.socket) -> None:
        connection.recv(65536)
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        connection.close()  # linger 0: a RST

    assert attempt(f"http://127.0.0.1:{server(reset)}/hooks") == codes.CONNECTION_DROPPED


def test_a_silent_receiver_is_no_answer(server: Callable[..., int]) -> None:
    assert attempt(f"http://127.0.0.1:{server(lambda _c: None)}/hooks", timeout=0.3) == codes.READ_TIMEOUT


def test_tls_to_a_receiver_that_does_not_speak_it_fails_as_tls(server: Callable[..., int]) -> None:
    def plain_http(connection: socket.socket) -> None:
        connection.recv(65536)
        connection.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    assert attempt(f"https://127.0.0.1:{server(plain_http)}/hooks") == codes.TLS_FAILED


def test_an_untrusted_certificate_fails_as_tls() -> None:
    error = requests.exceptions.SSLError(
        urllib3.exceptions.MaxRetryError(
            None,  # type: ignore[arg-type]
            "/hooks",
            urllib3.exceptions.SSLError(ssl.SSLCertVerificationError(1, "certificate verify failed")),
        )
    )
    assert code_of(error) == codes.TLS_FAILED


def test_a_refusal_wrapped_as_requests_wraps_it() -> None:
    try:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except ConnectionRefusedError as refused:
            raise urllib3.exceptions.NewConnectionError(None, "Failed to establish a new connection") from refused  # type: ignore[arg-type]
    except urllib3.exceptions.NewConnectionError as new_connection:
        wrapped = requests.ConnectionError(urllib3.exceptions.MaxRetryError(None, "/", new_connection))  # type: ignore[arg-type]
    assert code_of(wrapped) == codes.CONNECTION_REFUSED


def test_timeouts_and_names() -> None:
    connect = requests.ConnectTimeout(
        urllib3.exceptions.MaxRetryError(None, "/", urllib3.exceptions.ConnectTimeoutError("timed out"))  # type: ignore[arg-type]
    )
    assert code_of(connect) == codes.CONNECT_TIMEOUT
    assert code_of(requests.ReadTimeout("read timed out")) == codes.READ_TIMEOUT
    assert code_of(TargetUnresolved("nowhere.test")) == codes.NAME_NOT_RESOLVED
    unresolved = urllib3.exceptions.NameResolutionError("nowhere.test", None, socket.gaierror(-2, "Name unknown"))  # type: ignore[arg-type]
    assert code_of(requests.ConnectionError(unresolved)) == codes.NAME_NOT_RESOLVED
    assert code_of(TargetNotAllowed("no", {"reason": "loopback"})) == codes.TARGET_NOT_ALLOWED
    assert code_of(requests.ConnectionError(OSError(101, "Network is unreachable"))) == codes.CONNECTION_FAILED


def test_a_name_with_no_address_is_told_and_nothing_is_sent() -> None:
    def no_address(host: str, port: int) -> list[IPv4Address]:
        raise TargetUnresolved(host)

    http = new_http()
    try:
        job = Job(1, 1, "http://nowhere.test/hooks", "s" * 32, "application/json", b"{}", "e", "t")
        assert post(http, job, 1, 0, TargetPolicy.of([], no_address)).error == codes.NAME_NOT_RESOLVED
    finally:
        http.close()


@pytest.mark.parametrize(
    ("stored", "code"),
    [
        (None, None),
        ("HTTP 503", codes.HTTP_ERROR),
        ("connection failed", codes.CONNECTION_FAILED),
        ("no answer within 10 s", codes.READ_TIMEOUT),
        ("target address not allowed", codes.TARGET_NOT_ALLOWED),
        ("connection_refused", codes.CONNECTION_REFUSED),
        ("ConnectionError(MaxRetryError('HTTPConnectionPool(host=...)'))", codes.CONNECTION_FAILED),
    ],
)
def test_what_the_log_holds_reads_as_a_code(stored: str | None, code: str | None) -> None:
    assert stored_code(stored) == code
