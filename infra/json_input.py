"""JSON from outside — request bodies, webhooks, uploaded documents — parsed one way.

Python's parser recurses: a body of a few thousand ``[`` raises RecursionError (not a
ValueError, so every ``except ValueError`` let it through as a 500), and a document a few
hundred levels deep parses but then recurses again in whatever walks it. Nothing anyone
sends us nests deeper than a handful of levels, so ``loads`` refuses more than
MAX_DEPTH with JSONTooDeep, a ValueError: the handlers of bad JSON handle it too.
NaN and Infinity are not JSON and are refused as well. The size is bounded before this,
by MAX_BODY_BYTES for every request.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 32


class JSONTooDeep(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def loads(data: bytes | str, max_depth: int = MAX_DEPTH) -> Any:
    """The document in ``data``; ValueError (JSONDecodeError, UnicodeDecodeError or
    JSONTooDeep) when it is not JSON or nests deeper than ``max_depth``."""
    try:
        document = json.loads(data, parse_constant=_reject_constant)
    except RecursionError:
        raise JSONTooDeep(f"the JSON nests deeper than {max_depth} levels") from None
    if _deeper_than(document, max_depth):
        raise JSONTooDeep(f"the JSON nests deeper than {max_depth} levels")
    return document


def _deeper_than(document: Any, max_depth: int) -> bool:
    """Whether objects and arrays nest more than ``max_depth`` levels (``{}`` is one)."""
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        if depth > max_depth:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False
