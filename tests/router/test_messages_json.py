"""The stream JSON written with orjson says what the standard library's did, and reads back the same,
for any text (lone surrogates included) and any number a platform may send."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from router.messages import (
    DeskEvent,
    DeskEventKind,
    HistoryLine,
    InboundMessage,
    OutboundMessage,
    PayloadError,
    QuickReply,
    Sender,
    from_json,
    to_json,
)

TEXT = st.text(max_size=60)  # includes lone surrogates and control characters


def _stdlib(message: object) -> str:
    return json.dumps(asdict(message), ensure_ascii=False, separators=(",", ":"),  # type: ignore[call-overload]
                      default=lambda value: value.value)


@settings(deadline=None)
@given(TEXT, TEXT, st.floats(allow_nan=False, allow_infinity=False), st.one_of(st.none(), st.integers(-2**63, 2**64 - 1)))
def test_outbound_json_reads_as_the_standard_librarys_did(text: str, label: str, at: float, case: int | None) -> None:
    message = OutboundMessage(id="e.1", channel="console", address="a", text=text, options=(QuickReply("v", label),),
                              conversation="c", case=case)
    written = to_json(message)
    written.encode("utf-8")  # always valid UTF-8 for the stream
    assert json.loads(written) == json.loads(_stdlib(message).encode("utf-8", "backslashreplace").decode())
    assert from_json(OutboundMessage, written) == message


@settings(deadline=None)
@given(TEXT, TEXT, st.floats(allow_nan=False, allow_infinity=False))
def test_inbound_round_trip(text: str, name: str, received_at: float) -> None:
    message = InboundMessage(id="m", channel="console", address="a", sender=Sender("s", name), text=text,
                             received_at=received_at)
    assert from_json(InboundMessage, to_json(message)) == message


def test_desk_event_enums_and_nested_lines() -> None:
    event = DeskEvent(id="d", kind=DeskEventKind.CASE_WAITING, case=3, history=(HistoryLine("customer", "hi", 1.5),))
    assert json.loads(to_json(event))["kind"] == "case_waiting"
    assert from_json(DeskEvent, to_json(event)) == event


@pytest.mark.parametrize("data", ["", "{", "[1]", "nul", b"\xff\xfe", '{"id": NaN}', "1" * 5000])
def test_ugly_payloads_are_payload_errors(data: str | bytes) -> None:
    with pytest.raises(PayloadError):
        from_json(InboundMessage, data)
