"""Event subscriptions may not point the sender at internal addresses (security issue 16,
finding 3: SSRF). The API refuses every internal form of a target unless
EVENT_TARGETS_ALLOWED lets it through; the sender checks again before each POST, connects
to the address it checked (a name that rebinds to 127.0.0.1 reaches nothing), keeps the
name for Host and TLS, follows no redirect, and logs no detail of a failed connection.

The app here runs without the loopback allow-list the other tests use (tests/conftest.py):
``settings`` is overridden below. DNS is faked by replacing ``socket.getaddrinfo`` for the
``.test`` names; every other name and address goes to the real one.
"""

from __future__ import annotations

import datetime as dt
import socket
import sqlite3
import ssl
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.factory import create_app
from events.address_rules import IPAddress
from events.sender import EventSender, Job, new_http, post
from events.targets import TargetPolicy
from infra.clock import FixedClock
from infra.db import Database
from infra.event_models import EventSubscription
from infra.settings import Settings
from tests.conftest import _settings
from tests.integration.helpers import book
from tests.integration.test_event_delivery import SECRET, deliver_all, deliveries, log_of
from tests.integration.test_event_delivery import subscribe as insert_subscription
from tests.integration.test_events_api import make_key

REAL_GETADDRINFO = socket.getaddrinfo


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """As everywhere, but with no allow-list: public addresses only (the default)."""
    return _settings(database_url, tmp_path).with_overrides(event_targets_allowed=(), event_timeout_seconds=2)


class FakeDns:
    """``socket.getaddrinfo`` with made-up answers for names ending in ``.test``."""

    def __init__(self) -> None:
        self.answers: dict[str, list[str]] = {}
        self.asked: list[str] = []

    def __call__(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        self.asked.append(name)
        if not name.endswith(".test"):
            return REAL_GETADDRINFO(host, port, *args, **kwargs)
        if name not in self.answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, int(port or 0)))
            for a in self.answers[name]
        ]


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> FakeDns:
    fake = FakeDns()
    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return fake


class Listener:
    """A real HTTP server on 127.0.0.1 that records every connection and request, and
    answers 200 (or what ``answer`` says)."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.connections = 0
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.answer: Callable[[str], tuple[int, dict[str, str]]] = lambda _path: (200, {})
        listener = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                listener.requests.append((self.path, dict(self.headers.items())))
                status, headers = listener.answer(self.path)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def get_request(self) -> tuple[socket.socket, Any]:
                connection, peer = super().get_request()
                listener.connections += 1
                if tls is not None:
                    connection = tls.wrap_socket(connection, server_side=True)
                return connection, peer

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client that refused our certificate

        self._server = Server(("127.0.0.1", 0), Handler)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    running = Listener()
    yield running
    running.stop()


@pytest.fixture
def admin(db: Database, clock: FixedClock) -> dict[str, str]:
    return make_key(db, clock, "admin")


def create(client: FlaskClient, admin: dict[str, str], url: str) -> Any:
    body = {"name": "CRM", "url": url, "event_types": ["callback.created"], "secret": SECRET}
    return client.post("/api/v1/subscriptions", json=body, headers=admin)


def saved_urls(db: Database) -> list[str]:
    with db.read() as session:
        return list(session.scalars(select(EventSubscription.url)))


INTERNAL_URLS = [
    ("http://169.254.169.254/latest/meta-data/", "link_local"),
    ("http://[::1]:8080/hooks", "loopback"),
    ("http://0x7f000001/hooks", "loopback"),
    ("http://2130706433/hooks", "loopback"),
    ("http://0177.0.0.1/hooks", "loopback"),
    ("http://127.1:5000/hooks", "loopback"),
    ("http://localhost:5000/hooks", "loopback"),
    ("https://LOCALHOST./hooks", "loopback"),
    ("http://127.0.0.1:6379/", "loopback"),
    ("http://0.0.0.0:8080/", "unspecified"),
    ("http://[::]/", "unspecified"),
    ("http://10.0.0.5:8080/hook", "private"),
    ("http://172.16.0.1/", "private"),
    ("http://192.168.1.1/", "private"),
    ("http://[fd00::1]/", "private"),
    ("http://[fe80::1]/", "link_local"),
    ("http://100.64.0.1/", "cgnat"),
    ("http://224.0.0.1/", "multicast"),
    ("http://255.255.255.255/", "broadcast"),
    ("http://240.0.0.1/", "reserved"),
    ("http://[::ffff:127.0.0.1]/", "loopback"),
    ("http://[::ffff:a9fe:a9fe]/", "link_local"),
    ("http://[64:ff9b::a9fe:a9fe]/", "link_local"),
    ("http://[2002:7f00:1::]/", "loopback"),
    ("http://internal.test/hooks", "private"),  # a name that resolves to 10.1.2.3
    ("http://mixed.test/hooks", "loopback"),  # one public address and one loopback
]


@pytest.mark.parametrize(("url", "reason"), INTERNAL_URLS)
def test_the_api_refuses_every_internal_form_of_a_target(
    client: FlaskClient, admin: dict[str, str], db: Database, dns: FakeDns, url: str, reason: str
) -> None:
    dns.answers |= {"internal.test": ["10.1.2.3"], "mixed.test": ["93.184.215.14", "127.0.0.1"]}
    answer = create(client, admin, url)
    body = answer.get_json()
    assert (answer.status_code, body["type"]) == (422, "target_not_allowed"), body
    assert body["details"]["reason"] == reason and "EVENT_TARGETS_ALLOWED" in body["details"]["url"]
    assert set(body) == {"type", "message", "details"}
    assert "10.1.2.3" not in str(body)  # what an internal name resolves to is not told
    assert saved_urls(db) == []


def test_a_change_to_an_internal_target_is_refused_and_the_subscription_kept(
    client: FlaskClient, admin: dict[str, str], db: Database, dns: FakeDns
) -> None:
    dns.answers |= {"crm.test": ["93.184.215.14"]}
    made = create(client, admin, "https://crm.test/hooks").get_json()
    url = f"/api/v1/subscriptions/{made['id']}"
    for target in ("http://169.254.169.254/", "http://0x7f000001:22/", "http://[::1]/"):
        answer = client.patch(url, json={"url": target}, headers=admin)
        assert (answer.status_code, answer.get_json()["type"]) == (422, "target_not_allowed")
    assert saved_urls(db) == ["https://crm.test/hooks"]
    assert client.patch(url, json={"active": False}, headers=admin).status_code == 200  # other fields: unchecked


def test_the_host_is_looked_up_before_the_write_transaction(
    client: FlaskClient, admin: dict[str, str], db: Database, dns: FakeDns
) -> None:
    """A slow DNS answer must not hold the database: on SQLite the write lock every booking
    needs. Each look-up of the subscription's host tries to take that lock at once."""
    if not db.is_sqlite:
        pytest.skip("the write lock is SQLite's")
    lock_free: list[bool] = []
    answer_for = dns.__call__

    def lookup(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if str(host).endswith(".test"):
            other = sqlite3.connect(db.engine.url.database or "", timeout=0, isolation_level=None)
            try:
                other.execute("BEGIN IMMEDIATE")
                other.execute("ROLLBACK")
                lock_free.append(True)
            except sqlite3.OperationalError:  # database is locked
                lock_free.append(False)
            finally:
                other.close()
        return answer_for(host, port, *args, **kwargs)

    dns.answers |= {"crm.test": ["93.184.215.14"], "internal.test": ["10.1.2.3"]}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket, "getaddrinfo", lookup)
        made = create(client, admin, "https://crm.test/hooks")
        assert made.status_code == 201
        changed = client.patch(
            f"/api/v1/subscriptions/{made.get_json()['id']}", json={"url": "https://internal.test/"}, headers=admin
        )
        assert changed.get_json()["type"] == "target_not_allowed"
    assert lock_free == [True, True]


@pytest.mark.parametrize(
    "url",
    [
        "http://crm.example.com@127.0.0.1/",
        "http://127.0.0.1@crm.example.com/",
        "http://user:secret@crm.example.com/",
        "gopher://127.0.0.1:6379/_INFO",
        "file:///etc/passwd",
        "dict://127.0.0.1:11211/",
    ],
)
def test_user_names_in_urls_and_other_schemes_are_refused(
    client: FlaskClient, admin: dict[str, str], db: Database, url: str
) -> None:
    answer = create(client, admin, url)
    assert (answer.status_code, answer.get_json()["type"]) == (422, "subscription_invalid")
    assert set(answer.get_json()["details"]) == {"url"}
    assert saved_urls(db) == []


def test_public_targets_and_names_without_an_address_yet_are_accepted(
    client: FlaskClient, admin: dict[str, str], dns: FakeDns
) -> None:
    dns.answers |= {"crm.test": ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]}
    for url in (
        "https://crm.test/hooks",
        "http://8.8.8.8:8080/hook",
        "https://[2606:4700::1111]/",
        "http://later.test/",
    ):
        assert create(client, admin, url).status_code == 201, url


def test_the_allow_list_lets_named_hosts_and_networks_through(
    settings: Settings, clock: FixedClock, dns: FakeDns
) -> None:
    dns.answers |= {"crm.internal.test": ["10.9.9.9"], "other.internal.test": ["10.9.9.10"]}
    allowed = settings.with_overrides(event_targets_allowed=("crm.internal.test", "10.1.2.0/24", "127.0.0.1"))
    app = create_app(allowed, clock)
    try:
        client, db = app.test_client(), app.extensions["db"]
        admin = make_key(db, clock, "admin")
        for url in ("http://crm.internal.test/hooks", "http://10.1.2.7:8080/", "http://127.0.0.1:5000/crm"):
            assert create(client, admin, url).status_code == 201, url
        for url in ("http://other.internal.test/", "http://10.1.3.7/", "http://127.0.0.2/", "http://[::1]/"):
            answer = create(client, admin, url)
            assert (answer.status_code, answer.get_json()["type"]) == (422, "target_not_allowed"), url
    finally:
        app.extensions["db"].dispose()


def test_with_the_allow_list_a_local_receiver_gets_its_events(
    settings: Settings, clock: FixedClock, demo_queue: str, listener: Listener
) -> None:
    app = create_app(settings.with_overrides(event_targets_allowed=("127.0.0.1",)), clock)
    try:
        client, db = app.test_client(), app.extensions["db"]
        url = f"http://127.0.0.1:{listener.port}/hooks"
        assert create(client, make_key(db, clock, "admin"), url).status_code == 201
        assert book(client, 1).status_code == 201
        sender = EventSender(db, clock, app.extensions["settings"], owner="test-sender")
        try:
            deliver_all(sender)
        finally:
            sender.close()
        assert [path for path, _ in listener.requests] == ["/hooks"]
        assert [d.status for d in deliveries(db)] == ["delivered"]
    finally:
        app.extensions["db"].dispose()


def test_the_demo_crm_is_subscribed_only_when_its_address_is_allowed(
    app: Flask, settings: Settings, clock: FixedClock, demo_queue: str, db: Database
) -> None:
    refused = app.test_cli_runner().invoke(args=["callbacks", "seed-demo-crm"])
    assert refused.exit_code == 2 and "target_not_allowed" in refused.output
    assert saved_urls(db) == []
    allowed = create_app(settings.with_overrides(event_targets_allowed=("127.0.0.1",)), clock)
    try:
        made = allowed.test_cli_runner().invoke(args=["callbacks", "seed-demo-crm"])
        assert made.exit_code == 0, made.output
    finally:
        allowed.extensions["db"].dispose()
    assert saved_urls(db) == ["http://127.0.0.1:5000/simulator/crm"]


@pytest.mark.parametrize("how", ["rebinding", "saved before the rule"])
def test_an_internal_target_at_send_time_is_refused_logged_generically_and_never_connected(
    client: FlaskClient,
    admin: dict[str, str],
    demo_queue: str,
    db: Database,
    clock: FixedClock,
    settings: Settings,
    dns: FakeDns,
    listener: Listener,
    how: str,
) -> None:
    if how == "rebinding":
        dns.answers["rebind.test"] = ["93.184.215.14"]  # public when the subscription is made
        assert create(client, admin, f"http://rebind.test:{listener.port}/hooks").status_code == 201
        dns.answers["rebind.test"] = ["127.0.0.1"]  # and loopback when the event is sent
    else:
        insert_subscription(db, clock, f"http://127.0.0.1:{listener.port}/hooks", ["callback.created"])
    assert book(client, 1).status_code == 201
    sender = EventSender(db, clock, settings, owner="test-sender")
    try:
        deliver_all(sender)
    finally:
        sender.close()
    assert listener.connections == 0 and listener.requests == []  # not even a connection
    (attempt,) = log_of(db)
    assert (attempt.http_status, attempt.error, attempt.succeeded) == (None, "target_not_allowed", False)
    (delivery,) = deliveries(db)
    assert (delivery.status, delivery.attempts) == ("pending", 1)  # retried later, like any failure
    shown = client.get("/api/v1/deliveries", headers=admin).get_json()["deliveries"][0]["attempts"]
    assert [a["error"] for a in shown] == ["target_not_allowed"]
    assert "127.0.0.1" not in str(shown) and str(listener.port) not in str(shown)


def test_the_sender_connects_to_the_address_it_checked_and_names_the_host(
    demo_queue: str, client: FlaskClient, db: Database, clock: FixedClock, settings: Settings, listener: Listener
) -> None:
    asked: list[str] = []

    def resolve(host: str, port: int) -> list[IPAddress]:
        asked.append(host)
        return [IPv4Address("127.0.0.1")] if len(asked) == 1 else [IPv4Address("10.0.0.1")]  # then it rebinds

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        assert host != "crm.test", "the HTTP client looked the name up again"
        return REAL_GETADDRINFO(host, *args, **kwargs)

    insert_subscription(db, clock, f"http://crm.test:{listener.port}/hooks?x=1", ["callback.created"])
    assert book(client, 1).status_code == 201
    sender = EventSender(db, clock, settings.with_overrides(event_targets_allowed=("127.0.0.1",)), "s", resolve)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket, "getaddrinfo", getaddrinfo)
        try:
            deliver_all(sender)
        finally:
            sender.close()
    assert asked == ["crm.test"]  # resolved once, and that answer was connected to
    ((path, headers),) = listener.requests
    assert path == "/hooks?x=1" and headers["Host"] == f"crm.test:{listener.port}"
    assert [d.status for d in deliveries(db)] == ["delivered"]


def test_a_redirect_is_not_followed(
    demo_queue: str, client: FlaskClient, db: Database, clock: FixedClock, settings: Settings, listener: Listener
) -> None:
    listener.answer = lambda path: (307, {"Location": "http://169.254.169.254/latest/meta-data/"})
    insert_subscription(db, clock, f"http://127.0.0.1:{listener.port}/hooks", ["callback.created"])
    assert book(client, 1).status_code == 201
    sender = EventSender(db, clock, settings.with_overrides(event_targets_allowed=("127.0.0.1",)), "s")
    try:
        deliver_all(sender)
    finally:
        sender.close()
    assert len(listener.requests) == 1
    (attempt,) = log_of(db)
    assert (attempt.http_status, attempt.error) == (307, "http_error")


def test_a_failed_connection_is_logged_as_a_code_without_its_details(
    demo_queue: str, client: FlaskClient, db: Database, clock: FixedClock, settings: Settings
) -> None:
    with socket.socket() as probe:  # a port nobody listens on: the connection is refused
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    insert_subscription(db, clock, f"http://127.0.0.1:{closed}/hooks", ["callback.created"])
    insert_subscription(db, clock, "http://nowhere.test/hooks", ["callback.created"], name="no address")
    assert book(client, 1).status_code == 201
    sender = EventSender(db, clock, settings.with_overrides(event_targets_allowed=("127.0.0.1",)), "s")
    try:
        deliver_all(sender)
    finally:
        sender.close()
    # A code for each (events/delivery_errors.py), never the exception's text: no address, no port.
    assert sorted((a.http_status, a.error) for a in log_of(db)) == [
        (None, "connection_refused"),
        (None, "name_not_resolved"),
    ]


# --- https: the pinned connection keeps the name for SNI and the certificate's check ----------


def certificate_for(name: str, folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for ``name`` only (no IP address in it), and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / f"{name}.pem", folder / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def test_https_to_the_pinned_address_sends_the_name_as_sni_and_checks_the_certificate_for_it(
    tmp_path: Path,
) -> None:
    cert, key = certificate_for("crm.test", tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server_names: list[str | None] = []
    context.sni_callback = lambda _sock, name, _ctx: server_names.append(name)
    tls = Listener(tls=context)
    http = new_http()
    http.verify = str(cert)  # our CA: the certificate itself
    to_loopback = TargetPolicy.of(["127.0.0.1"], lambda _host, _port: [IPv4Address("127.0.0.1")])

    def job(host: str) -> Job:
        return Job(1, 1, f"https://{host}:{tls.port}/hooks", SECRET, "application/json", b"{}", "e", "t")

    try:
        good = post(http, job("crm.test"), 5, 0, to_loopback)
        assert (good.http_status, good.error) == (200, None)
        assert server_names == ["crm.test"]
        assert tls.requests[0][1]["Host"] == f"crm.test:{tls.port}"
        wrong = post(http, job("other.test"), 5, 0, to_loopback)  # the same address, another name
        assert (wrong.http_status, wrong.error) == (None, "tls_failed")  # its certificate does not match
        assert server_names[-1] == "other.test" and len(tls.requests) == 1
    finally:
        http.close()
        tls.stop()
