"""A real worker process for the dialer benchmark: ``python -m bench.dialer_worker``.

Exactly what ``flask --app wsgi callbacks worker`` does (the real app from
``create_app()`` with settings from the environment, the real ``Worker.run()`` with
its APScheduler ticks, inside an app context), plus two bench-only changes:

- the "simulator" provider is replaced by ``HttpSinkTelephony`` (bench/dialer_adapter.py),
  which POSTs each dial to the sink at ``127.0.0.1:$BENCH_SINK_PORT``;
- the reconcile tick runs every ``$BENCH_RECONCILE_SECONDS`` (default: the app's own
  interval), so that the kill variant does not wait 15 s per lease round.

It also times where the dispatch tick spends its time (claiming, the shared pacer row,
the HTTP dial, saving the call id, idle polling) and writes
those totals as JSON to ``$BENCH_STATS`` (every second, and on a clean stop) and, with
``$BENCH_PROFILE``, a cProfile dump of every dispatch tick on a clean stop (SIGTERM).
"""

from __future__ import annotations

import cProfile
import json
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from sqlalchemy import event

from app.factory import create_app
from app.worker import Worker
from bench.dialer_adapter import HttpSinkTelephony


class Timings:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seconds: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()
        self.batch_sizes: Counter[int] = Counter()

    def wrap(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - started
                with self.lock:
                    self.seconds[name] += elapsed
                    self.calls[name] += 1

        return timed

    def as_dict(self) -> dict[str, Any]:
        with self.lock:
            return {
                "seconds": {k: round(v, 4) for k, v in self.seconds.items()},
                "calls": dict(self.calls),
                "claim_batch_sizes": {str(k): v for k, v in sorted(self.batch_sizes.items())},
            }


TIMED_DIALER_METHODS = (
    "reserve_turns",  # the shared pacer row
    "wait_for_turn",  # the shared pacer row (older dialers: one turn per call), plus its sleep
    "_sleep_until",  # waiting for a reserved turn
    "_may_dial",  # fencing before the dial (a young claim needs no query)
    "_still_ours",  # renewing the lease right before dialing (older claims only)
    "_placed",  # saving the call id (older dialers: one transaction per call)
    "_save_placed",  # saving the call ids of a batch in one transaction
    "seconds_until_next_due",  # idle polling
)


class BenchWorker(Worker):
    """The real Worker; only the reconcile interval may differ, and ticks are timed."""

    def __init__(self, *args: Any, reconcile_seconds: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reconcile_seconds = reconcile_seconds
        self.timings = Timings()
        self.profile: cProfile.Profile | None = None
        dialer = self.dialer
        timings = self.timings
        claim_due = timings.wrap("claim_due", dialer.claim_due)

        def counted_claim_due(limit: int = 50) -> Any:
            claims = claim_due(limit)
            with timings.lock:
                timings.batch_sizes[len(claims)] += 1
            return claims

        dialer.claim_due = counted_claim_due  # type: ignore[method-assign]
        # The dialer's steps, timed by name when this version of the Dialer has them.
        for method in TIMED_DIALER_METHODS:
            if hasattr(dialer, method):
                setattr(dialer, method, timings.wrap(method, getattr(dialer, method)))
        # Every SQL statement (savepoints included) and commit this process sends.
        engine = self.db.engine

        def count_statement(*_args: Any) -> None:
            with timings.lock:
                timings.calls["SQL statements"] += 1

        def count_commit(*_args: Any) -> None:
            with timings.lock:
                timings.calls["SQL commits"] += 1

        event.listen(engine, "before_cursor_execute", count_statement)
        event.listen(engine, "commit", count_commit)
        adapter = self.providers.get("simulator")
        adapter.place_call = timings.wrap("place_call (HTTP)", adapter.place_call)  # type: ignore[method-assign]

    def dispatch_loop(self) -> None:
        started = time.perf_counter()
        if self.profile is not None:
            self.profile.enable()  # ticks run in a thread pool, one dispatch at a time
        try:
            super().dispatch_loop()
        finally:
            if self.profile is not None:
                self.profile.disable()
            with self.timings.lock:
                self.timings.seconds["dispatch tick (total)"] += time.perf_counter() - started
                self.timings.calls["dispatch tick (total)"] += 1

    def ticks(self) -> list[tuple[Callable[[], None], int]]:
        ticks = super().ticks()
        if self.reconcile_seconds is None:
            return ticks
        return [
            (tick, self.reconcile_seconds if getattr(tick, "__name__", "") == "reconcile" else seconds)
            for tick, seconds in ticks
        ]


def write_stats(worker: BenchWorker, path: str, cpu_at_start: float, stopped: bool = False) -> None:
    stats = {
        **worker.timings.as_dict(),
        "cpu_seconds": round(time.process_time() - cpu_at_start, 3),
        "stopped_cleanly": stopped,
    }
    with open(path + ".tmp", "w", encoding="utf-8") as fh:
        json.dump(stats, fh)
    os.replace(path + ".tmp", path)  # a reader never sees half a file


def keep_writing_stats(worker: BenchWorker, path: str, cpu_at_start: float) -> None:
    """Every second: a worker killed (or stopped with SIGKILL after a grace time) still leaves
    its figures up to the last second."""
    while True:
        time.sleep(1.0)
        write_stats(worker, path, cpu_at_start)


def main() -> int:
    app = create_app()  # settings from the environment, as `flask callbacks worker`
    extensions = app.extensions
    providers = extensions["providers"]
    providers.register(HttpSinkTelephony(int(os.environ["BENCH_SINK_PORT"]), providers.get("simulator")))
    reconcile = os.environ.get("BENCH_RECONCILE_SECONDS")
    with app.app_context():
        worker = BenchWorker(
            extensions["db"],
            extensions["clock"],
            extensions["settings"],
            providers,
            reconcile_seconds=int(reconcile) if reconcile else None,
        )
        if os.environ.get("BENCH_PROFILE"):
            # BENCH_PROFILE_CPU=1: CPU time (of the whole process) instead of wall-clock time.
            cpu = os.environ.get("BENCH_PROFILE_CPU") == "1"
            worker.profile = cProfile.Profile(time.process_time) if cpu else cProfile.Profile()
        print(f"READY {os.getpid()} {worker.dialer.worker_id}", file=sys.stderr, flush=True)
        cpu_at_start = time.process_time()  # start-up (imports, app) not counted
        stats_path = os.environ.get("BENCH_STATS")
        if stats_path:
            threading.Thread(target=keep_writing_stats, args=(worker, stats_path, cpu_at_start), daemon=True).start()
        worker.run()
    if stats_path:
        write_stats(worker, stats_path, cpu_at_start, stopped=True)
    if worker.profile is not None:
        worker.profile.dump_stats(os.environ["BENCH_PROFILE"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
