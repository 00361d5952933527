"""Which hosts an event subscription may send to: the rule itself, with no network.

Left alone, the sender POSTs wherever a subscription says, from inside the network it runs
in: the cloud's metadata service (169.254.169.254), the database, an admin port on
loopback; and the delivery log (a status, a time, an error) would tell whoever wrote the
URL what answered there. So a target must be a public unicast address unless the operator
lets it through by name or network (``EVENT_TARGETS_ALLOWED``: on-network CRMs, the demo's
stand-in CRM on loopback).

The caller resolves the host (events/targets.py) and hands every address here: each must
pass, so a name with one public and one internal address is refused. Numeric spellings
that ``inet_aton`` and ``getaddrinfo`` accept (``2130706433``, ``0x7f000001``,
``0177.0.0.1``, ``127.1``) are read here as the addresses they are, never looked up.
IPv4 addresses written inside IPv6 ones (IPv4-mapped ``::ffff:a.b.c.d``, NAT64
``64:ff9b::/96``, 6to4 ``2002::/16``) are judged as the IPv4 address they reach.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from urllib.parse import urlsplit

IPAddress = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network

SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}
HOST_NAME = re.compile(
    r"^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$"
)

# Why an address is refused, as a word the API answers (details.reason) and a phrase.
REASONS = {
    "loopback": "a loopback address",
    "private": "a private address",
    "link_local": "a link-local address",
    "unspecified": "an unspecified address",
    "cgnat": "a carrier-grade NAT (shared) address",
    "multicast": "a multicast address",
    "broadcast": "the broadcast address",
    "reserved": "a reserved or special-purpose address",
}

# In order: the first network that holds the address gives the reason.
_IPV4_REFUSED: tuple[tuple[IPv4Network, str], ...] = tuple(
    (IPv4Network(network), reason)
    for network, reason in (
        ("0.0.0.0/8", "unspecified"),  # "this network"; 0.0.0.0 reaches the local host on Linux
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "cgnat"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link_local"),  # the clouds' metadata services
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "reserved"),  # IETF protocol assignments
        ("192.0.2.0/24", "reserved"),  # documentation
        ("192.88.99.0/24", "reserved"),  # the old 6to4 relays
        ("192.168.0.0/16", "private"),
        ("198.18.0.0/15", "reserved"),  # benchmarking
        ("198.51.100.0/24", "reserved"),  # documentation
        ("203.0.113.0/24", "reserved"),  # documentation
        ("224.0.0.0/4", "multicast"),
        ("255.255.255.255/32", "broadcast"),
        ("240.0.0.0/4", "reserved"),
    )
)
_IPV6_REFUSED: tuple[tuple[IPv6Network, str], ...] = tuple(
    (IPv6Network(network), reason)
    for network, reason in (
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("64:ff9b:1::/48", "private"),  # local-use NAT64 (inside ::/8: before it)
        ("::/8", "reserved"),  # the IPv4-compatible and other early forms
        ("100::/64", "reserved"),  # discard-only
        ("2001::/23", "reserved"),  # IETF protocol assignments, Teredo among them
        ("2001:db8::/32", "reserved"),  # documentation
        ("3fff::/20", "reserved"),  # documentation
        ("fc00::/7", "private"),  # unique local addresses
        ("fe80::/10", "link_local"),
        ("fec0::/10", "private"),  # the old site-local addresses
        ("ff00::/8", "multicast"),
    )
)
_IPV6_GLOBAL_UNICAST = IPv6Network("2000::/3")  # all that is assigned for the internet
_NAT64 = IPv6Network("64:ff9b::/96")


def parse_target(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a subscription's URL, lower-cased; ValueError when its form is
    refused whatever the host: a scheme other than http(s), no host, a user name or password
    (``http://crm.example.com@10.0.0.1/`` reads as one host and goes to another)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES or not parts.hostname:
        raise ValueError("must be an absolute http:// or https:// URL")
    if "@" in parts.netloc:
        raise ValueError("must not hold a user name or password")
    if "\\" in parts.netloc:
        raise ValueError("must not hold a backslash in its host")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("the port is not valid") from None
    return scheme, parts.hostname.lower().rstrip("."), port or DEFAULT_PORTS[scheme]


def _number(part: str) -> int | None:
    """One part of an inet_aton address: decimal, 0x hexadecimal or 0 octal."""
    if re.fullmatch(r"0[xX][0-9a-fA-F]*", part):
        return int(part[2:] or "0", 16)
    if re.fullmatch(r"0[0-7]*", part):
        return int(part, 8)
    if re.fullmatch(r"[1-9][0-9]*", part):
        return int(part)
    return None


def literal_address(host: str) -> IPAddress | None:
    """The address a host names without a look-up: an IPv6 or IPv4 literal, or any spelling
    inet_aton accepts (1 to 4 parts, each decimal, hex or octal, the last filling the
    bytes left). None: a name, to be resolved."""
    name = host.strip("[]")
    try:
        return ip_address(name)
    except ValueError:
        pass
    parts = name.rstrip(".").split(".")
    if not 1 <= len(parts) <= 4:
        return None
    numbers = [_number(p) for p in parts]
    if any(n is None for n in numbers):
        return None
    values = [n for n in numbers if n is not None]
    *leading, last = values
    if any(n > 255 for n in leading) or last >= 256 ** (5 - len(values)):
        return None  # inet_aton refuses it: it is a name to the resolver (and its answer is judged)
    value = 0
    for n in leading:
        value = value << 8 | n
    return IPv4Address(value << 8 * (5 - len(values)) | last)


def embedded_ipv4(address: IPv6Address) -> IPv4Address | None:
    """The IPv4 address an IPv6 one reaches: IPv4-mapped, NAT64 (64:ff9b::/96) or 6to4."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def address_problem(address: IPAddress) -> str | None:
    """Why an address may not be a target by default (a key of REASONS), or None: public."""
    if isinstance(address, IPv6Address):
        inner = embedded_ipv4(address)
        if inner is not None:
            return address_problem(inner)
        for network6, reason in _IPV6_REFUSED:
            if address in network6:
                return reason
        return None if address in _IPV6_GLOBAL_UNICAST else "reserved"
    for network4, reason in _IPV4_REFUSED:
        if address in network4:
            return reason
    # Whatever else the standard library knows not to be global (it grows with the registry).
    return None if address.is_global else "reserved"


@dataclass(frozen=True)
class Allowed:
    """EVENT_TARGETS_ALLOWED, parsed: host names (exact, any case) and networks."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[Network, ...] = ()

    def allows_host(self, host: str) -> bool:
        return host.lower().rstrip(".") in self.hosts

    def allows_address(self, address: IPAddress) -> bool:
        candidates: list[IPAddress] = [address]
        if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
            candidates.append(address.ipv4_mapped)  # the same host, written the other way
        return any(a.version == n.version and a in n for a in candidates for n in self.networks)


def parse_allowed(entries: Iterable[str]) -> Allowed:
    """The allow-list from its entries: a network (``10.1.2.0/24``), an address (``127.0.0.1``,
    ``::1``) or a host name (``crm.internal``). ValueError names the first bad entry."""
    hosts: set[str] = set()
    networks: list[Network] = []
    for raw in entries:
        entry = raw.strip().lower().strip("[]").rstrip(".")
        if not entry:
            continue
        if "/" in entry:
            try:
                networks.append(ip_network(entry))
            except ValueError as exc:
                raise ValueError(f"{raw.strip()!r} is not a network such as 10.1.2.0/24 ({exc})") from None
            continue
        try:
            networks.append(ip_network(ip_address(entry)))
            continue
        except ValueError:
            pass
        if not HOST_NAME.match(entry):
            raise ValueError(f"{raw.strip()!r} is neither a host name, an address nor a network such as 10.1.2.0/24")
        hosts.add(entry)
    return Allowed(frozenset(hosts), tuple(networks))


def refusal(host: str, addresses: Sequence[IPAddress], allowed: Allowed) -> str | None:
    """Why ``host``, which resolved to ``addresses``, may not be sent to (a key of REASONS),
    or None: it may. A host on the allow-list by name may resolve anywhere; otherwise every
    address must be public or in an allowed network. No address at all is refused."""
    if allowed.allows_host(host):
        return None
    if not addresses:
        return "reserved"
    for address in addresses:
        if allowed.allows_address(address):
            continue
        problem = address_problem(address)
        if problem is not None:
            return problem
    return None
