"""Message decoding as it was before its per-class plans (router/messages.py's from_json, from_dict and _check_types
at 2ca7b4d), frozen for comparison.

tests/router/test_messages_same.py and bench/loopcpu.py run it beside the current code: every message and every
error text must stay the same, and the bench says how much cheaper the current one is. Not used by Helpline.
"""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any, TypeVar

import orjson

from router.messages import (
    ActionKind,
    AgentAction,
    Attachment,
    DeskEvent,
    DeskEventKind,
    HistoryLine,
    Link,
    PayloadError,
    QuickReply,
    Sender,
)

_T = TypeVar("_T")
_NESTED = {"sender": Sender, "attachments": Attachment, "options": QuickReply, "history": HistoryLine,
           "links": Link}


def from_json(cls: type[_T], data: str | bytes) -> _T:
    """Parse a stream entry back into `cls`; raise PayloadError naming the problem."""
    try:
        raw = orjson.loads(data)
    except orjson.JSONDecodeError:
        try:  # what orjson refuses and the standard library reads (NaN, huge integers, escaped lone surrogates)
            raw = json.loads(data)
        except (ValueError, UnicodeDecodeError) as error:
            raise PayloadError(f"{cls.__name__}: not JSON: {error}") from None
    return from_dict(cls, raw)


def from_dict(cls: type[_T], raw: Any) -> _T:
    """Build `cls` from a decoded JSON object; unknown keys are ignored so old workers read new data."""
    if not isinstance(raw, dict):
        raise PayloadError(f"{cls.__name__}: expected an object, got {type(raw).__name__}")
    values: dict[str, Any] = {}
    for spec in fields(cls):  # type: ignore[arg-type]
        if spec.name not in raw:
            continue
        value = raw[spec.name]
        nested = _NESTED.get(spec.name)
        try:
            if nested is Sender:
                value = from_dict(Sender, value)
            elif nested is not None:
                if not isinstance(value, list):
                    raise PayloadError(f"{cls.__name__}.{spec.name}: expected a list")
                value = tuple(from_dict(nested, item) for item in value)
            elif spec.name == "kind" and cls is AgentAction:
                value = ActionKind(value)
            elif spec.name == "kind" and cls is DeskEvent:
                value = DeskEventKind(value)
        except ValueError as error:
            raise PayloadError(f"{cls.__name__}.{spec.name}: {error}") from None
        values[spec.name] = value
    try:
        message = cls(**values)
    except TypeError as error:
        raise PayloadError(f"{cls.__name__}: {error}") from None
    _check_types(message)
    return message


_SIMPLE_TYPES: dict[str, type | tuple[type, ...]] = {"str": str, "int": int, "float": (int, float), "bool": bool}


def _check_types(message: Any) -> None:
    # JSON from outside can carry a number where text belongs; catch it here, not deep in the router.
    for spec in fields(message):
        value = getattr(message, spec.name)
        type_name = str(spec.type).replace(" ", "")
        optional = type_name.endswith("|None")
        base = type_name.removesuffix("|None")
        if value is None and optional:
            continue
        expected = _SIMPLE_TYPES.get(base)
        if expected is not None and (not isinstance(value, expected) or (base != "bool" and isinstance(value, bool))):
            raise PayloadError(f"{type(message).__name__}.{spec.name}: expected {base}, got {type(value).__name__}")


