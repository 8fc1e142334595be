"""Core message types that travel between channels and the router.

Frozen dataclasses, turned into plain JSON for the Redis streams. Channels import this module only.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from enum import Enum
from typing import Any, TypeVar

import orjson

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_id(now: float | None = None) -> str:
    """A ULID: 26 characters, sortable by creation time, unique without coordination."""
    millis = int((time.time() if now is None else now) * 1000)
    value = (millis << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


class PayloadError(ValueError):
    """A stream entry that does not hold a valid message; the text says what is wrong."""


@dataclass(frozen=True, slots=True)
class Sender:
    id: str
    name: str = ""
    address: str = ""  # e-mail address, @username, ...


@dataclass(frozen=True, slots=True)
class Attachment:
    name: str
    media_type: str = "application/octet-stream"
    size: int = 0
    ref: str = ""  # where the channel can fetch it again (file id, URL, storage key)


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """Something a customer sent on a channel."""

    id: str
    channel: str
    address: str  # the conversation on that channel: chat id, channel+thread, e-mail thread root
    sender: Sender
    text: str = ""
    attachments: tuple[Attachment, ...] = ()
    platform_id: str = ""  # the platform's own id, for dedupe of repeated deliveries
    received_at: float = 0.0
    language_hint: str | None = None
    option: str | None = None  # the value of a quick-reply button the customer pressed
    reply_to: str | None = None  # the platform id of the message this one answers


class ActionKind(str, Enum):
    CLAIM = "claim"
    REPLY = "reply"
    NOTE = "note"
    TRANSFER = "transfer"
    RELEASE = "release"
    RESOLVE = "resolve"
    REOPEN = "reopen"
    CLOSE = "close"  # the system closes a resolved case nobody rated within reopen_days
    SLA_CHECK = "sla_check"  # the system: warn or escalate a queued case near or past its first-response target


@dataclass(frozen=True, slots=True)
class AgentAction:
    """Something an agent did to a case."""

    id: str
    kind: ActionKind
    case: int
    agent: str = ""  # agent id; empty for actions an admin or the system takes
    agent_name: str = ""
    text: str = ""  # reply or note text
    team: str | None = None  # transfer target
    at: float = 0.0
    ref: str = ""  # the desk's id of the agent's own message (e.g. Slack ts), for delivery marks


@dataclass(frozen=True, slots=True)
class QuickReply:
    value: str  # what comes back in InboundMessage.option
    label: str  # what the customer sees


@dataclass(frozen=True, slots=True)
class Link:
    """A link shown with a message where buttons cannot be (e-mail): one per rating of a survey."""

    label: str
    url: str


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """Something to show a customer; each channel renders text and options its own way."""

    id: str  # idempotency key: a redelivered outbox entry with the same id is sent once
    channel: str
    address: str
    text: str
    options: tuple[QuickReply, ...] = ()
    conversation: str = ""
    case: int | None = None
    author: str = "bot"  # bot, agent or system
    agent_name: str = ""
    language: str = ""
    reply_to: str | None = None  # platform id of the customer message being answered
    source_ref: str = ""  # for an agent's message: the desk's id of it, echoed in the delivery report
    links: tuple[Link, ...] = ()  # rendered by channels without buttons (e-mail); the others show the options


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What became of an outbound message: sent, or failed for good (and why)."""

    id: str
    message_id: str
    channel: str
    conversation: str = ""
    case: int | None = None
    delivered: bool = True
    reason: str = ""
    platform_id: str = ""
    close_conversation: bool = False  # the platform says this customer can no longer be reached
    author: str = ""
    source_ref: str = ""
    at: float = 0.0


class DeskEventKind(str, Enum):
    CASE_WAITING = "case_waiting"  # a new case in a team's queue (also after reopen to the queue)
    CASE_CLAIMED = "case_claimed"
    CASE_RELEASED = "case_released"
    CASE_TRANSFERRED = "case_transferred"
    CASE_RESOLVED = "case_resolved"
    CASE_REOPENED = "case_reopened"
    CASE_RATED = "case_rated"
    CASE_CLOSED = "case_closed"
    CUSTOMER_MESSAGE = "customer_message"  # the customer wrote while the case is open
    AGENT_MESSAGE = "agent_message"  # relayed to the customer (ref: the agent's own desk message, if any)
    BOT_MESSAGE = "bot_message"  # the bot answered the customer from the FAQ while the case waited
    NOTE = "note"
    DELIVERY = "delivery"  # what became of an agent's message (ref names it)
    SLA_WARNING = "sla_warning"  # a queued case nears its first-response target (waited: seconds counted)


@dataclass(frozen=True, slots=True)
class HistoryLine:
    role: str  # customer, bot, agent, note, system
    text: str
    at: float = 0.0


@dataclass(frozen=True, slots=True)
class DeskEvent:
    """What the agents' desk (Slack) needs to show: case notices, thread messages, delivery marks."""

    id: str  # idempotency key
    kind: DeskEventKind
    case: int
    team: str = ""
    from_team: str = ""
    agent: str = ""
    agent_name: str = ""
    customer_name: str = ""
    channel: str = ""  # the customer's channel
    language: str = ""
    text: str = ""
    attachments: tuple[Attachment, ...] = ()
    history: tuple[HistoryLine, ...] = ()
    queued_at: float = 0.0
    ref: str = ""  # platform id of the agent's desk message this is about (reply, note, delivery)
    reply_to: str | None = None  # for an edited customer message: the platform id of the original
    platform_id: str = ""  # the customer's platform id of the message
    delivered: bool = True
    reason: str = ""
    csat: int = 0
    waited: float = 0.0  # SLA warning: seconds waited that count against the target
    at: float = 0.0


_T = TypeVar("_T")
_NESTED = {"sender": Sender, "attachments": Attachment, "options": QuickReply, "history": HistoryLine,
           "links": Link}


def to_json(message: InboundMessage | AgentAction | OutboundMessage | DeliveryReport | DeskEvent) -> str:
    """Serialise a message for a stream entry (always valid UTF-8)."""
    try:
        # orjson writes dataclasses and enums itself, several times faster than asdict + json.dumps.
        return orjson.dumps(message).decode("utf-8")
    except (orjson.JSONEncodeError, UnicodeDecodeError):
        pass  # a lone surrogate, an integer past 64 bits: the standard library's way below
    text = json.dumps(asdict(message), ensure_ascii=False, separators=(",", ":"), default=_enum_value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # Lone surrogates (undecodable bytes a platform let through) become JSON \u escapes.
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def inbox_fields(message: InboundMessage | AgentAction | DeliveryReport) -> dict[Any, Any]:
    """The fields of an `hl:inbox` stream entry carrying `message` (typed loosely, as redis-py's xadd wants)."""
    kinds = {InboundMessage: "message", AgentAction: "action", DeliveryReport: "delivery"}
    return {"kind": kinds[type(message)], "data": to_json(message)}


def _enum_value(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"cannot serialise {type(value).__name__}")


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
    plan = _PLANS.get(cls) or _plan(cls)
    values: dict[str, Any] = {name: raw[name] for name in plan.plain if name in raw}
    for name, convert in plan.converted:  # in the fields' order: the first bad one is the one named
        if name in raw:
            try:
                values[name] = convert(raw[name])
            except ValueError as error:
                raise PayloadError(f"{cls.__name__}.{name}: {error}") from None
    try:
        message = cls(**values)
    except TypeError as error:
        raise PayloadError(f"{cls.__name__}: {error}") from None
    _check_types(message, plan)
    return message


_SIMPLE_TYPES: dict[str, type | tuple[type, ...]] = {"str": str, "int": int, "float": (int, float), "bool": bool}
# The exact types a JSON decoder gives that pass each check at once; anything else (a subclass, a bool where a
# number belongs, a wrong type) takes the full check and its error.
_PLAIN_TYPES: dict[str, frozenset[type]] = {"str": frozenset({str}), "int": frozenset({int}),
                                            "float": frozenset({int, float}), "bool": frozenset({bool})}


@dataclass(frozen=True, slots=True)
class _TypeCheck:
    name: str
    base: str  # the annotation without "| None": str, int, float or bool
    optional: bool
    expected: type | tuple[type, ...]
    plain: frozenset[type]


@dataclass(frozen=True, slots=True)
class _Plan:
    """What decoding a class takes, worked out once from its fields (dataclasses.fields and the annotations'
    text cost more than the decoding itself): which fields are read as they are, which are converted, and how
    each is checked."""

    plain: tuple[str, ...]  # fields whose JSON value is the field's as it is (only the type checks can fail)
    converted: tuple[tuple[str, Callable[[Any], Any]], ...]  # nested messages and enums, in the fields' order
    checks: tuple[_TypeCheck, ...]


_PLANS: dict[type, _Plan] = {}


def _plan(cls: type) -> _Plan:
    plain, converted, checks = [], [], []
    for spec in fields(cls):
        convert = _converter(cls, spec.name)
        if convert is None:
            plain.append(spec.name)
        else:
            converted.append((spec.name, convert))
        type_name = str(spec.type).replace(" ", "")
        base = type_name.removesuffix("|None")
        expected = _SIMPLE_TYPES.get(base)
        if expected is not None:
            checks.append(_TypeCheck(spec.name, base, type_name.endswith("|None"), expected, _PLAIN_TYPES[base]))
    plan = _Plan(tuple(plain), tuple(converted), tuple(checks))
    _PLANS[cls] = plan  # the same plan whoever makes it first: a race only repeats the work
    return plan


def _converter(cls: type, name: str) -> Callable[[Any], Any] | None:
    nested = _NESTED.get(name)
    if nested is Sender:
        return lambda value: from_dict(Sender, value)
    if nested is not None:
        item_class = nested

        def items(value: Any) -> tuple[Any, ...]:
            if not isinstance(value, list):
                # Raised inside the field's try as before: the message names the field twice, as it always did.
                raise PayloadError(f"{cls.__name__}.{name}: expected a list")
            return tuple(from_dict(item_class, item) for item in value)
        return items
    if name == "kind" and cls is AgentAction:
        return ActionKind
    if name == "kind" and cls is DeskEvent:
        return DeskEventKind
    return None


def _check_types(message: Any, plan: _Plan | None = None) -> None:
    # JSON from outside can carry a number where text belongs; catch it here, not deep in the router.
    for check in (plan or _PLANS.get(type(message)) or _plan(type(message))).checks:
        value = getattr(message, check.name)
        if type(value) in check.plain or (value is None and check.optional):
            continue
        if not isinstance(value, check.expected) or (check.base != "bool" and isinstance(value, bool)):
            raise PayloadError(f"{type(message).__name__}.{check.name}: expected {check.base}, "
                               f"got {type(value).__name__}")


__all__ = [
    "ActionKind",
    "AgentAction",
    "Attachment",
    "DeliveryReport",
    "DeskEvent",
    "DeskEventKind",
    "HistoryLine",
    "InboundMessage",
    "Link",
    "OutboundMessage",
    "PayloadError",
    "QuickReply",
    "Sender",
    "from_dict",
    "from_json",
    "inbox_fields",
    "new_id",
    "to_json",
]
