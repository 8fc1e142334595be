"""Slack over HTTP: a malformed body is a 400 before anything parses it, an unsigned one a 401; never a 500."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.app import Helpline
from channels.slack.adapter import SlackChannel
from channels.slack.http_body import BadBody, readable_body, signed
from tests.slack.conftest import DM, EVE, SECRET, event_body, message_event
from tests.slack.fake_slack import signed_headers
from tests.slack.test_transport import inbox, post

MALFORMED = [
    (b"{not json", "application/json"),
    (b"\xff\xfe{}", "application/json"),
    (b"[1, 2]", "application/json"),
    (b"[" * 100_000 + b"]" * 100_000, "application/json"),
    (b"{" + b'"a":{' * 100_000 + b"}" * 100_001, "application/json"),
    (b"payload=%7Bbroken", "application/x-www-form-urlencoded"),
    (b"payload=%5B1%5D", "application/x-www-form-urlencoded"),
    (b"payload=" + b"%5B" * 50_000, "application/x-www-form-urlencoded"),
]


@pytest.mark.parametrize(("body", "content_type"), MALFORMED, ids=range(len(MALFORMED)))
async def test_malformed_bodies_are_a_400_signed_or_not(body: bytes, content_type: str,
                                                        http_slack: tuple[SlackChannel, str],
                                                        caplog: pytest.LogCaptureFixture) -> None:
    _, url = http_slack
    status, text = await post(url, body, {}, content_type)
    assert status == 400 and "malformed body" in text
    status, _ = await post(url, body, signed_headers(body, SECRET), content_type)
    assert status == 400
    assert not [record for record in caplog.records if record.levelname == "ERROR" or record.exc_info]


async def test_well_formed_but_unsigned_is_a_401_and_nothing_lands(desk_helpline: Helpline,
                                                                   http_slack: tuple[SlackChannel, str]) -> None:
    _, url = http_slack
    body = json.dumps(event_body(message_event(DM, EVE, "unsigned"))).encode()
    for headers in ({}, {"X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=00"}):
        status, _ = await post(url, body, headers, "application/json")
        assert status == 401
    assert await inbox(desk_helpline) == []


@given(st.binary(max_size=200), st.sampled_from(["application/json", "application/x-www-form-urlencoded", ""]))
def test_any_body_is_readable_or_bad(body: bytes, content_type: str) -> None:
    try:
        text = readable_body(body, content_type)
    except BadBody:
        return
    assert text == body.decode("utf-8")


@given(st.text(max_size=100), st.dictionaries(st.sampled_from(["X-Slack-Request-Timestamp", "X-Slack-Signature",
                                                               "x-slack-signature"]), st.text(max_size=20)))
def test_any_headers_are_signed_or_not(text: str, headers: dict[str, str]) -> None:
    assert signed(text, headers, SECRET) in (True, False)
