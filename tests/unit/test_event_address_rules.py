"""Which hosts an event subscription may send to (events/address_rules.py, pure), how the
sender's check reads a URL with a fake resolver (events/targets.py), and the setting."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address, ip_address

import pytest

from app.error_statuses import http_status
from events.address_rules import (
    IPAddress,
    address_problem,
    literal_address,
    parse_allowed,
    parse_target,
    refusal,
)
from events.targets import TargetNotAllowed, TargetPolicy, TargetUnresolved, vet
from infra.settings import SettingsError, load_settings

NONE = parse_allowed([])

REFUSED_HOSTS = [
    ("127.0.0.1", "loopback"),
    ("127.255.1.2", "loopback"),
    ("127.1", "loopback"),  # short forms: inet_aton fills the bytes left
    ("127.0.1", "loopback"),
    ("2130706433", "loopback"),  # decimal
    ("0x7f000001", "loopback"),  # hexadecimal
    ("0x7f.0.0.1", "loopback"),
    ("0x7f.1", "loopback"),
    ("0177.0.0.1", "loopback"),  # octal
    ("017700000001", "loopback"),
    ("0177.1", "loopback"),
    ("::1", "loopback"),
    ("[::1]", "loopback"),
    ("0:0:0:0:0:0:0:1", "loopback"),
    ("0.0.0.0", "unspecified"),
    ("0", "unspecified"),
    ("0x0", "unspecified"),
    ("::", "unspecified"),
    ("169.254.169.254", "link_local"),  # the clouds' metadata services
    ("2852039166", "link_local"),  # 169.254.169.254 in decimal
    ("0xa9fea9fe", "link_local"),
    ("fe80::1", "link_local"),
    ("fe80::1%eth0", "link_local"),
    ("10.0.0.1", "private"),
    ("10.255.255.255", "private"),
    ("172.16.0.1", "private"),
    ("172.31.255.1", "private"),
    ("192.168.1.1", "private"),
    ("fc00::1", "private"),  # unique local
    ("fd12:3456::1", "private"),
    ("fec0::1", "private"),  # site-local
    ("64:ff9b:1::a00:1", "private"),  # local-use NAT64
    ("100.64.0.1", "cgnat"),
    ("100.127.255.254", "cgnat"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("ff02::1", "multicast"),
    ("ff05::2", "multicast"),
    ("255.255.255.255", "broadcast"),
    ("0xffffffff", "broadcast"),
    ("240.0.0.1", "reserved"),
    ("192.0.2.10", "reserved"),
    ("198.18.0.1", "reserved"),
    ("198.51.100.1", "reserved"),
    ("203.0.113.5", "reserved"),
    ("192.0.0.8", "reserved"),
    ("2001:db8::1", "reserved"),
    ("2001::1", "reserved"),  # Teredo
    ("100::1", "reserved"),  # discard-only
    ("::127.0.0.1", "reserved"),  # IPv4-compatible (deprecated)
    ("4000::1", "reserved"),  # outside 2000::/3, nothing assigned there
    # IPv4 written inside IPv6: judged as the IPv4 address it reaches.
    ("::ffff:127.0.0.1", "loopback"),
    ("::ffff:7f00:1", "loopback"),
    ("::ffff:169.254.169.254", "link_local"),
    ("::ffff:10.0.0.1", "private"),
    ("::ffff:0.0.0.0", "unspecified"),
    ("64:ff9b::7f00:1", "loopback"),  # NAT64
    ("64:ff9b::169.254.169.254", "link_local"),
    ("64:ff9b::a00:1", "private"),
    ("2002:7f00:1::1", "loopback"),  # 6to4
    ("2002:a9fe:a9fe::", "link_local"),
    ("2002:c0a8:101::1", "private"),
]

PUBLIC_HOSTS = ["8.8.8.8", "1.1.1.1", "93.184.215.14", "2606:4700:4700::1111", "2a00:1450:4009:81f::200e"]
PUBLIC_HOSTS += ["::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1", "134744072"]  # 8.8.8.8 in decimal


def address(host: str) -> IPAddress:
    found = literal_address(host)
    assert found is not None, host
    return found


@pytest.mark.parametrize(("host", "reason"), REFUSED_HOSTS)
def test_every_internal_form_of_an_address_is_refused_with_its_reason(host: str, reason: str) -> None:
    assert address_problem(address(host)) == reason
    assert refusal(host, [address(host)], NONE) == reason


@pytest.mark.parametrize("host", PUBLIC_HOSTS)
def test_public_addresses_are_allowed(host: str) -> None:
    assert address_problem(address(host)) is None
    assert refusal(host, [address(host)], NONE) is None


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0x7F000001", "127.0.0.1"),
        ("0177.0.0.01", "127.0.0.1"),
        ("10.1", "10.0.0.1"),
        ("10.0x10.1", "10.16.0.1"),
        ("192.168.257", "192.168.1.1"),  # the last part fills two bytes
        ("127.0.0.1.", "127.0.0.1"),
        ("[2001:db8::1]", "2001:db8::1"),
    ],
)
def test_numeric_spellings_are_read_as_the_address_inet_aton_makes_of_them(host: str, expected: str) -> None:
    assert literal_address(host) == ip_address(expected)


@pytest.mark.parametrize("host", ["crm.example.com", "localhost", "1.2.3.4.5", "4294967296", "256.1.1.1", "0x", "08"])
def test_names_and_what_inet_aton_refuses_are_left_to_the_resolver(host: str) -> None:
    if host == "0x":
        assert literal_address(host) == IPv4Address(0)  # glibc reads it as 0: refused either way
        return
    assert literal_address(host) is None


def test_every_resolved_address_must_pass_and_no_address_at_all_is_refused() -> None:
    public, internal = IPv4Address("93.184.215.14"), IPv4Address("10.0.0.7")
    assert refusal("crm.example.com", [public], NONE) is None
    assert refusal("crm.example.com", [public, internal], NONE) == "private"
    assert refusal("crm.example.com", [internal, public], NONE) == "private"
    assert refusal("crm.example.com", [public, IPv6Address("::1")], NONE) == "loopback"
    assert refusal("crm.example.com", [], NONE) == "reserved"


def test_the_allow_list_lets_named_hosts_and_networks_through_and_nothing_more() -> None:
    allowed = parse_allowed(["crm.internal", "10.1.2.0/24", "127.0.0.1", "fd00:1::/32", "[::1]"])
    # A host allowed by name may resolve anywhere: its name is what the operator trusts.
    assert refusal("crm.internal", [IPv4Address("10.9.9.9")], allowed) is None
    assert refusal("CRM.Internal.", [IPv4Address("169.254.169.254")], allowed) is None
    assert refusal("other.crm.internal", [IPv4Address("10.9.9.9")], allowed) == "private"  # not its subdomains
    assert refusal("crm.internal.evil.test", [IPv4Address("10.9.9.9")], allowed) == "private"
    # Networks and single addresses, whatever the name.
    assert refusal("10.1.2.7", [IPv4Address("10.1.2.7")], allowed) is None
    assert refusal("billing.corp", [IPv4Address("10.1.2.200")], allowed) is None
    assert refusal("10.1.3.7", [IPv4Address("10.1.3.7")], allowed) == "private"
    assert refusal("127.0.0.1", [IPv4Address("127.0.0.1")], allowed) is None
    assert refusal("2130706433", [address("2130706433")], allowed) is None  # the same address
    assert refusal("::ffff:127.0.0.1", [address("::ffff:127.0.0.1")], allowed) is None  # the same host
    assert refusal("127.0.0.2", [IPv4Address("127.0.0.2")], allowed) == "loopback"
    assert refusal("::1", [IPv6Address("::1")], allowed) is None
    assert refusal("fd00:1::5", [IPv6Address("fd00:1::5")], allowed) is None
    assert refusal("fd00:2::5", [IPv6Address("fd00:2::5")], allowed) == "private"
    # One allowed address does not let an internal one through with it.
    assert refusal("mixed.corp", [IPv4Address("10.1.2.7"), IPv4Address("10.7.0.1")], allowed) == "private"


@pytest.mark.parametrize("entry", ["10.1.2.0/33", "10.1.2.3/24", "300.1.2.0/24", "fd00::/129", "*.corp", "a b", "-x"])
def test_a_bad_allow_list_entry_is_refused(entry: str) -> None:
    with pytest.raises(ValueError):
        parse_allowed([entry])


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://crm.example.com/hooks", ("http", "crm.example.com", 80)),
        ("HTTPS://CRM.Example.com/hooks", ("https", "crm.example.com", 443)),
        ("https://crm.example.com:8443/", ("https", "crm.example.com", 8443)),
        ("http://[::1]:8080/", ("http", "::1", 8080)),
        ("http://localhost./", ("http", "localhost", 80)),
    ],
)
def test_a_target_url_gives_its_scheme_host_and_port(url: str, expected: tuple[str, str, int]) -> None:
    assert parse_target(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "ftp://crm.example.com/",
        "file:///etc/passwd",
        "gopher://127.0.0.1:6379/_INFO",
        "dict://127.0.0.1:11211/",
        "http:///hooks",
        "//crm.example.com/hooks",
        "http://user:secret@crm.example.com/",
        "http://crm.example.com@127.0.0.1/",
        "http://127.0.0.1@crm.example.com/",
        "http://@crm.example.com/",
        "http://crm.example.com:http/",
        "http://crm.example.com:99999/",
    ],
)
def test_other_schemes_user_names_and_bad_ports_are_refused_whatever_the_host(url: str) -> None:
    with pytest.raises(ValueError):
        parse_target(url)


# --- the sender's check with a fake resolver (no network) -----------------------------------


class FakeResolver:
    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.asked: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int) -> list[IPAddress]:
        self.asked.append((host, port))
        if host not in self.answers:
            raise TargetUnresolved(host)
        return [ip_address(a) for a in self.answers[host]]


def test_vet_pins_the_checked_address_and_keeps_the_name_for_the_host_header() -> None:
    dns = FakeResolver({"crm.example.com": ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]})
    vetted = vet("https://crm.example.com:8443/hooks/x?a=1#frag", TargetPolicy(NONE, dns))
    assert vetted.url == "https://93.184.215.14:8443/hooks/x?a=1"
    assert vetted.host_header == "crm.example.com:8443"
    assert vetted.address == IPv4Address("93.184.215.14")
    assert dns.asked == [("crm.example.com", 8443)]  # once
    v6 = vet("http://v6.example.com", TargetPolicy(NONE, FakeResolver({"v6.example.com": ["2606:4700::1111"]})))
    assert (v6.url, v6.host_header) == ("http://[2606:4700::1111]:80/", "v6.example.com")


def test_vet_reads_numeric_hosts_itself_and_refuses_internal_answers() -> None:
    dns = FakeResolver({"internal.example.com": ["10.0.0.5"], "mixed.example.com": ["8.8.8.8", "127.0.0.1"]})
    policy = TargetPolicy(NONE, dns)
    for url in ("http://2130706433/", "http://0x7f000001/", "http://0177.0.0.1/", "http://127.1/", "http://[::1]/"):
        with pytest.raises(TargetNotAllowed) as refused:
            vet(url, policy)
        assert refused.value.details["reason"] == "loopback"
    assert dns.asked == []  # never looked up: the resolver's answer for them does not matter
    with pytest.raises(TargetNotAllowed) as refused:
        vet("http://internal.example.com/", policy)
    assert (refused.value.type, http_status(refused.value), refused.value.details["reason"]) == (
        "target_not_allowed",
        422,
        "private",
    )
    assert "10.0.0.5" not in str(refused.value.details)  # what an internal name resolves to is not told
    with pytest.raises(TargetNotAllowed):
        vet("http://mixed.example.com/", policy)
    with pytest.raises(TargetNotAllowed):
        vet("http://user@crm.example.com/", policy)  # a URL saved before the rule, refused the same
    with pytest.raises(TargetUnresolved):
        vet("http://nowhere.example.com/", policy)
    allowed = TargetPolicy(parse_allowed(["internal.example.com", "127.0.0.1"]), dns)
    assert vet("http://internal.example.com:81/", allowed).url == "http://10.0.0.5:81/"
    assert vet("http://2130706433:5000/crm", allowed).url == "http://127.0.0.1:5000/crm"


# --- EVENT_TARGETS_ALLOWED --------------------------------------------------------------------


def test_the_allow_list_setting_is_read_and_checked() -> None:
    base = {"SECRET_KEY": "s", "DATABASE_URL": "sqlite:///:memory:"}
    assert load_settings(base).event_targets_allowed == ()
    settings = load_settings(
        base | {"EVENT_TARGETS_ALLOWED": " crm.internal, 10.1.2.0/24,127.0.0.1 ,[::1],,CRM2.Corp."}
    )
    assert settings.event_targets_allowed == ("crm.internal", "10.1.2.0/24", "127.0.0.1", "::1", "crm2.corp")
    assert parse_allowed(settings.event_targets_allowed).allows_host("crm2.corp")
    for bad in ("10.1.2.0/33", "10.1.2.3/24", "crm internal", "*.corp", "999.1.1.1", "fd00::/200"):
        with pytest.raises(SettingsError, match="EVENT_TARGETS_ALLOWED"):
            load_settings(base | {"EVENT_TARGETS_ALLOWED": f"crm.internal,{bad}"})


def test_looked_up_resolves_the_host_once_and_answers_from_it() -> None:
    asked: list[tuple[str, int]] = []
    answers = {"crm.test": [ip_address("93.184.215.14")], "inside.test": [ip_address("10.0.0.1")]}

    def resolve(host: str, port: int) -> list[IPAddress]:
        asked.append((host, port))
        if host not in answers:
            raise TargetUnresolved(host)
        return answers[host]

    policy = TargetPolicy(resolve=resolve).looked_up("https://crm.test/hooks")
    assert asked == [("crm.test", 443)]
    answers["crm.test"] = [ip_address("127.0.0.1")]  # changed since: the look-up made stands
    assert vet("https://crm.test/hooks", policy).address == ip_address("93.184.215.14")
    assert asked == [("crm.test", 443)]
    with pytest.raises(TargetNotAllowed):  # another host is resolved as ever
        vet("https://inside.test/", policy)
    assert asked[-1] == ("inside.test", 443)
    with pytest.raises(TargetUnresolved):  # no address at the look-up: none later either
        vet("https://later.test/", TargetPolicy(resolve=resolve).looked_up("https://later.test/"))
    for not_a_name in (None, 42, "not a url", "http://10.0.0.1/", "gopher://x.test/"):
        assert TargetPolicy(resolve=resolve).looked_up(not_a_name).resolve is resolve
