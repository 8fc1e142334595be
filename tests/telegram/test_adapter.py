"""The Telegram channel against a loopback fake of the Bot API: receiving, confirming, sending, limits."""

from __future__ import annotations

import asyncio
import copy
import html
import json
import logging
import time

import aiohttp
import pytest
from aiohttp import web
from redis.asyncio import Redis

from channels.base import (
    PermanentDeliveryError,
    RetryAfter,
    TemporaryDeliveryError,
    send_with_retries,
)
from channels.telegram.adapter import SECRET_HEADER
from router.messages import Attachment, InboundMessage, OutboundMessage, QuickReply
from tests.telegram.conftest import inbox, wait_until
from tests.telegram.fake_bot_api import TOKEN, FakeBotApi, callback_update, text_update
from tests.telegram.test_convert import CAPTURED

CHAT = 5551


def outbound(text: str, message_id: str = "01OUT", options: tuple[QuickReply, ...] = (),
             address: str = str(CHAT)) -> OutboundMessage:
    return OutboundMessage(id=message_id, channel="telegram", address=address, text=text, options=options)


# ------------------------------------------------------------------------------------------------ receiving


async def test_polling_puts_updates_in_the_inbox_and_keeps_the_offset(fake: FakeBotApi, channel_factory, redis: Redis,
                                                                      prefix: str) -> None:
    await channel_factory()
    await fake.push(text_update(41, "Where is my parcel?", chat_id=CHAT, message_id=7))
    messages = await wait_until(lambda: inbox(redis, prefix))
    assert [(m.text, m.address, m.platform_id, m.sender.name) for m in messages] == [
        ("Where is my parcel?", str(CHAT), f"{CHAT}:7", "Ann Lee")]
    assert await wait_until(lambda: redis.get(f"{prefix}telegram:offset")) == "42"
    await fake.wait_for(lambda: fake.confirmed_offset == 42)


async def test_an_update_is_confirmed_only_after_it_is_in_the_inbox(fake: FakeBotApi, channel_factory, redis: Redis,
                                                                    prefix: str) -> None:
    stored = asyncio.Event()
    release = asyncio.Event()

    async def slow_submit(message: InboundMessage) -> None:
        stored.set()
        await release.wait()
        await redis.xadd(f"{prefix}inbox", {"kind": "message", "data": "{}"})

    await channel_factory(submit=slow_submit)
    await fake.push(text_update(10, "hello"))
    await asyncio.wait_for(stored.wait(), 10)
    await asyncio.sleep(0.3)
    assert fake.confirmed_offset < 11 and await redis.get(f"{prefix}telegram:offset") is None
    release.set()
    await fake.wait_for(lambda: fake.confirmed_offset == 11)


async def test_crash_before_the_inbox_the_update_comes_again_and_is_handled_once(
        fake: FakeBotApi, channel_factory, redis: Redis, prefix: str, helpline, worker) -> None:
    async def hangs(message: InboundMessage) -> None:
        await asyncio.Event().wait()  # the process dies while storing

    first = await channel_factory(submit=hangs, stop_grace_seconds=0.2)
    await fake.push(text_update(20, "/help", message_id=3))
    await fake.wait_for(lambda: len(fake.calls_of("getUpdates")) >= 1 and fake.updates)
    await asyncio.sleep(0.3)
    await first.stop()
    assert fake.confirmed_offset < 21

    # Stored, then killed before the offset was saved: the update comes a second time.
    async def stores_then_hangs(message: InboundMessage) -> None:
        await helpline.channel_context().submit(message)
        await asyncio.Event().wait()

    second = await channel_factory(submit=stores_then_hangs, stop_grace_seconds=0.2)
    await wait_until(lambda: inbox(redis, prefix))
    await second.stop()
    assert await redis.get(f"{prefix}telegram:offset") is None

    await channel_factory(submit=helpline.channel_context().submit)
    await fake.wait_for(lambda: fake.confirmed_offset == 21)
    assert [m.platform_id for m in await inbox(redis, prefix)] == ["5551:3", "5551:3"]
    await worker.drain()
    replies = await redis.xrange(helpline.keys.outbox("telegram"))
    assert len(replies) == 1, "a repeated update must change nothing"


async def test_the_offset_is_saved_once_per_batch(fake: FakeBotApi, channel_factory, redis: Redis,
                                                 prefix: str) -> None:
    saves: list[str] = []
    channel = await channel_factory(start=False)
    original_set = redis.set

    async def counting_set(name: str, *args, **kwargs):
        if name == f"{prefix}telegram:offset":
            saves.append(str(args[0]))
        return await original_set(name, *args, **kwargs)

    redis.set = counting_set  # type: ignore[method-assign]  # the real Redis, its offset writes counted
    try:
        await fake.push(*(text_update(60 + index, f"message {index}", chat_id=7000 + index, message_id=index)
                          for index in range(5)))
        await channel.start()
        await fake.wait_for(lambda: fake.confirmed_offset == 65)
    finally:
        redis.set = original_set  # type: ignore[method-assign]
    assert len(await inbox(redis, prefix)) == 5
    assert saves == ["65"], "one batch of five updates, one offset write"


async def test_crash_in_the_middle_of_a_batch_loses_nothing_and_answers_nothing_twice(
        fake: FakeBotApi, channel_factory, redis: Redis, prefix: str, helpline, worker) -> None:
    # Two of a batch of three are in the inbox when the process dies, before the batch's offset is saved.
    stored = 0

    async def stores_two_then_hangs(message: InboundMessage) -> None:
        nonlocal stored
        if stored == 2:
            await asyncio.Event().wait()
        await helpline.channel_context().submit(message)
        stored += 1

    chats = (6101, 6102, 6103)
    await fake.push(*(text_update(70 + index, "/help", chat_id=chat, message_id=index + 1)
                      for index, chat in enumerate(chats)))
    first = await channel_factory(submit=stores_two_then_hangs, stop_grace_seconds=0.2)
    await wait_until(lambda: _at_least(inbox(redis, prefix), 2))
    await asyncio.sleep(0.2)
    await first.stop()
    assert fake.confirmed_offset < 73
    # A graceful stop saves the offset of what reached the inbox; a kill -9 leaves the one from before the
    # batch (here none): as if the process had died before its end-of-batch save.
    assert await redis.get(f"{prefix}telegram:offset") == "72"
    await redis.delete(f"{prefix}telegram:offset")

    # The whole batch comes again; the two stored before are stored a second time.
    await channel_factory(submit=helpline.channel_context().submit)
    await fake.wait_for(lambda: fake.confirmed_offset == 73)
    assert await wait_until(lambda: redis.get(f"{prefix}telegram:offset")) == "73"
    assert sorted(m.platform_id for m in await inbox(redis, prefix)) == [
        "6101:1", "6101:1", "6102:2", "6102:2", "6103:3"]
    await worker.drain()
    replies = [json.loads(fields["data"]) for _, fields in await redis.xrange(helpline.keys.outbox("telegram"))]
    assert sorted(reply["address"] for reply in replies) == [str(chat) for chat in chats], \
        "each customer answered once: nothing lost, nothing twice"


async def test_a_restart_resumes_from_the_stored_offset(fake: FakeBotApi, channel_factory, redis: Redis,
                                                        prefix: str) -> None:
    await redis.set(f"{prefix}telegram:offset", 500)
    await channel_factory()
    call = await fake.wait_for(lambda: fake.calls_of("getUpdates"))
    assert call[0].params["offset"] == 500


async def test_button_press_becomes_an_option_and_is_answered(fake: FakeBotApi, channel_factory, redis: Redis,
                                                              prefix: str) -> None:
    channel = await channel_factory()
    long_value = "pick:" + "entry-with-a-very-long-identifier-" * 3
    await channel.deliver(outbound("Did you mean?", options=(QuickReply(long_value, "That one"),)))
    token = fake.sent()[0]["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    assert len(token.encode()) <= 64
    await fake.push(callback_update(30, "rate:4"), callback_update(31, token))
    messages = await wait_until(lambda: _at_least(inbox(redis, prefix), 2))
    assert [(m.option, m.text) for m in messages] == [("rate:4", ""), (long_value, "")]
    answered = await fake.wait_for(lambda: len(fake.calls_of("answerCallbackQuery")) == 2)
    assert answered
    assert [c.params["callback_query_id"] for c in fake.calls_of("answerCallbackQuery")] == ["cbq30", "cbq31"]
    # The pressed messages lose their buttons: an edit with no reply_markup.
    edits = await fake.wait_for(lambda: len(fake.calls_of("editMessageReplyMarkup")) == 2
                                and fake.calls_of("editMessageReplyMarkup"))
    assert [(int(c.params["chat_id"]), int(c.params["message_id"])) for c in edits] == [(5551, 1000), (5551, 1000)]
    assert all(not c.params.get("reply_markup") for c in edits)


async def test_a_failed_button_removal_is_only_logged(fake: FakeBotApi, channel_factory, redis: Redis, prefix: str,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    await channel_factory()
    fake.fail_next("editMessageReplyMarkup", 400, "Bad Request: message is not modified")
    with caplog.at_level(logging.INFO, logger="channels.telegram.adapter"):
        await fake.push(callback_update(40, "rate:5", message_id=1200), callback_update(41, "rate:4", message_id=1201))
        await fake.wait_for(lambda: len(fake.calls_of("editMessageReplyMarkup")) == 2)
        assert [m.option for m in await wait_until(lambda: _at_least(inbox(redis, prefix), 2))] == ["rate:5", "rate:4"]
    assert "buttons of message 1200 in chat 5551 stay: " in caplog.text and "not modified" in caplog.text
    assert TOKEN not in caplog.text


async def _at_least(messages_coroutine, count: int):
    messages = await messages_coroutine
    return messages if len(messages) >= count else None


async def test_every_captured_update_is_accepted_by_the_polling_loop(fake: FakeBotApi, channel_factory, redis: Redis,
                                                                     prefix: str) -> None:
    if not CAPTURED:
        pytest.skip("the captured updates are not laid out here")
    updates = []
    for number, path in enumerate(CAPTURED, start=1):
        update = copy.deepcopy(json.loads(path.read_text()))
        update["update_id"] = number
        updates.append(update)
    await channel_factory()
    await fake.push(*updates)
    await fake.wait_for(lambda: fake.confirmed_offset == len(updates) + 1, timeout=20)
    assert await redis.get(f"{prefix}telegram:offset") == str(len(updates) + 1)
    assert len(await inbox(redis, prefix)) >= 10
    callbacks = sum(1 for update in updates if "callback_query" in update)
    await fake.wait_for(lambda: len(fake.calls_of("answerCallbackQuery")) == callbacks)


async def test_getupdates_conflict_and_server_errors_do_not_stop_polling(fake: FakeBotApi, channel_factory,
                                                                         redis: Redis, prefix: str) -> None:
    fake.fail_next("getUpdates", 502, "Bad Gateway")
    await channel_factory()
    await fake.push(text_update(60, "still there?"))
    assert await wait_until(lambda: inbox(redis, prefix), timeout=15)


async def test_a_second_poller_is_refused_as_telegram_refuses_it(fake: FakeBotApi, channel_factory) -> None:
    """The fake keeps Telegram's rule (one getUpdates at a time per bot), so a test that polls from two
    processes fails instead of measuring something no real deployment can do."""
    await channel_factory()
    await channel_factory()
    await fake.wait_for(lambda: fake.conflicts > 0)


async def test_a_sending_only_process_never_polls_and_still_sends(fake: FakeBotApi, channel_factory) -> None:
    channel = await channel_factory(receive=False)
    await fake.push(text_update(41, "Where is my parcel?", chat_id=CHAT, message_id=7))
    assert await channel.deliver(outbound("Hello")) is not None
    await asyncio.sleep(0.5)
    assert fake.calls_of("getUpdates") == [] and fake.updates  # nobody took the update
    assert channel.routes() == [] and channel.health()["mode"] == "sending only"


async def test_a_customer_file_can_be_fetched(fake: FakeBotApi, channel_factory) -> None:
    fake.files["doc-1"] = b"%PDF-1.7 invoice"
    channel = await channel_factory()
    assert await channel.fetch_attachment(Attachment("invoice.pdf", "application/pdf", 16, "doc-1")) == \
        b"%PDF-1.7 invoice"
    assert await channel.fetch_attachment(Attachment("no-ref.pdf")) is None


async def test_fetching_a_file_maps_failures_and_respects_the_20_mb_limit(fake: FakeBotApi, channel_factory) -> None:
    channel = await channel_factory()
    with pytest.raises(PermanentDeliveryError, match="20 MB"):
        await channel.fetch_attachment(Attachment("film.mp4", "video/mp4", 21 * 1024 * 1024, "big-1"))
    assert fake.calls_of("getFile") == []  # not even asked
    with pytest.raises(PermanentDeliveryError, match="(?i)invalid file_id"):
        await channel.fetch_attachment(Attachment("gone.jpg", "image/jpeg", 10, "gone"))
    fake.fail_next("getFile", 502, "Bad Gateway")
    with pytest.raises(TemporaryDeliveryError):
        await channel.fetch_attachment(Attachment("later.jpg", "image/jpeg", 10, "later"))
    fake.fail_next("getFile", 429, "Too Many Requests: retry after 3", retry_after=3)
    with pytest.raises(RetryAfter) as waited:
        await channel.fetch_attachment(Attachment("later.jpg", "image/jpeg", 10, "later"))
    assert waited.value.seconds == 3


# -------------------------------------------------------------------------------------------------- webhook


async def serve_routes(channel) -> tuple[web.AppRunner, str]:
    app = web.Application()
    for method, path, handler in channel.routes():
        app.router.add_route(method, path, handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    return runner, f"http://127.0.0.1:{port}"


async def test_webhook_refuses_a_wrong_secret_and_accepts_the_right_one(fake: FakeBotApi, channel_factory,
                                                                         redis: Redis, prefix: str) -> None:
    channel = await channel_factory(mode="webhook", webhook_secret="s3cr3t-Token_x")
    assert not fake.calls_of("getUpdates")
    runner, base = await serve_routes(channel)
    try:
        async with aiohttp.ClientSession() as session:
            url = f"{base}/telegram/webhook"
            update = text_update(70, "hi from a webhook")
            for headers in ({}, {SECRET_HEADER: "wrong"}, {SECRET_HEADER: "s3cr3t-Token_"}):
                async with session.post(url, json=update, headers=headers) as response:
                    assert response.status == 403
            assert await inbox(redis, prefix) == []
            async with session.post(url, json=update, headers={SECRET_HEADER: "s3cr3t-Token_x"}) as response:
                assert response.status == 200
            assert [m.text for m in await inbox(redis, prefix)] == ["hi from a webhook"]
            async with session.post(url, data=b"{not json", headers={SECRET_HEADER: "s3cr3t-Token_x"}) as response:
                assert response.status == 400
    finally:
        await runner.cleanup()


async def test_webhook_answers_200_only_after_the_inbox(fake: FakeBotApi, channel_factory) -> None:
    async def redis_down(message: InboundMessage) -> None:
        raise ConnectionError("Redis is down")

    channel = await channel_factory(submit=redis_down, mode="webhook", webhook_secret="abc")
    runner, base = await serve_routes(channel)
    try:
        async with aiohttp.ClientSession() as session, session.post(
                f"{base}/telegram/webhook", json=text_update(71, "hi"), headers={SECRET_HEADER: "abc"}) as response:
            assert response.status >= 500  # Telegram sends it again later
    finally:
        await runner.cleanup()


# -------------------------------------------------------------------------------------------------- sending


async def test_text_with_markup_characters_is_delivered_intact(fake: FakeBotApi, channel_factory) -> None:
    channel = await channel_factory(start=False)
    text = "Price < 5 & > 2 — *not bold* _not italic_ <b>tags</b> `code` 😀"
    platform_id = await channel.deliver(outbound(text))
    sent = fake.sent()
    assert len(sent) == 1 and sent[0]["parse_mode"] == "HTML"
    assert html.unescape(sent[0]["text"]) == text and "<b>" not in sent[0]["text"]
    assert platform_id == f"{CHAT}:1000"


async def test_a_ten_thousand_character_reply_arrives_in_pieces_once(fake: FakeBotApi, channel_factory) -> None:
    channel = await channel_factory(start=False)
    text = ("All about your order. " * 500)[:10_000]
    fake.fail_next("sendMessage", 500, "Internal Server Error")
    message = outbound(text, options=(QuickReply("yes", "Yes"), QuickReply("no", "No")))
    outcome = await send_with_retries(lambda: channel.deliver(message), sleep=_no_sleep)
    assert outcome.delivered and outcome.attempts == 2
    sent = fake.sent()
    assert len(sent) == 3
    assert all(len(html.unescape(piece["text"])) <= 4096 for piece in sent)
    assert "".join(html.unescape(piece["text"]) for piece in sent) == text
    assert "reply_markup" in sent[-1]
    # A retry after the second piece failed does not send the first again.
    fake.calls.clear()
    fake.fail_next("sendMessage", 502, "Bad Gateway")
    other = outbound("x " * 5000, message_id="01OTHER")
    outcome = await send_with_retries(lambda: channel.deliver(other), sleep=_no_sleep)
    assert outcome.delivered
    assert "".join(html.unescape(piece["text"]) for piece in fake.sent()) == "x " * 5000


async def _no_sleep(seconds: float) -> None:
    return None


async def test_429_retry_after_is_honoured(fake: FakeBotApi, channel_factory) -> None:
    channel = await channel_factory(start=False)
    fake.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    with pytest.raises(RetryAfter) as raised:
        await channel.deliver(outbound("hello"))
    assert raised.value.seconds == 1.0
    started = time.monotonic()
    fake.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    outcome = await send_with_retries(lambda: channel.deliver(outbound("hello again", "01B")))
    assert outcome.delivered and outcome.attempts == 2
    assert time.monotonic() - started >= 1.0
    assert [html.unescape(p["text"]) for p in fake.sent()] == ["hello again"]


async def test_server_errors_are_temporary_and_a_block_is_permanent(fake: FakeBotApi, channel_factory) -> None:
    channel = await channel_factory(start=False)
    fake.fail_next("sendMessage", 503, "Service Unavailable")
    with pytest.raises(TemporaryDeliveryError):
        await channel.deliver(outbound("hello"))
    fake.blocked_chats.add(CHAT)
    with pytest.raises(PermanentDeliveryError) as raised:
        await channel.deliver(outbound("hello"))
    assert raised.value.close_conversation and "blocked" in raised.value.reason
    fake.fail_next("sendMessage", 400, "Bad Request: chat not found")
    with pytest.raises(PermanentDeliveryError):
        await channel.deliver(outbound("hi", address="777"))


async def test_pacing_spaces_one_chat_without_stalling_others(fake: FakeBotApi, channel_factory) -> None:
    channel = await channel_factory(start=False, chat_interval=0.6)
    started = time.monotonic()
    done: dict[str, float] = {}

    async def send(text: str, address: str) -> None:
        await channel.deliver(outbound(text, message_id=text, address=address))
        done[text] = time.monotonic() - started

    await asyncio.gather(send("a1", "1"), send("a2", "1"), send("b1", "2"))
    assert done["a2"] >= 0.55
    assert done["b1"] < 0.4 and done["a1"] < 0.4


async def test_forum_topic_replies_go_to_the_topic(fake: FakeBotApi, channel_factory) -> None:
    channel = await channel_factory(start=False)
    await channel.deliver(outbound("In your topic", address="-1001234:55"))
    assert fake.sent()[0]["chat_id"] == -1001234 and fake.sent()[0]["message_thread_id"] == 55

