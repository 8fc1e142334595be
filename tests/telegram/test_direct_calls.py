"""The calls python-telegram-bot used to make, now straight to the Bot API (channels/telegram/bot_api.py): getMe,
answerCallbackQuery, editMessageReplyMarkup, getFile and the download, setWebhook and deleteWebhook."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from redis.asyncio import Redis

import channels.telegram.adapter as adapter
from channels.base import PermanentDeliveryError, TemporaryDeliveryError
from channels.telegram.adapter import TelegramChannel, delete_webhook, set_webhook
from channels.telegram.bot_api import BotApi
from channels.telegram.convert import BotIdentity
from channels.telegram.errors import FileTooBig
from router.messages import Attachment
from tests.conftest import REPO
from tests.telegram.conftest import inbox, inbox_context, telegram_settings, wait_until
from tests.telegram.fake_bot_api import BOT_USER, TOKEN, FakeBotApi, callback_update
from tests.telegram.test_flow import helpline_cli

# ------------------------------------------------------------------------------------------------- getMe


async def test_the_bot_knows_who_it_is_from_getme(fake: FakeBotApi, channel_factory) -> None:  # noqa: ANN001
    channel = await channel_factory(receive=False)
    assert channel.identity == BotIdentity(id=BOT_USER["id"], username=BOT_USER["username"])
    assert len(fake.calls_of("getMe")) == 1
    await channel.start()  # known once: not asked again
    assert len(fake.calls_of("getMe")) == 1


async def test_a_failed_getme_is_logged_and_tried_again_before_receiving(
        fake: FakeBotApi, channel_factory, redis: Redis, prefix: str,  # noqa: ANN001
        caplog: pytest.LogCaptureFixture) -> None:
    fake.fail_next("getMe", 502, "Bad Gateway")
    with caplog.at_level(logging.INFO, logger="channels.telegram.adapter"):
        channel = await channel_factory()
    assert "getMe failed (Bad Gateway (502)); trying again before receiving" in caplog.text
    assert "bot not reached yet" in caplog.text and channel.identity is None
    await fake.push(callback_update(80, "rate:5"))
    assert await wait_until(lambda: inbox(redis, prefix))
    assert channel.identity is not None and channel.identity.username == "helpline_test_bot"
    assert len(fake.calls_of("getMe")) == 2


async def test_a_rejected_token_at_start_is_named_on_the_health(fake: FakeBotApi, channel_factory) -> None:  # noqa: ANN001
    fake.token = "654321:another-bots-token"  # the channel's token is now unknown to this Bot API

    async def named() -> bool:
        return "rejected the bot token" in str(channel.health().get("last_error"))

    channel = await channel_factory()
    await wait_until(named)
    assert TOKEN not in str(channel.health())


# ------------------------------------------------------------------------------------ the buttons' calls


async def test_a_failed_callback_answer_is_logged_and_the_press_still_counts(
        fake: FakeBotApi, channel_factory, redis: Redis, prefix: str,  # noqa: ANN001
        caplog: pytest.LogCaptureFixture) -> None:
    await channel_factory()
    fake.fail_next("answerCallbackQuery", 400, "Bad Request: query is too old and response timeout expired")
    with caplog.at_level(logging.INFO, logger="channels.telegram.adapter"):
        await fake.push(callback_update(81, "rate:3", message_id=1300))
        [message] = await wait_until(lambda: inbox(redis, prefix))
        await fake.wait_for(lambda: fake.calls_of("editMessageReplyMarkup"))
    assert message.option == "rate:3"
    assert "answerCallbackQuery cbq81 failed: query is too old" in caplog.text
    [edit] = fake.calls_of("editMessageReplyMarkup")  # the buttons go all the same
    assert (edit.params["chat_id"], edit.params["message_id"]) == (5551, 1300) and "reply_markup" not in edit.params
    [answer] = fake.calls_of("answerCallbackQuery")
    assert answer.content_type == "application/json" and answer.params == {"callback_query_id": "cbq81"}


# ------------------------------------------------------------------------------------------------- files


async def test_a_file_is_asked_for_then_downloaded_from_the_file_server(fake: FakeBotApi, channel_factory) -> None:  # noqa: ANN001
    fake.files["photo-7"] = bytes(range(256)) * 1000
    channel = await channel_factory(receive=False)
    data = await channel.fetch_attachment(Attachment("photo.jpg", "image/jpeg", 256_000, "photo-7"))
    assert data == fake.files["photo-7"]
    [ask] = fake.calls_of("getFile")
    assert ask.params == {"file_id": "photo-7"}


async def test_a_file_larger_than_getfile_said_is_cut_off_at_the_limit(
        fake: FakeBotApi, channel_factory, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(adapter, "BOT_DOWNLOAD_LIMIT", 64 * 1024)
    channel = await channel_factory(receive=False)
    fake.files["big-1"] = b"x" * (64 * 1024 + 1)
    fake.said_sizes["big-1"] = None  # getFile says no size: the Content-Length tells
    with pytest.raises(PermanentDeliveryError, match="a Telegram bot may download"):
        await channel.fetch_attachment(Attachment("big.bin", "application/octet-stream", 0, "big-1"))
    fake.files["big-2"] = b"y" * (40 * 1024 * 1024)
    fake.said_sizes["big-2"] = 10  # getFile says little, and no Content-Length: the reading stops at the limit
    fake.chunked_files = True
    with pytest.raises(PermanentDeliveryError, match="a Telegram bot may download"):
        await channel.fetch_attachment(Attachment("big.bin", "application/octet-stream", 10, "big-2"))
    assert fake.downloads["big-2"] < len(fake.files["big-2"]), "the rest was never read"
    fake.files["small"] = b"z" * 100  # the same way, a file within the limit arrives whole
    assert await channel.fetch_attachment(Attachment("small.bin", "application/octet-stream", 0, "small")) == \
        b"z" * 100


class ForgetfulFiles(FakeBotApi):
    """getFile answers for any file; the file server has none of them (404), as for a file Telegram dropped."""

    async def _getFile(self, params: dict[str, Any]) -> web.Response:
        file_id = params.get("file_id", "")
        return web.json_response({"ok": True, "result": {"file_id": file_id, "file_unique_id": "u",
                                                         "file_path": f"documents/{file_id}"}})


async def test_a_download_that_fails_is_permanent_or_temporary_as_its_status_says(redis: Redis, prefix: str) -> None:
    forgetful = await ForgetfulFiles().start()
    channel = TelegramChannel(telegram_settings(forgetful, receive=False), inbox_context(redis, prefix))
    try:
        with pytest.raises(PermanentDeliveryError, match=r"Not Found \(404\)"):  # as PTB read it: InvalidToken
            await channel.fetch_attachment(Attachment("gone.jpg", "image/jpeg", 3, "gone"))
        forgetful.fail_next("getFile", 500, "Internal Server Error")
        with pytest.raises(TemporaryDeliveryError, match="Internal Server Error"):
            await channel.fetch_attachment(Attachment("later.jpg", "image/jpeg", 3, "later"))
    finally:
        await channel.stop()
        await forgetful.close()


async def test_download_bounds_on_the_api_itself(fake: FakeBotApi) -> None:
    fake.files["f"] = b"a" * 5000
    api = BotApi(f"{fake.url}/bot", TOKEN)
    try:
        assert await api.download("documents/f", 5000) == b"a" * 5000
        with pytest.raises(FileTooBig):
            await api.download("documents/f", 4999)
    finally:
        await api.close()


# ------------------------------------------------------------------------------------------------ webhooks


async def test_set_and_delete_webhook_post_json_and_say_why_they_fail(fake: FakeBotApi) -> None:
    settings = telegram_settings(fake, mode="webhook", webhook_secret="abc-123")
    await set_webhook(settings, "https://help.example.com/telegram/webhook")
    [call] = fake.calls_of("setWebhook")
    assert call.content_type == "application/json"
    assert fake.webhook == {"url": "https://help.example.com/telegram/webhook", "secret_token": "abc-123",
                            "allowed_updates": ["message", "edited_message", "callback_query"]}
    await delete_webhook(settings)
    assert fake.webhook is None
    with pytest.raises(ValueError, match="webhook_secret"):
        await set_webhook(telegram_settings(fake), "https://help.example.com/telegram/webhook")


async def test_the_cli_says_telegram_refused_without_the_token(fake: FakeBotApi, tmp_path: Path, prefix: str) -> None:
    config = tmp_path / "helpline.yaml"
    config.write_text(yaml.safe_dump({
        "redis": {"prefix": prefix},
        "faq": {"path": str(REPO / "tests" / "fixtures" / "kb")},
        "router": {"messages_path": str(REPO / "config" / "messages")},
        "channels": {"telegram": {"enabled": True, "token": "999:not-this-bots-token", "mode": "webhook",
                                  "webhook_secret": "abc-123", "api_base_url": fake.url}},
    }), encoding="utf-8")
    for args in (("set-webhook", "https://help.example.com/telegram/webhook"), ("delete-webhook",)):
        code, out, err = await helpline_cli(config, "telegram", *args)
        assert code != 0 and "helpline: Telegram refused: Unauthorized (401)" in err, (out, err)
        assert "not-this-bots-token" not in out + err
    assert fake.calls_of("setWebhook") == [] and fake.calls_of("deleteWebhook") == []  # refused at the token
