"""Bad input never crashes the router, never blocks other messages, and is reported."""

from __future__ import annotations

import json
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from router.messages import (
    AgentAction,
    InboundMessage,
    OutboundMessage,
    PayloadError,
    QuickReply,
    Sender,
    from_json,
    new_id,
    to_json,
)
from router.sanitize import clean_text
from tests.drivers import Customer


async def test_empty_message_gets_a_request_for_words(customer: Customer) -> None:
    replies = await customer.say("   ")
    assert len(replies) == 1 and "words" in replies[0].text


async def test_fifty_thousand_characters_are_shortened_not_fatal(customer: Customer, helpline) -> None:
    replies = await customer.say("where is my parcel " * 2700)
    assert any("shortened" in reply.text for reply in replies)
    transcript = await helpline.redis.xrange(helpline.keys.transcript((await _conversation_id(customer))))
    assert len(transcript[0][1]["text"]) <= helpline.settings.router.max_message_chars + 1


async def test_binary_junk_and_unknown_language_hint(customer: Customer, helpline, worker) -> None:
    junk = os.urandom(3000).decode("utf-8", errors="surrogateescape")
    replies = await customer.say(junk, hint="xx")
    assert replies, "junk got no reply at all"
    assert all(reply.language in helpline.settings.languages for reply in replies)

    other = Customer(helpline, worker)
    replies = await other.say("\x00\x01\x02\ufffe")
    assert len(replies) == 1 and "words" in replies[0].text
    assert (await other.say("How long does delivery take?"))[0].text.startswith("Delivery")
    # An empty message while a case is open is not added to it.
    await other.say("agent")
    assert "words" in (await other.say("\x07"))[0].text


async def test_malformed_inbox_entries_go_to_dead_letters_and_the_rest_flows(customer: Customer, helpline, worker) -> None:
    inbox = helpline.keys.inbox
    await helpline.redis.xadd(inbox, {"kind": "message", "data": "{not json"})
    await helpline.redis.xadd(inbox, {"kind": "message", "data": json.dumps({"id": 5, "channel": []})})
    await helpline.redis.xadd(inbox, {"kind": "teleport", "data": "{}"})
    await helpline.redis.xadd(inbox, {"nothing": "here"})
    replies = await customer.say("How do I change my password?")
    assert replies[0].text.startswith("Open Account")
    dead = await helpline.redis.xrange(helpline.keys.dead_letters)
    assert len(dead) == 4
    assert all(fields["reason"] for _, fields in dead)
    assert "not JSON" in dead[0][1]["reason"]


async def _conversation_id(customer: Customer) -> str:
    return await customer.helpline.redis.get(customer.helpline.keys.address("console", customer.address))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=6),
    max_leaves=20)
message_like = st.fixed_dictionaries({}, optional={
    "id": json_values | st.text(), "channel": json_values | st.text(), "address": json_values | st.text(),
    "sender": json_values | st.fixed_dictionaries({"id": st.text()}), "text": json_values | st.text(),
    "attachments": json_values, "kind": json_values | st.sampled_from(["claim", "reply"]), "case": json_values,
    "options": json_values})


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(json_values, message_like), st.sampled_from([InboundMessage, AgentAction, OutboundMessage]))
def test_stream_payload_parser_raises_only_payload_error(value: object, cls: type) -> None:
    try:
        parsed = from_json(cls, json.dumps(value))
    except PayloadError:
        return
    assert isinstance(parsed, cls)


@settings(max_examples=100)
@given(st.text(), st.text(), st.lists(st.tuples(st.text(min_size=1), st.text()), max_size=3))
def test_outbound_round_trip(text: str, address: str, options: list[tuple[str, str]]) -> None:
    message = OutboundMessage(id=new_id(), channel="console", address=address, text=text,
                              options=tuple(QuickReply(value, label) for value, label in options), case=12)
    assert from_json(OutboundMessage, to_json(message)) == message


@settings(max_examples=100)
@given(st.text(), st.text(max_size=5))
def test_inbound_round_trip(text: str, name: str) -> None:
    message = InboundMessage(id=new_id(), channel="telegram", address="42", sender=Sender("1", name), text=text)
    assert from_json(InboundMessage, to_json(message)) == message


@given(st.text(), st.integers(min_value=100, max_value=500))
def test_clean_text_is_bounded_and_free_of_controls(text: str, limit: int) -> None:
    cleaned, cut = clean_text(text, limit)
    assert len(cleaned) <= limit + 1
    assert cut == (len(cleaned) > 0 and cleaned.endswith("…") and cut)
    assert not any(ord(ch) < 32 and ch not in "\n\t" for ch in cleaned)


def test_new_ids_sort_by_time() -> None:
    earlier, later = new_id(1_700_000_000.0), new_id(1_700_000_000.5)
    assert len(earlier) == 26 and earlier < later
