"""The image's healthcheck: GET a local /healthz, exit 0 on 200 and 1 otherwise.

With no argument it asks the web process on $PORT (the image's default role); the
worker's service passes its own: ``python deploy/container/healthcheck.py
http://127.0.0.1:9101/healthz`` (WORKER_METRICS_PORT). Standard library only: the image
has no curl.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request


def main(argv: list[str]) -> int:
    url = argv[1] if len(argv) > 1 else f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=3) as answer:
            return 0 if answer.status == 200 else 1
    except (urllib.error.URLError, OSError) as error:
        print(f"{url}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
