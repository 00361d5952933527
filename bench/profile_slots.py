"""cProfile of the API's slot list, in-process (Flask test client, one thread), on SQLite:
``python -m bench.profile_slots`` (``make bench-profile``).

A fresh database with the bench queue (open around the clock, 15-minute slots, 14 days:
about 1,300 slots, ~112 KB of JSON), then REQUESTS requests of ``/api/v1/queues/bench/slots
?days=14`` under cProfile. Prints the median milliseconds per request over rounds of the
same requests without the profiler, and the profile's top entries by own time: the lines
docs/performance.md quotes before and after a change. Each request is answered anew when
``PROFILE_FRESH=1`` (the kept answer dropped first): the cost of making one.
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import data
from bench.baseline import build

REQUESTS = int(os.environ.get("PROFILE_REQUESTS", "300"))
FRESH = os.environ.get("PROFILE_FRESH") == "1"
PATH = "/api/v1/queues/bench/slots?days=14"


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="callbacks-profile-") as tmp:
        work = Path(tmp)
        url = f"sqlite:///{work / 'profile.db'}"
        data.reset_database(url, work)
        app = build(data.settings_for(url, work))
        data.create_queues(app.extensions["db"], {"bench": 100}, datetime.now(UTC))
        client = app.test_client()
        lists = app.extensions.get("slot_lists")

        def one() -> int:
            if FRESH and lists is not None:
                lists._answers.clear()
            response = client.get(PATH)
            assert response.status_code == 200, response.get_data(as_text=True)
            return len(response.get_data())

        size = one()
        rounds = []
        for _ in range(7):
            started = time.perf_counter()
            for _ in range(REQUESTS // 10):
                one()
            rounds.append((time.perf_counter() - started) / (REQUESTS // 10) * 1000)
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(REQUESTS):
            one()
        profile.disable()
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(12)
        kept = "each answered anew" if FRESH or lists is None else "kept answers"
        print(f"{PATH}: {size / 1024:.0f} KB, {statistics.median(rounds):.2f} ms per request (median, {kept})")
        print(out.getvalue())
        app.extensions["db"].dispose()


if __name__ == "__main__":
    main()
