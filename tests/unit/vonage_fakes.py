"""A fake HTTP layer for the Vonage SDK: a requests transport adapter mounted on the
SDK client's session (a private SDK attribute, touched in test code only) that records
every request and answers from a script, so no byte leaves the process."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from vonage import Vonage


@dataclass
class Reply:
    status: int = 200
    body: Any = None


class FakeTransport(BaseAdapter):
    """Answers each request with the next scripted Reply, or raises the scripted exception."""

    def __init__(self, *script: Reply | Exception) -> None:
        super().__init__()
        self.script: list[Reply | Exception] = list(script)
        self.sent: list[requests.PreparedRequest] = []
        self.timeouts: list[Any] = []

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None, **kwargs: Any
    ) -> requests.Response:
        self.sent.append(request)
        self.timeouts.append(timeout)
        if not self.script:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        item = self.script.pop(0)
        if isinstance(item, Exception):
            raise item
        content = b"" if item.body is None else json.dumps(item.body).encode()
        response = requests.Response()
        response.status_code = item.status
        response._content = content
        response._content_consumed = True
        response.raw = io.BytesIO(content)
        response.headers = CaseInsensitiveDict({"Content-Type": "application/json"})
        response.url = request.url or ""
        response.request = request
        response.encoding = "utf-8"
        return response

    def close(self) -> None:
        pass


def mount(client: Vonage, transport: FakeTransport) -> FakeTransport:
    """Route every https request of ``client`` to ``transport`` (replacing the SDK's
    retrying adapter, so a scripted failure is seen once)."""
    client.http_client._session.mount("https://", transport)
    return transport


def header(request: requests.PreparedRequest, name: str) -> str:
    value = request.headers.get(name, "")
    return value.decode() if isinstance(value, bytes) else str(value)


def json_body(request: requests.PreparedRequest) -> Any:
    body = request.body
    assert isinstance(body, bytes | str)
    return json.loads(body)


def form_body(request: requests.PreparedRequest) -> dict[str, str]:
    body = request.body
    text = body.decode() if isinstance(body, bytes) else str(body)
    return {key: values[-1] for key, values in parse_qs(text, keep_blank_values=True).items()}


def path(request: requests.PreparedRequest) -> str:
    return urlsplit(request.url or "").path


def query_of(request: requests.PreparedRequest) -> dict[str, str]:
    return {key: values[-1] for key, values in parse_qs(urlsplit(request.url or "").query).items()}


@cache
def rsa_key_pair() -> tuple[str, bytes]:
    """A throwaway RSA key: the private PEM the SDK signs voice JWTs with, and the public PEM."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public
