"""sendMessage as a direct Bot API call (channels/telegram/bot_api.py): what Telegram answers, read as
python-telegram-bot read it, and mapped by the channel to the same delivery results."""

from __future__ import annotations

import asyncio
import html
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st
from redis.asyncio import Redis

from channels.base import PermanentDeliveryError, TemporaryDeliveryError
from channels.telegram.adapter import TelegramChannel
from channels.telegram.bot_api import BotApi, Timeouts, read_reply
from channels.telegram.errors import BotApiError, NetworkError
from router.messages import OutboundMessage, QuickReply
from tests.telegram.conftest import inbox, inbox_context, telegram_settings, wait_until
from tests.telegram.fake_bot_api import TOKEN, FakeBotApi

CHAT = 5551


def outbound(text: str, address: str = str(CHAT), message_id: str = "01OUT", **extra: Any) -> OutboundMessage:
    return OutboundMessage(id=message_id, channel="telegram", address=address, text=text, **extra)


def _reply(value: Any) -> bytes:
    return json.dumps(value).encode()


# -------------------------------------------------------------------------------------------- the answers


def test_an_ok_answer_gives_its_result() -> None:
    assert read_reply(200, _reply({"ok": True, "result": {"message_id": 7}})) == {"message_id": 7}


def test_an_error_answer_is_read_as_ptb_reads_it() -> None:
    with pytest.raises(BotApiError) as raised:
        read_reply(400, _reply({"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}))
    assert (raised.value.status, raised.value.description) == (400, "chat not found")  # PTB drops the prefix too
    assert raised.value.retry_after is None and raised.value.migrate_to_chat_id is None
    with pytest.raises(BotApiError) as raised:
        read_reply(429, _reply({"ok": False, "description": "Too Many Requests: retry after 3",
                                "parameters": {"retry_after": 3}}))
    assert raised.value.retry_after == 3.0
    with pytest.raises(BotApiError) as raised:
        read_reply(400, _reply({"ok": False, "description": "Bad Request: group chat was upgraded to a supergroup",
                                "parameters": {"migrate_to_chat_id": -1009}}))
    assert raised.value.migrate_to_chat_id == -1009
    with pytest.raises(BotApiError) as raised:  # nonsense parameters are no instructions
        read_reply(429, _reply({"ok": False, "parameters": {"retry_after": True, "migrate_to_chat_id": "x"}}))
    assert raised.value.retry_after is None and raised.value.migrate_to_chat_id is None
    assert raised.value.description == "Unknown HTTPError"


def test_a_body_that_is_not_the_bot_apis_is_no_answer() -> None:
    for status, body in ((502, b"<html>Bad Gateway</html>"), (200, b"[1, 2]"), (200, b"")):
        with pytest.raises(NetworkError):
            read_reply(status, body)


@given(st.integers(100, 599), st.one_of(st.binary(max_size=200), st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(
        ["ok", "result", "description", "parameters", "retry_after", "migrate_to_chat_id"]), inner, max_size=4),
    max_leaves=10).map(lambda value: json.dumps(value).encode())))
def test_any_answer_is_a_result_or_one_of_the_two_errors(status: int, body: bytes) -> None:
    try:
        read_reply(status, body)
    except BotApiError as error:
        assert error.retry_after is None or error.retry_after >= 0
    except NetworkError:
        pass


# ------------------------------------------------------------------------------------------ through the channel


@pytest.fixture
async def channels(fake: FakeBotApi, redis: Redis, prefix: str) -> AsyncIterator[Any]:
    made: list[TelegramChannel] = []

    def make(api_url: str | None = None, timeouts: Timeouts | None = None) -> TelegramChannel:
        settings = telegram_settings(fake)
        api = BotApi(f"{api_url}/bot" if api_url else settings.base_url, TOKEN, timeouts=timeouts or Timeouts())
        channel = TelegramChannel(settings, inbox_context(redis, prefix), api=api)
        made.append(channel)
        return channel

    yield make
    for channel in made:
        await channel.stop()


async def test_a_message_goes_as_one_json_request_with_its_buttons_and_reply(fake: FakeBotApi, channels: Any) -> None:
    channel = channels()
    message = outbound("Price < 5 & <b>", reply_to=f"{CHAT}:77",
                       options=(QuickReply("yes", "Yes"), QuickReply("no", "No")))
    assert await channel.deliver(message) == f"{CHAT}:1000"
    [call] = fake.calls_of("sendMessage")
    assert call.content_type == "application/json"
    assert call.params["chat_id"] == CHAT and call.params["parse_mode"] == "HTML"
    assert html.unescape(call.params["text"]) == "Price < 5 & <b>" and "<b>" not in call.params["text"]
    assert [button["text"] for button in call.params["reply_markup"]["inline_keyboard"][0]] == ["Yes", "No"]
    assert call.params["reply_parameters"] == {"message_id": 77, "allow_sending_without_reply": True}


async def test_formatting_refused_goes_again_as_plain_text(fake: FakeBotApi, channels: Any) -> None:
    channel = channels()
    fake.fail_next("sendMessage", 400, "Bad Request: can't parse entities: unsupported start tag")
    await channel.deliver(outbound("a < b & c"))
    [plain] = fake.sent()
    assert plain["text"] == "a < b & c" and "parse_mode" not in plain


async def test_a_group_that_became_a_supergroup_gets_the_message_there(fake: FakeBotApi, channels: Any) -> None:
    channel = channels()
    fake.fail_next("sendMessage", 400, "Bad Request: group chat was upgraded to a supergroup chat",
                   parameters={"migrate_to_chat_id": -1001234})
    assert await channel.deliver(outbound("hello", address="-42")) == "-1001234:1000"
    assert [call.params["chat_id"] for call in fake.calls_of("sendMessage")] == [-42, -1001234]


async def test_a_rejected_token_is_permanent(fake: FakeBotApi, channels: Any) -> None:
    channel = channels()
    fake.fail_next("sendMessage", 401, "Unauthorized")
    with pytest.raises(PermanentDeliveryError, match="token"):
        await channel.deliver(outbound("hello"))


class SlowBotApi(FakeBotApi):
    async def _sendMessage(self, params: dict[str, Any]) -> web.Response:
        await asyncio.sleep(2)
        return await super()._sendMessage(params)


class ProxyPage(FakeBotApi):
    async def _sendMessage(self, params: dict[str, Any]) -> web.Response:
        return web.Response(status=502, text="<html><body>Bad Gateway</body></html>", content_type="text/html")


@pytest.mark.parametrize("peer", ["slow", "proxy", "closed port"])
async def test_no_answer_is_temporary_and_its_reason_holds_no_token(peer: str, channels: Any) -> None:
    if peer == "closed port":
        with socket.socket() as unused:
            unused.bind(("127.0.0.1", 0))
            url = f"http://127.0.0.1:{unused.getsockname()[1]}"  # closed again before the send
        server = None
    else:
        server = await (SlowBotApi() if peer == "slow" else ProxyPage()).start()
        url = server.url
    try:
        channel = channels(api_url=url, timeouts=Timeouts(connect=1.0, pool=1.0, read=0.3))
        with pytest.raises(TemporaryDeliveryError) as raised:
            await channel.deliver(outbound("hello"))
        assert TOKEN not in str(raised.value) and TOKEN.split(":")[1] not in str(raised.value)
        assert "Telegram" in str(raised.value)
    finally:
        if server is not None:
            await server.close()


async def test_one_connection_serves_many_messages(fake: FakeBotApi, channels: Any) -> None:
    channel = channels()
    for index in range(5):
        await channel.deliver(outbound(f"message {index}", message_id=f"01M{index}"))
    assert len(fake.sent()) == 5
    assert channel.api._session is not None and channel.api._session.connector is not None
    assert len(channel.api._session.connector._conns) == 1  # kept alive and reused, not one per message


class FlakyPolls(FakeBotApi):
    """getUpdates: first the connection dies under the request, then a proxy's error page, then as usual."""

    def __init__(self) -> None:
        super().__init__()
        self.faults = ["drop", "proxy"]

    async def _api(self, request: web.Request) -> web.Response:
        if request.match_info.get("method") == "getUpdates" and self.faults:
            fault = self.faults.pop(0)
            if fault == "drop" and request.transport is not None:
                request.transport.close()
            return web.Response(status=502, text="<html>Bad Gateway</html>", content_type="text/html")
        return await super()._api(request)


async def test_polling_goes_on_through_a_dropped_connection_and_a_proxy_page(redis: Redis, prefix: str) -> None:
    flaky = await FlakyPolls().start()
    channel = TelegramChannel(telegram_settings(flaky), inbox_context(redis, prefix))
    try:
        await channel.start()
        await flaky.push({"update_id": 70, "message": {
            "message_id": 9, "date": 1, "text": "still there?", "chat": {"id": CHAT, "type": "private"},
            "from": {"id": CHAT, "is_bot": False, "first_name": "Ann"}}})
        assert await wait_until(lambda: inbox(redis, prefix), timeout=20)
        assert not flaky.faults
        assert TOKEN not in json.dumps(channel.health(), default=str)
    finally:
        await channel.stop()
        await flaky.close()
