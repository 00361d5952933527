"""The webhook load generator: its own process, K client threads with keep-alive HTTP/1.1
connections (http.client) to a server on 127.0.0.1, sending a prepared plan in order.

    python -m bench.webhook_load --port 8000 --clients 16 --plan plan.json

The plan (written by bench/webhook_bench.py) is a JSON list of ``[path, body, signature]``:
the body is sent as ``application/json``, the signature (when not null) as
``X-Simulator-Signature``. Each thread takes the next request of the plan, so requests
go out in plan order with up to K in flight. Prints one human line, then
``RESULT {json}`` with the latencies (seconds) of every request.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import sys
import threading
import time
from collections import Counter
from typing import Any

HOST = "127.0.0.1"  # never anything else: this tool only loads our own loopback server
SIGNATURE_HEADER = "X-Simulator-Signature"


def _worker(
    port: int,
    plan: list[list[Any]],
    counter: itertools.count[int],
    lock: threading.Lock,
    latencies: list[float],
    status: Counter[str],
    samples: list[str],
) -> None:
    conn = http.client.HTTPConnection(HOST, port, timeout=120)
    try:
        while True:
            with lock:
                i = next(counter)
            if i >= len(plan):
                return
            path, body, signature = plan[i]
            headers = {"Content-Type": "application/json"}
            if signature:
                headers[SIGNATURE_HEADER] = signature
            started = time.perf_counter()
            try:
                conn.request("POST", path, body=body.encode(), headers=headers)
                response = conn.getresponse()
                data = response.read()
                if response.will_close:  # gunicorn's sync workers close after each reply
                    conn.close()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                with lock:
                    status[f"error:{type(exc).__name__}"] += 1
                continue
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                status[str(response.status)] += 1
                if response.status >= 400 and len(samples) < 3:
                    samples.append(data[:300].decode("utf-8", "replace"))
    finally:
        conn.close()


def run(port: int, plan: list[list[Any]], clients: int) -> dict[str, Any]:
    counter = itertools.count()
    lock = threading.Lock()
    latencies: list[float] = []
    status: Counter[str] = Counter()
    samples: list[str] = []
    threads = [
        threading.Thread(target=_worker, args=(port, plan, counter, lock, latencies, status, samples), daemon=True)
        for _ in range(clients)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    return {
        "requests": len(latencies),
        "seconds": round(seconds, 3),
        "rps": round(len(latencies) / seconds, 1) if seconds > 0 else 0.0,
        "status": dict(sorted(status.items())),
        "samples": samples,
        "latencies": [round(x, 6) for x in latencies],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--plan", required=True, help="JSON list of [path, body, signature]")
    parser.add_argument("--clients", type=int, default=16)
    args = parser.parse_args(argv)
    with open(args.plan, encoding="utf-8") as fh:
        plan = json.load(fh)
    result = run(args.port, plan, args.clients)
    ordered = sorted(result["latencies"])
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))] if ordered else float("nan")
    print(
        f"  {result['rps']:.1f} req/s, p99 {p99 * 1000:.1f} ms, {result['requests']} requests in"
        f" {result['seconds']:.1f} s, status {result['status']}",
        file=sys.stderr,
    )
    print("RESULT " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
