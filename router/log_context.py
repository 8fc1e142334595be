"""Which conversation and case the code running now is about, for structured logs.

The router notes the ids while it applies an inbox entry; a log formatter (bot/logs.py) adds them to
every line written meanwhile, so an operator can follow one conversation through the logs without
the router passing ids to each log call. Ids only: never a message's text.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

_FIELDS: ContextVar[dict[str, str] | None] = ContextVar("helpline_log_fields", default=None)


@contextlib.contextmanager
def log_scope(**fields: object) -> Iterator[None]:
    """Log lines written inside carry `fields` (and whatever `note()` adds); restored on exit."""
    outer = _FIELDS.get() or {}
    token = _FIELDS.set({**outer, **{name: str(value) for name, value in fields.items() if value not in (None, "")}})
    try:
        yield
    finally:
        _FIELDS.reset(token)


def note(**fields: object) -> None:
    """Add ids learnt along the way (the conversation once it is found) to the current scope."""
    current = _FIELDS.get()
    if current is None:
        return  # outside a scope: nothing to carry them
    current.update({name: str(value) for name, value in fields.items() if value not in (None, "")})


def current_fields() -> dict[str, str]:
    """The ids of the current scope (empty outside one)."""
    return dict(_FIELDS.get() or {})
