"""Decoding from per-class plans reads what it read before (tests/router/messages_reference.py): the same message
from any payload, well-formed or not, or the same error with the same text; and every message round-trips."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from router import messages
from router.messages import (
    ActionKind,
    AgentAction,
    Attachment,
    DeliveryReport,
    DeskEvent,
    DeskEventKind,
    HistoryLine,
    InboundMessage,
    Link,
    OutboundMessage,
    PayloadError,
    QuickReply,
    Sender,
    from_dict,
    from_json,
    to_json,
)
from tests.router import messages_reference as reference

TOP = [InboundMessage, AgentAction, OutboundMessage, DeliveryReport, DeskEvent]
NESTED = [Sender, Attachment, QuickReply, Link, HistoryLine]

json_leaf = (st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70)
             | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12)
             | st.sampled_from([kind.value for kind in ActionKind] + [kind.value for kind in DeskEventKind]))
json_value = st.recursive(json_leaf, lambda inner: st.lists(inner, max_size=3)
                          | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=8)


def good_value(annotation: str, name: str) -> st.SearchStrategy[Any]:
    """A value of the right JSON type for a field, so payloads get past the first field and fail (or not) later."""
    nested = reference._NESTED.get(name)
    if nested is Sender:
        return payload_for(Sender)
    if nested is not None:
        return st.lists(payload_for(nested), max_size=3)
    if name == "kind":
        return st.sampled_from([kind.value for kind in ActionKind] + [kind.value for kind in DeskEventKind])
    base = annotation.replace(" ", "").removesuffix("|None")
    simple: dict[str, st.SearchStrategy[Any]] = {
        "str": st.text(max_size=12), "int": st.integers(), "float": st.floats(allow_nan=False) | st.integers(),
        "bool": st.booleans()}
    value = simple.get(base, json_value)
    return value | st.none() if annotation.endswith("None") else value


def payload_for(cls: type) -> st.SearchStrategy[dict[str, Any]]:
    """Objects with some of `cls`'s fields, mostly of the right type, sometimes anything, plus unknown keys."""
    def field_value(spec: Any) -> st.SearchStrategy[Any]:
        return st.one_of(good_value(str(spec.type), spec.name), good_value(str(spec.type), spec.name), json_value)
    present = st.fixed_dictionaries({}, optional={spec.name: field_value(spec) for spec in fields(cls)})
    extra = st.dictionaries(st.text(max_size=5), json_leaf, max_size=2)
    return st.tuples(present, extra).map(lambda pair: {**pair[1], **pair[0]})


def outcome(decode: Any, cls: type, data: Any) -> tuple[str, Any]:
    try:
        return "ok", decode(cls, data)
    except PayloadError as error:
        return "PayloadError", str(error)
    except Exception as error:  # noqa: BLE001 - whatever escaped before must escape the same way now
        return type(error).__name__, str(error)


@settings(max_examples=600, deadline=None)
@given(st.sampled_from(TOP + NESTED).flatmap(lambda cls: st.tuples(st.just(cls), payload_for(cls))))
def test_any_object_decodes_as_before(case: tuple[type, dict[str, Any]]) -> None:
    cls, payload = case
    assert outcome(from_dict, cls, payload) == outcome(reference.from_dict, cls, payload)
    data = orjson.dumps(payload, option=orjson.OPT_NON_STR_KEYS) if _orjson_writes(payload) else None
    if data is not None:
        assert outcome(from_json, cls, data) == outcome(reference.from_json, cls, data)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(TOP + NESTED), json_value | st.binary(max_size=40) | st.text(max_size=40))
def test_anything_else_fails_as_before(cls: type, junk: Any) -> None:
    assert outcome(from_dict, cls, junk) == outcome(reference.from_dict, cls, junk)
    if isinstance(junk, (str, bytes)):
        assert outcome(from_json, cls, junk) == outcome(reference.from_json, cls, junk)


_text = st.text(max_size=20)
_float = st.floats(allow_nan=False, allow_infinity=False)
_sender = st.builds(Sender, _text, _text, _text)
_attachment = st.builds(Attachment, _text, _text, st.integers(0, 2**40), _text)
_options = st.lists(st.builds(QuickReply, _text, _text), max_size=3).map(tuple)
messages_strategy = st.one_of(
    st.builds(InboundMessage, _text, _text, _text, _sender, _text, st.lists(_attachment, max_size=2).map(tuple),
              _text, _float, st.none() | _text, st.none() | _text, st.none() | _text),
    st.builds(AgentAction, _text, st.sampled_from(ActionKind), st.integers(-2**40, 2**40), _text, _text, _text,
              st.none() | _text, _float, _text),
    st.builds(OutboundMessage, _text, _text, _text, _text, _options, _text, st.none() | st.integers(0, 2**40),
              links=st.lists(st.builds(Link, _text, _text), max_size=2).map(tuple)),
    st.builds(DeliveryReport, _text, _text, _text, _text, st.none() | st.integers(0, 2**40), st.booleans(), _text),
    st.builds(DeskEvent, _text, st.sampled_from(DeskEventKind), st.integers(0, 2**40),
              history=st.lists(st.builds(HistoryLine, _text, _text, _float), max_size=2).map(tuple)),
)


@settings(max_examples=300, deadline=None)
@given(messages_strategy)
def test_every_message_round_trips(message: Any) -> None:
    data = to_json(message)
    assert from_json(type(message), data) == message == reference.from_json(type(message), data)


@pytest.mark.parametrize("cls, payload, error", [
    (InboundMessage, {"id": "1", "channel": "t", "address": "a", "sender": 5},
     "InboundMessage.sender: Sender: expected an object, got int"),
    (InboundMessage, {"id": "1", "channel": "t", "address": "a", "sender": {"id": 7}},
     "InboundMessage.sender: Sender.id: expected str, got int"),
    (OutboundMessage, {"id": "1", "channel": "t", "address": "a", "text": "x", "options": {}},
     "OutboundMessage.options: OutboundMessage.options: expected a list"),
    (AgentAction, {"id": "1", "kind": "dance", "case": 1}, "AgentAction.kind: 'dance' is not a valid ActionKind"),
    (AgentAction, {"id": "1", "kind": "reply", "case": True}, "AgentAction.case: expected int, got bool"),
    (DeliveryReport, {"id": "1", "message_id": "m"}, "DeliveryReport: DeliveryReport.__init__() missing 1 required "
                                                     "positional argument: 'channel'"),
    (OutboundMessage, {"id": "1", "channel": "t", "address": "a", "text": "x", "case": 1.5},
     "OutboundMessage.case: expected int, got float"),
])
def test_malformed_payloads_still_say_what_is_wrong(cls: type, payload: dict[str, Any], error: str) -> None:
    with pytest.raises(PayloadError) as raised:
        from_dict(cls, payload)
    assert str(raised.value) == error == outcome(reference.from_dict, cls, payload)[1]


def test_a_class_is_planned_once() -> None:
    payload = {"id": "1", "channel": "t", "address": "a", "sender": {"id": "s"}}
    from_dict(InboundMessage, payload)
    plan = messages._PLANS[InboundMessage]
    from_dict(InboundMessage, payload)
    assert messages._PLANS[InboundMessage] is plan


def _orjson_writes(payload: Any) -> bool:
    try:
        orjson.dumps(payload, option=orjson.OPT_NON_STR_KEYS)
    except (orjson.JSONEncodeError, TypeError):
        return False
    return True
