"""The WSGI entry the benchmarks serve: ``gunicorn bench.bench_app:app``.

The real app from ``create_app()`` (settings from the environment: DATABASE_URL, ...)
plus the bench-only baseline endpoints of bench/baseline.py. Like wsgi.py, the only
module that builds an app at import time; nothing else imports it.
"""

from bench.baseline import build

app = build()
