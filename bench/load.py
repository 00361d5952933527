"""The load generator: its own process, K client threads with keep-alive HTTP/1.1
connections (http.client) to a server on 127.0.0.1, bounded in requests and in time.

    python -m bench.load --port 8000 --scenario get --path '/api/v1/queues/bench/slots?days=14'
    python -m bench.load --port 8000 --scenario book --queue bench --slots-file hot.json
    python -m bench.load --port 8000 --scenario bare-insert --queue bench --slots-file hot.json
    python -m bench.load --port 8000 --scenario storm --queue storm1 --slots-file s.json --requests 10000

Prints one human line, then ``RESULT {json}`` for bench.run_all. Requests that finish
during the warm-up are not counted. A server that closes the connection after a reply
(gunicorn's sync workers do) is simply reconnected to, as browsers do.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import random
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

HOST = "127.0.0.1"  # never anything else: this tool only loads our own loopback server


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    completed: int = 0  # warm-up included
    status: Counter[str] = field(default_factory=Counter)
    error_types: Counter[str] = field(default_factory=Counter)
    samples_5xx: list[str] = field(default_factory=list)
    created: int = 0
    cancelled: int = 0
    cancel_status: Counter[str] = field(default_factory=Counter)


class Requests:
    """Hands out the next request to whichever thread asks (thread-safe)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.counter = itertools.count()
        self.lock = threading.Lock()
        self.slots: list[str] = []
        if args.slots_file:
            with open(args.slots_file, encoding="utf-8") as fh:
                self.slots = json.load(fh)
        self.rng = random.Random(args.seed)

    def next(self) -> tuple[str, str, bytes | None] | None:
        with self.lock:
            i = next(self.counter)
            if self.args.requests and i >= self.args.requests:
                return None
            pick = self.rng.random()
            slot = self.rng.choice(self.slots) if self.slots else None
            earlier = self.rng.randrange(i) if i else 0
        args = self.args
        if args.scenario == "get":
            return "GET", args.path, None
        # Unique phone per attempt; in a storm a share of attempts reuse an earlier
        # attempt's phone (duplicate suppression must answer 200 and take no seat).
        n = earlier if args.scenario == "storm" and i and pick < args.duplicate_share else i
        body = {
            "queue": args.queue,
            "phone": f"+44{args.phone_start + n}",
            "kind": "scheduled",
            "slot_start": slot,
            "name": f"Bench customer {n}",
        }
        path = "/bench/bare-insert" if args.scenario == "bare-insert" else "/api/v1/callbacks"
        return "POST", path, json.dumps(body).encode()


def _call(conn: http.client.HTTPConnection, method: str, path: str, body: bytes | None) -> tuple[int, bytes]:
    headers = {"Content-Type": "application/json"} if body is not None else {}
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    if response.will_close:
        conn.close()
    return response.status, data


def _worker(args: argparse.Namespace, source: Requests, t_count: float, t_stop: float, tally: Tally) -> None:
    conn = http.client.HTTPConnection(HOST, args.port, timeout=args.timeout)
    rng = random.Random()
    try:
        while time.perf_counter() < t_stop:
            item = source.next()
            if item is None:
                return
            method, path, body = item
            started = time.perf_counter()
            try:
                status, data = _call(conn, method, path, body)
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                tally.error_types[type(exc).__name__] += 1
                tally.status["conn_error"] += 1
                continue
            ended = time.perf_counter()
            tally.completed += 1
            if ended >= t_count:
                tally.latencies.append(ended - started)
                tally.status[str(status)] += 1
            if status >= 500 and len(tally.samples_5xx) < 3:
                tally.samples_5xx.append(data[:300].decode("utf-8", "replace"))
            if status == 201 and args.scenario == "storm":
                tally.created += 1
                if rng.random() < args.cancel_share:  # the customer changes their mind
                    ref = json.loads(data)["ref"]
                    try:
                        c_status, _ = _call(conn, "DELETE", f"/api/v1/callbacks/{ref}", None)
                    except (OSError, http.client.HTTPException) as exc:
                        conn.close()
                        tally.error_types[type(exc).__name__] += 1
                        tally.cancel_status["conn_error"] += 1
                        continue
                    tally.cancel_status[str(c_status)] += 1
                    if c_status == 200:
                        tally.cancelled += 1
    finally:
        conn.close()


def _percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(p / 100 * (len(sorted_values) - 1))))
    return sorted_values[k]


def run(args: argparse.Namespace) -> dict[str, Any]:
    source = Requests(args)
    start = time.perf_counter()
    t_count = start + args.warmup
    t_stop = t_count + args.duration
    tallies = [Tally() for _ in range(args.clients)]
    threads = [
        threading.Thread(target=_worker, args=(args, source, t_count, t_stop, tally), daemon=True) for tally in tallies
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ended = time.perf_counter()
    seconds = ended - max(t_count, start)
    latencies = sorted(x for t in tallies for x in t.latencies)
    status: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    cancel_status: Counter[str] = Counter()
    for t in tallies:
        status.update(t.status)
        errors.update(t.error_types)
        cancel_status.update(t.cancel_status)
    return {
        "scenario": args.scenario,
        "clients": args.clients,
        "requests": len(latencies),
        "completed": sum(t.completed for t in tallies),
        "seconds": round(seconds, 3),
        "rps": round(len(latencies) / seconds, 1) if seconds > 0 else 0.0,
        "p50_ms": round(_percentile(latencies, 50) * 1000, 2),
        "p99_ms": round(_percentile(latencies, 99) * 1000, 2),
        "status": dict(sorted(status.items())),
        "errors": dict(errors),
        "samples_5xx": [s for t in tallies for s in t.samples_5xx][:3],
        "created": sum(t.created for t in tallies),
        "cancelled": sum(t.cancelled for t in tallies),
        "cancel_status": dict(cancel_status),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--scenario", choices=("get", "book", "bare-insert", "storm"), required=True)
    parser.add_argument("--path", default="/healthz", help="GET path (scenario get)")
    parser.add_argument("--queue", default="bench")
    parser.add_argument("--slots-file", help="JSON list of slot starts (ISO 8601) to book")
    parser.add_argument("--phone-start", type=int, default=7410000000, help="national part of the first +44 number")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--duration", type=float, default=8.0, help="seconds counted (after the warm-up)")
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--requests", type=int, default=0, help="stop after this many requests (0: time only)")
    parser.add_argument("--duplicate-share", type=float, default=0.0)
    parser.add_argument("--cancel-share", type=float, default=0.0)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    result = run(args)
    print(
        f"  {args.scenario:<11} {result['rps']:>8.1f} req/s  p50 {result['p50_ms']:.1f} ms"
        f"  p99 {result['p99_ms']:.1f} ms  {result['requests']} requests in {result['seconds']:.1f} s"
        f"  status {result['status']}",
        file=sys.stderr,
    )
    print("RESULT " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
