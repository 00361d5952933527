"""Where the demo's sample customer site (/widget-demo) is opened from.

The widget script comes from PUBLIC_BASE_URL; the page is opened at the other loopback
name of the same port (127.0.0.1 <-> localhost), so that it is another origin, as a
customer's real site would be, and the demo queue allows exactly that origin.
"""

from __future__ import annotations

from urllib.parse import urlsplit

OTHER_NAME = {"127.0.0.1": "localhost", "localhost": "127.0.0.1"}


def demo_page_origin(public_base_url: str) -> str:
    """The origin to open /widget-demo at: the other loopback name with the same scheme and
    port (any other host: that host itself, which is then same-origin)."""
    parts = urlsplit(public_base_url)
    host = parts.hostname or "127.0.0.1"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{OTHER_NAME.get(host, host)}{port}"
