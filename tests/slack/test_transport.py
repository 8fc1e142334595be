"""Slack's transports and the customer side: Socket Mode acks, signed HTTP requests, retries, DMs, payloads."""

from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import parse_qs, unquote

import aiohttp
import pytest

from bot.app import Helpline
from channels.slack import create
from channels.slack.adapter import SlackChannel
from router.messages import InboundMessage, from_json
from router.worker import StreamWorker
from tests.slack.conftest import (
    CUSTOMERS,
    DM,
    EVE,
    SECRET,
    TEAMS,
    block_action,
    dispatch,
    event_body,
    message_event,
    slack_section,
    slash,
)
from tests.slack.fake_slack import BOT_USER, FakeSlack, form_body, signed_headers

PAYLOADS = Path("/work/shared/data/slack/opsdroid_payloads")


async def inbox(helpline: Helpline) -> list[InboundMessage]:
    return [from_json(InboundMessage, fields["data"]) for _, fields in
            await helpline.redis.xrange(helpline.keys.inbox) if fields.get("kind") == "message"]


async def post(url: str, body: bytes, headers: dict[str, str], content_type: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session:
        async with session.post(url, data=body, headers={**headers, "Content-Type": content_type}) as response:
            return response.status, await response.text()


async def test_customer_dm_is_answered_from_the_faq_with_buttons(
        desk_helpline: Helpline, worker: StreamWorker, slack: SlackChannel, fake: FakeSlack) -> None:
    await dispatch(slack, event_body(message_event(DM, EVE, "How long does delivery take?")))
    [message] = await inbox(desk_helpline)
    assert message.channel == "slack" and message.address == f"{DM}:" and message.sender.name == "Eve"
    assert message.platform_id.startswith(f"{DM}:")
    await worker.drain()
    await desk_helpline.channel_sender(slack, block_ms=10).drain()
    answer, question = fake.posts(DM)[-2:]
    assert "thread_ts" not in answer and "day" in answer["text"].lower()
    buttons = question["blocks"][-1]["elements"]
    assert [button["value"] for button in buttons] == ["yes", "no"]
    await dispatch(slack, block_action(EVE, DM, "hl_option", "yes", message_ts="9.1"))
    pressed = (await inbox(desk_helpline))[-1]
    assert pressed.option == "yes" and pressed.text == "" and pressed.address == f"{DM}:"


async def test_mention_in_a_customer_channel_is_answered_in_its_thread(
        desk_helpline: Helpline, worker: StreamWorker, slack: SlackChannel, fake: FakeSlack) -> None:
    mention = message_event(CUSTOMERS, EVE, f"<@{BOT_USER}> how many days is shipping", type="app_mention")
    await dispatch(slack, event_body(mention))
    await dispatch(slack, event_body(message_event(CUSTOMERS, EVE, f"<@{BOT_USER}> how many days is shipping",
                                                   ts=mention["ts"])))  # the same message as a message event
    await dispatch(slack, event_body(message_event(CUSTOMERS, EVE, "chatter, not for us")))
    [message] = await inbox(desk_helpline)
    assert message.address == f"{CUSTOMERS}:{mention['ts']}" and message.text == "how many days is shipping"
    await worker.drain()
    await desk_helpline.channel_sender(slack, block_ms=10).drain()
    assert fake.posts(CUSTOMERS)[-1]["thread_ts"] == mention["ts"]
    # A follow-up in that thread, without a mention, continues the conversation.
    await dispatch(slack, event_body(message_event(CUSTOMERS, EVE, "thanks", thread_ts=mention["ts"])))
    assert (await inbox(desk_helpline))[-1].address == f"{CUSTOMERS}:{mention['ts']}"


async def test_edits_and_own_messages(desk_helpline: Helpline, slack: SlackChannel) -> None:
    original = message_event(DM, EVE, "helo")
    edit = {"type": "message", "subtype": "message_changed", "channel": DM, "channel_type": "im",
            "ts": f"{time.time():.6f}", "message": {**original, "text": "hello", "edited": {"user": EVE, "ts": "5.0"}},
            "previous_message": original}
    await dispatch(slack, event_body(edit))
    for own in (message_event(DM, BOT_USER, "echo"), {**message_event(DM, "", "bot"), "bot_id": "B1"},
                {**message_event(DM, "U1", "x"), "subtype": "bot_message"}):
        await dispatch(slack, event_body(own))
    [message] = await inbox(desk_helpline)
    assert message.text == "hello" and message.reply_to == f"{DM}:{original['ts']}"


async def test_retried_events_change_nothing(desk_helpline: Helpline, slack: SlackChannel) -> None:
    body = event_body(message_event(DM, EVE, "once"), event_id="Ev0RETRY1")
    for _ in range(3):
        response = await dispatch(slack, body)
        assert response.status == 200
    assert len(await inbox(desk_helpline)) == 1


async def test_http_mode_checks_signatures(desk_helpline: Helpline, http_slack: tuple[SlackChannel, str]) -> None:
    _, url = http_slack
    body = json.dumps(event_body(message_event(DM, EVE, "signed"), event_id="Ev0HTTP1")).encode()
    status, _ = await post(url, body, signed_headers(body, "wrong-secret"), "application/json")
    assert status == 401
    status, _ = await post(url, body, signed_headers(body, SECRET, timestamp=int(time.time()) - 3600),
                           "application/json")
    assert status == 401
    assert await inbox(desk_helpline) == []
    status, _ = await post(url, body, signed_headers(body, SECRET), "application/json")
    assert status == 200
    retry = {**signed_headers(body, SECRET), "X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    status, _ = await post(url, body, retry, "application/json")
    assert status == 200
    assert [message.text for message in await inbox(desk_helpline)] == ["signed"]


async def test_http_slash_command_and_url_verification(http_slack: tuple[SlackChannel, str]) -> None:
    _, url = http_slack
    body = b'{"token": "x", "type": "url_verification", "challenge": "abc"}'
    status, text = await post(url, body, signed_headers(body, SECRET), "application/json")
    assert status == 200 and "abc" in text
    command = "&".join(f"{key}={value}" for key, value in slash(EVE, "C0RANDOM", "help").items()).encode()
    status, text = await post(url, command, signed_headers(command, SECRET), "application/x-www-form-urlencoded")
    assert status == 200 and "/helpline queue" in json.loads(text)["text"]


@pytest.mark.parametrize("path", sorted(PAYLOADS.glob("payload_*")), ids=lambda path: path.name)
async def test_every_captured_payload_is_accepted(path: Path, http_slack: tuple[SlackChannel, str],
                                                  caplog: pytest.LogCaptureFixture) -> None:
    _, url = http_slack
    body = path.read_bytes()
    if path.suffix == ".json":
        status, _ = await post(url, body, signed_headers(body, SECRET), "application/json")
    else:
        if not parse_qs(body.decode()):
            # This capture is url-encoded twice: as it is, it must be refused cleanly, never crash.
            status, _ = await post(url, body, signed_headers(body, SECRET), "application/x-www-form-urlencoded")
            assert status < 500
            body = unquote(body.decode().strip()).encode()
        status, _ = await post(url, body, signed_headers(body, SECRET), "application/x-www-form-urlencoded")
    assert status == 200
    assert not [record for record in caplog.records if record.levelname == "ERROR"]


async def test_socket_mode_acks_after_the_inbox(fake: FakeSlack, desk_helpline: Helpline) -> None:
    channel = create(slack_section(fake), desk_helpline.channel_context(), TEAMS)
    await channel.start()
    try:
        envelope = await fake.send_envelope("events_api", event_body(message_event(DM, EVE, "over the socket")))
        await fake.ack_of(envelope)
        assert [message.text for message in await inbox(desk_helpline)] == ["over the socket"]
        envelope = await fake.send_envelope("slash_commands", slash(EVE, "C0RANDOM", "nonsense"))
        assert "/helpline queue" in (await fake.ack_of(envelope))["payload"]["text"]
        envelope = await fake.send_envelope("interactive", json.loads(
            parse_qs((PAYLOADS / "payload_block_action_overflow.urlencoded").read_text())["payload"][0]))
        await fake.ack_of(envelope)
    finally:
        await channel.stop()
    assert fake.called("apps.connections.open")


async def test_form_body_helper_round_trips() -> None:
    assert json.loads(parse_qs(form_body({"a": 1}).decode())["payload"][0]) == {"a": 1}
