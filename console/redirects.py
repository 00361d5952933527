"""Where the console may send someone back to after a form: a path of its own, never
another site and never a header-breaking value."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# Control characters (a newline in Location is a 500 at best, a forged header at worst),
# and the backslash browsers read as a slash ("/\evil.example" is another site).
UNSAFE = re.compile(r"[\x00-\x1f\x7f\\]")


def local_target(value: str, prefix: str | tuple[str, ...], default: str) -> str:
    """``value`` when it is a local path under ``prefix`` (or one of them; with its query), else ``default``."""
    if not value.startswith(prefix) or value.startswith("//") or UNSAFE.search(value) or len(value) > 2000:
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value
