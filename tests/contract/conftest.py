"""Contract tests: the real ``twilio`` and ``vonage`` SDKs, driven through our adapters,
against Prism mock servers that serve the providers' own OpenAPI specs.

Each spec in ``tests/contract/specs/`` (the providers' files, carried in the repository
with their licences and provenance: its README) is patched into a temporary copy and served once
per session by ``node_modules/.bin/prism mock --errors`` on a free loopback port. With
``--errors`` Prism answers 422 (400/401 for some faults) to any request the spec does
not allow, and our adapters turn that into ``ProviderError``, so a non-conforming
request fails the test. ``make test`` installs Prism (``npm ci``, pinned in
package-lock.json).

The patches (``spec_patches``: each one, and why, is in that module's docstring; the
originals are never touched; Twilio's TaskRouter spec is served as it is): Twilio T1,
explicit ``style: form, explode: true`` for the array fields of form bodies (Prism
keeps only the last repeated key otherwise);
Vonage Voice V1, an enum for each endpoint's ``type`` (a phone ``to`` also matched the
SIP schema), V2, an anchored number pattern, V3, no ``format: uuid`` on
``conversation_uuid`` (its own example is ``CON-…``); Vonage SMS S1, credentials as
HTTP Basic instead of ``api_key`` in the body (what the 4.x SDK sends), S2, an anchored
``to`` pattern, S3, ``anyOf`` for the send answer (``oneOf`` matched both schemas).

How the SDKs reach Prism (test code only, nothing in the adapters changes):

- Twilio: ``PrismTwilioHttp`` is the ``http_client`` given to ``TwilioTelephony``. It
  rewrites each Twilio origin it routes (``https://api.twilio.com`` to the API v2010
  Prism, ``https://taskrouter.twilio.com`` to the TaskRouter v1 Prism) to its Prism
  address, refuses any other host, sends with ``requests`` and returns a
  ``twilio.http.response.Response``.
- Vonage: ``HttpClientOptions(api_host=…, rest_host=…)`` points the SDK at the two
  Prism servers (voice, SMS); the SDK still writes ``https://`` URLs with its own base
  paths (``/v1/calls``, ``/sms``), so ``route_vonage_to_prism`` mounts a ``requests``
  transport on each SDK client's (private) session that switches to http, strips the
  base path the spec's ``servers`` entry holds, and refuses every other destination.

Both record every exchange (``Traffic``) exactly as it went over the wire, and both can
``tamper`` with a request on its way out: the negative controls break an otherwise
valid adapter request there, to prove the check can fail.

Without Prism the tests skip, or fail when ``CI`` or
``REQUIRE_POSTGRES=1`` is set (as in ``make test``). They need no database.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from requests.adapters import BaseAdapter, HTTPAdapter
from twilio.http import HttpClient
from twilio.http.response import Response as TwilioResponse
from vonage import HttpClientOptions, Vonage

from telephony.twilio_adapter import TwilioTelephony
from tests.contract.spec_patches import (
    TWILIO_SPEC,
    TWILIO_TASKROUTER_SPEC,
    VONAGE_SMS_SPEC,
    VONAGE_VOICE_SPEC,
    Spec,
    patched_path,
    write_patched,
)

REPO = Path(__file__).resolve().parents[2]
SPECS = Path(__file__).resolve().parent / "specs"
PRISM = REPO / "node_modules" / ".bin" / "prism"
PRISM_START_TIMEOUT_SECONDS = 60.0

TWILIO_API = "https://api.twilio.com"
TWILIO_TASKROUTER_API = "https://taskrouter.twilio.com"
# A syntactically valid account SID: the spec checks the {AccountSid} path parameter.
TWILIO_ACCOUNT_SID = "AC" + "0" * 31 + "1"
TWILIO_AUTH_TOKEN = "contract-test-token"
# Vonage's SDK prefixes these paths; the specs' servers entries hold them, Prism does not.
VONAGE_VOICE_BASE_PATH = "/v1/calls"
VONAGE_SMS_BASE_PATH = "/sms"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "contract: an adapter against a Prism mock of the provider's own spec")


def _strict() -> bool:
    """In CI and in ``make test`` a missing prerequisite is a failure, not a skip."""
    ci = os.environ.get("CI", "").strip().lower()
    return os.environ.get("REQUIRE_POSTGRES") == "1" or ci not in ("", "0", "false", "no")


def _missing(message: str) -> None:
    if _strict():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


# --- Prism -------------------------------------------------------------------------------


@dataclass
class PrismServer:
    spec: Path
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _start_prism(spec: Path, log: Path) -> PrismServer:
    port = _free_port()
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [str(PRISM), "mock", str(spec), "--host", "127.0.0.1", "--port", str(port), "--errors"],
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped as one, and only it
        )
    server = PrismServer(spec, process, port, log)
    deadline = time.monotonic() + PRISM_START_TIMEOUT_SECONDS
    while not _listening(port):
        if process.poll() is not None:
            raise RuntimeError(f"Prism exited ({process.returncode}) serving {spec.name}:\n{server.log_tail()}")
        if time.monotonic() > deadline:
            _stop_prism(server)
            raise RuntimeError(f"Prism did not listen within {PRISM_START_TIMEOUT_SECONDS:.0f} s:\n{server.log_tail()}")
        time.sleep(0.2)
    return server


def _stop_prism(server: PrismServer) -> None:
    if server.process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.process.pid, signal.SIGTERM)
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait(timeout=10)


@pytest.fixture(scope="session")
def provider_specs() -> Path:
    return SPECS


@pytest.fixture(scope="session")
def prism_bin() -> Path:
    if not os.access(PRISM, os.X_OK):
        _missing(f"{PRISM.relative_to(REPO)} is missing: run `npm ci` (make test does)")
    return PRISM


@pytest.fixture(scope="session")
def patched_specs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("patched-specs")


def _serve(name: str, provider_specs: Path, prism_bin: Path, patched_specs: Path) -> Iterator[str]:
    patched = write_patched(name, provider_specs, patched_specs, REPO)
    server = _start_prism(patched, patched.with_suffix(".prism.log"))
    try:
        yield server.base_url
    finally:
        _stop_prism(server)


@pytest.fixture(scope="session")
def twilio_prism(provider_specs: Path, prism_bin: Path, patched_specs: Path) -> Iterator[str]:
    """Base URL of Prism serving the patched Twilio API v2010 spec."""
    yield from _serve(TWILIO_SPEC, provider_specs, prism_bin, patched_specs)


@pytest.fixture(scope="session")
def twilio_taskrouter_prism(provider_specs: Path, prism_bin: Path, patched_specs: Path) -> Iterator[str]:
    """Base URL of Prism serving Twilio's TaskRouter v1 spec."""
    yield from _serve(TWILIO_TASKROUTER_SPEC, provider_specs, prism_bin, patched_specs)


@pytest.fixture(scope="session")
def vonage_voice_prism(provider_specs: Path, prism_bin: Path, patched_specs: Path) -> Iterator[str]:
    """Base URL of Prism serving the patched Vonage Voice API spec."""
    yield from _serve(VONAGE_VOICE_SPEC, provider_specs, prism_bin, patched_specs)


@pytest.fixture(scope="session")
def vonage_sms_prism(provider_specs: Path, prism_bin: Path, patched_specs: Path) -> Iterator[str]:
    """Base URL of Prism serving the patched Vonage SMS API spec."""
    yield from _serve(VONAGE_SMS_SPEC, provider_specs, prism_bin, patched_specs)


def _read_patched(name: str, patched_specs: Path) -> Spec:
    spec: Spec = json.loads(patched_path(name, patched_specs).read_text(encoding="utf-8"))
    return spec


@pytest.fixture(scope="session")
def twilio_spec(twilio_prism: str, patched_specs: Path) -> Spec:
    """The patched Twilio spec Prism serves, for what Prism does not check itself."""
    return _read_patched(TWILIO_SPEC, patched_specs)


@pytest.fixture(scope="session")
def vonage_voice_spec(vonage_voice_prism: str, patched_specs: Path) -> Spec:
    return _read_patched(VONAGE_VOICE_SPEC, patched_specs)


@pytest.fixture(scope="session")
def vonage_sms_spec(vonage_sms_prism: str, patched_specs: Path) -> Spec:
    return _read_patched(VONAGE_SMS_SPEC, patched_specs)


# --- recording ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Exchange:
    """One request as it went over the wire to Prism, and Prism's answer."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    status: int
    response_headers: dict[str, str]
    response_text: str

    def form(self) -> list[tuple[str, str]]:
        """The urlencoded body, repeated keys kept in order."""
        return parse_qsl(self.body.decode("utf-8"), keep_blank_values=True)

    def values(self, name: str) -> list[str]:
        return [value for key, value in self.form() if key == name]

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)

    def violations(self) -> str | None:
        """Prism's ``sl-violations`` header: spec warnings on an accepted request."""
        return next((v for k, v in self.response_headers.items() if k.lower() == "sl-violations"), None)


class RefusedDestination(AssertionError):
    """A test client was asked to talk to something other than the provider host."""


@dataclass
class Traffic:
    exchanges: list[Exchange] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    @property
    def only(self) -> Exchange:
        assert len(self.exchanges) == 1, [f"{e.method} {e.url} -> {e.status}" for e in self.exchanges]
        return self.exchanges[0]

    def record(self, request: requests.PreparedRequest, response: requests.Response) -> None:
        body = request.body or b""
        assert isinstance(body, bytes | str), f"unexpected streamed body {type(body).__name__}"
        self.exchanges.append(
            Exchange(
                method=str(request.method),
                url=str(request.url),
                headers={k: v.decode() if isinstance(v, bytes) else str(v) for k, v in request.headers.items()},
                body=body.encode("utf-8") if isinstance(body, str) else body,
                status=response.status_code,
                response_headers=dict(response.headers),
                response_text=response.text,
            )
        )

    def refuse(self, what: str) -> RefusedDestination:
        self.refused.append(what)
        return RefusedDestination(f"refusing {what}: only the provider's API host is routed to Prism")


# --- Twilio ------------------------------------------------------------------------------

FormTamper = Callable[[list[tuple[str, str]]], list[tuple[str, str]]]


class PrismTwilioHttp(HttpClient):  # type: ignore[misc]
    """The Twilio SDK's HTTP client, aimed at Prism: each Twilio API origin in ``routes``
    (``https://api.twilio.com``, ``https://taskrouter.twilio.com``: the SDK writes each
    domain's own host) goes to the Prism serving that API's spec; any other destination
    is refused (and recorded as refused)."""

    def __init__(self, routes: dict[str, str]) -> None:
        super().__init__(logging.getLogger("tests.contract.twilio"), is_async=False, timeout=10.0)
        self.routes = {origin: base_url.rstrip("/") for origin, base_url in routes.items()}
        self.session = requests.Session()
        self.session.trust_env = False  # no proxy from the environment between us and loopback
        self.traffic = Traffic()
        self.tamper: FormTamper | None = None  # negative controls: break the form body on its way out

    def request(
        self,
        method: str,
        uri: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> TwilioResponse:
        parts = urlsplit(uri)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self.routes:
            raise self.traffic.refuse(f"{method} {origin}")
        target = self.routes[origin] + urlunsplit(("", "", parts.path, parts.query, ""))
        # Encoded by requests exactly as TwilioHttpClient would (lists become repeated keys).
        prepared = self.session.prepare_request(
            requests.Request(method.upper(), target, params=params, data=data, headers=headers, auth=auth)  # type: ignore[arg-type]
        )
        if self.tamper is not None:
            body = prepared.body.decode() if isinstance(prepared.body, bytes) else str(prepared.body or "")
            prepared.prepare_body(self.tamper(parse_qsl(body, keep_blank_values=True)), None)
        response = self.session.send(prepared, timeout=timeout or self.timeout, allow_redirects=allow_redirects)
        self.traffic.record(prepared, response)
        return TwilioResponse(response.status_code, response.text, response.headers)

    def close(self) -> None:
        self.session.close()


@pytest.fixture
def twilio_http(twilio_prism: str) -> Iterator[PrismTwilioHttp]:
    client = PrismTwilioHttp({TWILIO_API: twilio_prism})
    yield client
    client.close()


@pytest.fixture
def taskrouter_http(twilio_taskrouter_prism: str) -> Iterator[PrismTwilioHttp]:
    """TaskRouter's host routed to its Prism; api.twilio.com refused (the poll needs only TaskRouter)."""
    client = PrismTwilioHttp({TWILIO_TASKROUTER_API: twilio_taskrouter_prism})
    yield client
    client.close()


@pytest.fixture
def twilio(twilio_http: PrismTwilioHttp) -> TwilioTelephony:
    return TwilioTelephony(TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, http_client=twilio_http)


# --- Vonage ------------------------------------------------------------------------------

RequestTamper = Callable[[requests.PreparedRequest], None]


@dataclass(frozen=True)
class PrismRoute:
    prefix: str  # what the SDK writes: https://127.0.0.1:<port><base path>
    target: str  # where it goes: http://127.0.0.1:<port>
    base_path: str


class _PrismTransport(HTTPAdapter):
    """Sends ``https://<prism host><base path>/x`` to ``http://<prism host>/x``."""

    def __init__(self, routes: list[PrismRoute], traffic: Traffic, tampering: list[RequestTamper]) -> None:
        super().__init__(max_retries=0)
        self.routes = routes
        self.traffic = traffic
        self.tampering = tampering

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        url = str(request.url)
        route = next((r for r in self.routes if url.startswith(r.prefix)), None)
        if route is None:
            raise self.traffic.refuse(f"{request.method} {url.split('?')[0]}")
        rest = url[len(route.prefix) :]
        outgoing = request.copy()
        outgoing.url = route.target + (rest if rest.startswith("/") else "/" + rest)
        for tamper in self.tampering:
            tamper(outgoing)
        response = super().send(outgoing, *args, **kwargs)
        self.traffic.record(outgoing, response)
        return response


class _Refuse(BaseAdapter):
    def __init__(self, traffic: Traffic) -> None:
        super().__init__()
        self.traffic = traffic

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        raise self.traffic.refuse(f"{request.method} {str(request.url).split('?')[0]}")

    def close(self) -> None:
        pass


def route_vonage_to_prism(
    client: Vonage, routes: list[PrismRoute], traffic: Traffic, tampering: list[RequestTamper]
) -> None:
    """Aim a Vonage SDK client's HTTP session at Prism. This is the one place that
    touches the SDK's private ``_session``: the SDK has no public transport hook."""
    session: requests.Session = client.http_client._session
    session.trust_env = False
    refuse = _Refuse(traffic)
    session.mount("https://", refuse)
    session.mount("http://", refuse)
    transport = _PrismTransport(routes, traffic, tampering)
    for route in routes:
        session.mount(route.prefix.removesuffix(route.base_path) + "/", transport)


@cache
def _rsa_private_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return pem.decode()


@dataclass
class VonageHarness:
    adapter: Any  # telephony.vonage_adapter.VonageTelephony
    traffic: Traffic
    tampering: list[RequestTamper]

    def tamper(self, change: RequestTamper) -> None:
        self.tampering.append(change)


@pytest.fixture
def vonage(vonage_voice_prism: str, vonage_sms_prism: str) -> Iterator[VonageHarness]:
    from telephony.vonage_adapter import VonageTelephony  # imported late: the adapter is new

    voice_host = urlsplit(vonage_voice_prism).netloc
    sms_host = urlsplit(vonage_sms_prism).netloc
    adapter = VonageTelephony(
        application_id="aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab",
        private_key=_rsa_private_key(),
        api_key="abcd1234",
        api_secret="Contract-Secret-1",
        signature_secret="contract-signature-secret",
        http_client_options=HttpClientOptions(api_host=voice_host, rest_host=sms_host),
    )
    routes = [
        PrismRoute(f"https://{voice_host}{VONAGE_VOICE_BASE_PATH}", vonage_voice_prism, VONAGE_VOICE_BASE_PATH),
        PrismRoute(f"https://{sms_host}{VONAGE_SMS_BASE_PATH}", vonage_sms_prism, VONAGE_SMS_BASE_PATH),
    ]
    harness = VonageHarness(adapter, Traffic(), [])
    for client in (adapter.voice_client, adapter.sms_client):
        route_vonage_to_prism(client, routes, harness.traffic, harness.tampering)
    yield harness
    for client in (adapter.voice_client, adapter.sms_client):
        client.http_client._session.close()
