"""deploy/verify/run.sh's checks of a running compose.yaml, from outside, through https.

Every request goes through the proxy with its TLS certificate verified (--ca: Caddy's
local CA). It exits 0 only when all of these hold:

- /readyz answers 200: the database is at head and a worker's heartbeat is recent;
- racers for a slot of three seats get exactly three, and no slot is overbooked;
  callbacks booked with a client key over both web replicas are each dialed once by the
  two workers on the simulator (--sql runs the queries in the database's container);
- a Twilio request signed for the public https:// URL is taken, and one signed for the
  address inside the network is refused (403): the proxy's headers are right;
- one address gets one per-address allowance (API_RATE_LIMIT) between all the web
  processes, then 429 with its JSON type: the counts are shared in Redis.
"""

from __future__ import annotations

import argparse
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests
from twilio.request_validator import RequestValidator

BOOKINGS = 40  # asap, in deploy/verify/queues/open.json
RACERS = 12  # for the first slot of deploy/verify/queues/scarce.json
SEATS = 3  # its capacity


def resolve_localhost_names_to_loopback() -> None:
    """Names under .localhost are the loopback (RFC 6761), as curl and browsers take them;
    glibc's resolver does not know them, so this process answers them itself."""
    system_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host.rstrip(".").endswith(".localhost"):
            host = "127.0.0.1"
        return system_getaddrinfo(host, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="PUBLIC_BASE_URL, e.g. https://callbacks.localhost:8443")
    parser.add_argument("--ca", required=True, help="the proxy's CA certificate (PEM)")
    parser.add_argument("--key", required=True, help="a client API key (flask callbacks create-api-key)")
    parser.add_argument("--sql", required=True, help="a command that runs its last argument in psql -At")
    parser.add_argument("--twilio-token", required=True, help="TWILIO_AUTH_TOKEN of the web service")
    parser.add_argument("--address-limit", type=int, required=True, help="the per-address allowance (API_RATE_LIMIT)")
    args = parser.parse_args()
    resolve_localhost_names_to_loopback()

    http = requests.Session()
    # Only the proxy's CA, and no proxy: REQUESTS_CA_BUNDLE or HTTPS_PROXY in the
    # environment would otherwise win over these.
    http.trust_env = False
    http.verify = args.ca
    base = args.base.rstrip("/")
    auth = {"Authorization": f"Bearer {args.key}"}

    def sql(query: str) -> str:
        out = subprocess.run([*shlex.split(args.sql), query], check=True, capture_output=True, text=True)
        return out.stdout.strip()

    wait_until(lambda: http.get(f"{base}/readyz", timeout=5).status_code == 200, 90, "/readyz 200")
    check("readyz", http.get(f"{base}/readyz", timeout=5).json())

    # Booking through the proxy, many at once: racers for three seats get exactly three;
    # every booking in the open queue is taken, and every one is dialed once.
    first_slot = http.get(f"{base}/api/v1/queues/scarce/slots", headers=auth, timeout=10).json()["slots"][0]

    def book(body: dict[str, Any]) -> int:
        return http.post(f"{base}/api/v1/callbacks", json=body, headers=auth, timeout=30).status_code

    def racer(n: int) -> dict[str, Any]:
        return {"queue": "scarce", "phone": f"+4474008{n:05d}", "kind": "scheduled", "slot_start": first_slot["start"]}

    with ThreadPoolExecutor(max_workers=8) as pool:
        raced = list(pool.map(book, map(racer, range(RACERS))))
        codes = list(
            pool.map(book, ({"queue": "open", "phone": f"+4474009{n:05d}", "kind": "asap"} for n in range(BOOKINGS)))
        )
    assert sorted(raced) == [201] * SEATS + [409] * (RACERS - SEATS), f"racers: {raced}"
    check("racers for the scarce slot", {"201": raced.count(201), "409": raced.count(409)})
    assert codes == [201] * BOOKINGS, f"bookings: {codes}"
    check("booked", BOOKINGS)
    wait_until(lambda: int(sql("SELECT count(*) FROM sim_call")) >= BOOKINGS, 90, "every callback dialed")
    time.sleep(3)  # more dispatch passes by both workers: nothing is dialed again
    twice = sql('SELECT count(*) FROM (SELECT 1 FROM sim_call GROUP BY "to" HAVING count(*) > 1) AS t')
    dialed = sql('SELECT count(DISTINCT "to") FROM sim_call')
    overbooked = sql("SELECT count(*) FROM slot WHERE booked > capacity")
    scarce = sql("SELECT sum(booked) FROM slot JOIN queue ON queue.id = slot.queue_id WHERE queue.key = 'scarce'")
    got = (dialed, twice, overbooked, scarce)
    assert got == (str(BOOKINGS), "0", "0", str(SEATS)), got
    check("dialed once each", {"numbers": int(dialed), "dialed twice": 0, "overbooked slots": 0, "scarce seats": SEATS})

    # Twilio signs the URL it was given: the public https one. Behind the proxy, the app
    # must see that URL (X-Forwarded-Proto/-Host), or every real webhook is a 403.
    validator = RequestValidator(args.twilio_token)
    path = "/webhooks/twilio/sms/inbound"
    form = {"MessageSid": "SM" + "a" * 32, "From": "+447400900001", "To": "+447700900000", "Body": "hello"}
    signed = validator.compute_signature(base + path, form)
    taken = http.post(base + path, data=form, headers={"X-Twilio-Signature": signed}, timeout=10)
    assert taken.status_code == 200, (taken.status_code, taken.text[:300])
    inside = validator.compute_signature("http://web:8000" + path, form | {"MessageSid": "SM" + "b" * 32})
    refused = http.post(
        base + path, data=form | {"MessageSid": "SM" + "b" * 32}, headers={"X-Twilio-Signature": inside}, timeout=10
    )
    assert refused.status_code == 403, (refused.status_code, refused.text[:300])
    check("twilio signature over https", {"public URL": taken.status_code, "inside URL": refused.status_code})

    # One address (this machine, as Caddy says in X-Forwarded-For), all web processes.
    answers = [http.get(f"{base}/api/v1/queues/open", timeout=10) for _ in range(3 * args.address_limit)]
    statuses = [answer.status_code for answer in answers]
    limited = [answer for answer in answers if answer.status_code == 429]
    assert statuses.count(200) == args.address_limit, statuses
    assert statuses == [200] * args.address_limit + [429] * (2 * args.address_limit), statuses
    assert limited[0].json().get("type") == "request_throttle_timeout", limited[0].text[:300]
    check("per-address limit, every web process together", {"200": statuses.count(200), "429": len(limited)})
    return 0


def wait_until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    last = "the condition stayed false"
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except (requests.RequestException, subprocess.CalledProcessError, ValueError) as error:
            last = f"{type(error).__name__}: {error}"
        time.sleep(1)
    raise SystemExit(f"timed out waiting for {what} ({last})")


def check(name: str, value: Any) -> None:
    print(f"ok  {name}: {value}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
