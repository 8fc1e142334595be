"""JSON from the network, parsed without surprises: a bad body is a ValueError, whatever it holds.

`json.loads` recurses once per nesting level, so 100,000 `[` raise RecursionError (and code that
walks the result recursively would fail later still); a body may also be bytes that are not UTF-8.
Webhooks parse with `loads_bounded` and answer 400 on its ValueError.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 64  # Telegram updates and Slack payloads nest about 10 deep
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class BadJson(ValueError):
    """The body is not JSON we take; the message says why (for the log and the 400)."""


def nesting_depth(value: Any) -> int:
    """How deeply lists and dicts nest in a parsed value (iterative: any depth is measured safely)."""
    return _walk(value)[0]


def _walk(value: Any) -> tuple[int, bool]:
    """(nesting depth, whether some string or key holds a lone surrogate), in one pass."""
    deepest, lone, stack = 0, False, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            lone = lone or bool(_LONE_SURROGATE.search(item))
            continue
        if isinstance(item, dict):
            children: Any = [*item.keys(), *item.values()]
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1 if not isinstance(child, str) else depth) for child in children)
    return deepest, lone


def loads_bounded(body: bytes | str, max_depth: int = MAX_DEPTH) -> Any:
    """Parse a JSON body; BadJson when it is not UTF-8, not JSON, or nested deeper than `max_depth`."""
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError as error:
            raise BadJson(f"not UTF-8 (byte {error.start})") from None
    try:
        value = json.loads(body)
    except RecursionError:  # the C parser stops at about 1,000 levels
        raise BadJson(f"nested too deeply (at most {max_depth} levels)") from None
    except ValueError as error:
        raise BadJson(f"not JSON: {error}") from None
    depth, lone_surrogate = _walk(value)
    if depth > max_depth:  # code walking it recursively later must not be the one to fail
        raise BadJson(f"nested {depth} levels deep (at most {max_depth})")
    if lone_surrogate:  # "\ud800" alone parses, but no UTF-8 can carry it: Redis would refuse it later
        raise BadJson("a string holds a lone UTF-16 surrogate")
    return value
