"""Raw Redis commands for the writes every message makes (SET with a TTL, XADD), built as redis-py's command
methods build them but without their per-call checks of arguments we never pass: those checks cost more than
the command (~90 µs a `set` through its experimental-arguments wrapper). tests/router/test_commands.py
compares them with what redis-py records."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from redis.typing import EncodableT

from router.rounds import Command


def set_command(key: str, value: EncodableT, ex: int | None = None) -> Command:
    """SET `key` `value` [EX `ex`], as `Redis.set(key, value, ex=ex)` sends it."""
    return ("SET", key, value) if ex is None else ("SET", key, value, "EX", ex)


def xadd_command(key: str, fields: Mapping[Any, EncodableT], maxlen: int | None = None) -> Command:
    """XADD `key` [MAXLEN ~ `maxlen`] * field value ..., as `Redis.xadd(key, fields, maxlen=maxlen,
    approximate=True)` sends it; fields in their mapping's order."""
    if not fields:
        raise ValueError("XADD needs at least one field")
    head: tuple[EncodableT, ...] = ("XADD", key) if maxlen is None else ("XADD", key, b"MAXLEN", b"~", str(maxlen))
    return (*head, "*", *(item for pair in fields.items() for item in pair))
