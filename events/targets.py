"""The network side of the target rule (events/address_rules.py): resolve a subscription's
host once, judge every address, and connect to the address that was judged.

Checking a name and then letting the HTTP client resolve it again would be undone by a
DNS answer that changes in between (rebinding: public when checked, 127.0.0.1 when
connected). So ``vet`` gives a URL with the checked address in place of the host, and
``PinnedAdapter`` connects there while the request still names the receiver: the ``Host``
header, and for https the TLS server name (SNI) and the certificate check, are the host
name's, as if it had been connected to by name.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from ipaddress import IPv6Address, ip_address
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from requests import PreparedRequest
from requests.adapters import HTTPAdapter

from events.address_rules import REASONS, Allowed, IPAddress, literal_address, parse_allowed, parse_target, refusal
from infra import context
from scheduler.errors import DomainError

# A host and port to the addresses they resolve to (socket.getaddrinfo; tests give a fake).
Resolver = Callable[[str, int], list[IPAddress]]


class TargetNotAllowed(DomainError):
    """A subscription's URL points at an address the sender will not connect to."""

    type = "target_not_allowed"


class TargetUnresolved(Exception):
    """The host has no address now (it may have one at delivery time)."""


def system_resolver(host: str, port: int) -> list[IPAddress]:
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise TargetUnresolved(host) from exc
    found: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in answers:
        address = ip_address(str(sockaddr[0]))
        if address not in found:
            found.append(address)
    return found


@dataclass(frozen=True)
class TargetPolicy:
    """The allow-list and the resolver a check uses."""

    allowed: Allowed = field(default_factory=Allowed)
    resolve: Resolver = system_resolver

    @classmethod
    def of(cls, entries: Iterable[str], resolve: Resolver = system_resolver) -> TargetPolicy:
        return cls(parse_allowed(entries), resolve)

    def looked_up(self, url: object) -> TargetPolicy:
        """This policy with ``url``'s host resolved now, once: a check made later inside a
        database transaction answers from it instead of waiting for DNS there (on SQLite
        the write lock, which every booking needs, would be held meanwhile). Anything that
        is not a URL with a host name is left for the check to judge."""
        try:
            _scheme, host, port = parse_target(url) if isinstance(url, str) else ("", "", 0)
        except ValueError:
            return self
        if not host or literal_address(host) is not None:
            return self
        try:
            answer = self.resolve(host, port)
        except TargetUnresolved:
            answer = []  # no address now: the check lets it be, the sender checks again
        fallback = self.resolve

        def resolve(asked_host: str, asked_port: int) -> list[IPAddress]:
            return answer if (asked_host, asked_port) == (host, port) else fallback(asked_host, asked_port)

        return replace(self, resolve=resolve)


def app_targets(url: object = None) -> TargetPolicy:
    """The running app's policy (EVENT_TARGETS_ALLOWED), for the API, the console and the
    CLI; with the URL about to be checked, its host already resolved (``looked_up``): call
    it before opening the transaction."""
    return TargetPolicy.of(context.settings().event_targets_allowed).looked_up(url)


@dataclass(frozen=True)
class Vetted:
    """Where to connect (``url``: the checked address in place of the host) and what the
    receiver is told it was sent to (``host_header``)."""

    url: str
    host_header: str
    address: IPAddress


def _refused(reason: str, host: str) -> TargetNotAllowed:
    return TargetNotAllowed(
        "the subscription's URL points at an address events are not sent to",
        {
            "url": f"{host} is or resolves to {REASONS[reason]}: events go to public addresses, "
            "or to hosts and networks listed in EVENT_TARGETS_ALLOWED",
            "reason": reason,
        },
    )


def vet(url: str, policy: TargetPolicy) -> Vetted:
    """Resolve the URL's host once and judge every address: TargetNotAllowed when refused
    (by address, or by form: another scheme, a user name), TargetUnresolved when the host
    has no address."""
    try:
        scheme, host, port = parse_target(url)
    except ValueError as exc:  # a subscription saved before the rule: refused the same
        raise TargetNotAllowed("the subscription's URL is not one events are sent to", {"url": str(exc)}) from None
    literal = literal_address(host)
    addresses = [literal] if literal is not None else policy.resolve(host, port)
    if not addresses:
        raise TargetUnresolved(host)
    reason = refusal(host, addresses, policy.allowed)
    if reason is not None:
        raise _refused(reason, host)
    address = addresses[0]
    shown = f"[{address}]" if isinstance(address, IPv6Address) else str(address)
    parts = urlsplit(url)
    pinned = urlunsplit((scheme, f"{shown}:{port}", parts.path or "/", parts.query, ""))
    return Vetted(pinned, parts.netloc, address)


def check_target(url: str, policy: TargetPolicy) -> None:
    """At subscription time: refuse a URL whose host is or resolves to a refused address.
    A host with no address now is let be: every delivery checks again before it connects."""
    with contextlib.suppress(TargetUnresolved):
        vet(url, policy)


class PinnedAdapter(HTTPAdapter):
    """Connects to the address in the URL (``vet``'s) and speaks TLS to the name in the
    ``Host`` header: SNI and the certificate's check are for that name. urllib3 keys its
    pools by the server name too, so two names on one address never share a connection."""

    def build_connection_pool_key_attributes(
        self, request: PreparedRequest, verify: bool | str, cert: str | tuple[str, str] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        name = urlsplit("//" + str(request.headers.get("Host", ""))).hostname
        if host_params["scheme"] == "https" and name:
            pool_kwargs["server_hostname"] = name
            pool_kwargs["assert_hostname"] = name
        return host_params, pool_kwargs
