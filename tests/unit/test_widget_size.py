"""widget.js is sent to every visitor of every site that embeds it: it stays small."""

from __future__ import annotations

import gzip

from web_widget.pages import WIDGET_JS

LIMIT_GZIPPED = 30 * 1024


def test_widget_js_is_at_most_30_kb_gzipped() -> None:
    source = WIDGET_JS.read_bytes()
    size = len(gzip.compress(source, compresslevel=9))
    assert 1000 < size <= LIMIT_GZIPPED, f"widget.js is {size} bytes gzipped"


def test_widget_js_never_parses_text_as_html() -> None:
    """Text from the server or the visitor goes in with textContent and DOM APIs only."""
    source = WIDGET_JS.read_text(encoding="utf-8")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in source, sink
