"""The Telegram channel's network side: long polling or a webhook in, sendMessage out, and the rest (getMe,
button answers, files, webhooks): every one a direct Bot API call (channels/telegram/bot_api.py says why).

Receiving keeps Helpline's rule: Telegram is told an update arrived (the next getUpdates offset, or
the webhook's 200) only after `context.submit` has put it in the inbox. Our own offset lives in
Redis, saved once per getUpdates batch, so a restart resumes where it stopped; an update that comes
twice (a crash in the middle of a batch) carries the same platform id, and the router drops the repeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import html
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from channels.base import (
    ChannelContext,
    PermanentDeliveryError,
    ReceiveLoop,
    RetryAfter,
    Route,
    Supervision,
    TemporaryDeliveryError,
    Watched,
    sleep_unless_stopped,
)
from channels.safe_json import BadJson, loads_bounded
from channels.telegram import errors as tg  # PTB's error classes and names, without PTB
from channels.telegram.bot_api import BotApi, Timeouts, read_updates
from channels.telegram.convert import (
    CHANNEL,
    BotIdentity,
    Skip,
    callback_query_id,
    convert_update,
    is_long_value_token,
    long_values,
    pressed_message,
    render_outbound,
)
from channels.telegram.pacing import Pacer
from channels.telegram.settings import DEFAULT_API_BASE_URL, TelegramSettings
from router.messages import Attachment, InboundMessage, OutboundMessage

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ("message", "edited_message", "callback_query")
OPTION_TTL_SECONDS = 30 * 24 * 3600  # a long button value outlives the message it was offered on
PARTS_TTL_SECONDS = 7 * 24 * 3600
RETRY_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)  # Redis retries of an update in hand: quick at first, then patient
BOT_DOWNLOAD_LIMIT = 20 * 1024 * 1024  # getFile refuses larger files to bots on Telegram's own server


class _Keys:
    """Every Redis key of the Telegram channel (the service's prefix applied by `context.key`)."""

    def __init__(self, context: ChannelContext) -> None:
        self._key = context.key

    @property
    def offset(self) -> str:
        return self._key("telegram:offset")

    def option(self, token: str) -> str:
        return self._key(f"telegram:option:{token}")

    def parts(self, message_id: str) -> str:
        return self._key(f"telegram:parts:{message_id}")


def make_api(settings: TelegramSettings, connections: int = 64, timeouts: Timeouts | None = None) -> BotApi:
    """The Bot API of the configured token and server (api_base_url)."""
    assert settings.token is not None, "the settings check requires a token when the channel is enabled"
    return BotApi(settings.base_url, settings.token.get_secret_value(), base_file_url=settings.base_file_url,
                  connections=connections, timeouts=timeouts or Timeouts())


class TelegramChannel:
    """Telegram customers: updates into the inbox, outbound messages out as Telegram messages."""

    name = CHANNEL

    def __init__(self, settings: TelegramSettings, context: ChannelContext, api: BotApi | None = None) -> None:
        self.settings = settings
        self.context = context
        self.keys = _Keys(context)
        self.api = api if api is not None else make_api(settings)  # every call but getUpdates
        self.pacer = Pacer(settings.chat_interval, settings.group_interval, settings.global_rate)
        self.identity: BotIdentity | None = None
        self._token = settings.token.get_secret_value() if settings.token else ""
        # Long polling has its own HTTP client, so a waiting getUpdates never holds up a send.
        self._poll_api = make_api(settings, connections=1, timeouts=Timeouts(read=settings.poll_timeout + 15.0))
        self._stopping = asyncio.Event()
        self._poller: asyncio.Task[None] | None = None
        self._waiting_for_updates = False
        self._answers: set[asyncio.Task[None]] = set()
        self._offset = 0
        self.received = 0  # updates put in the inbox by polling, for health
        host = urlsplit(settings.api_base_url or DEFAULT_API_BASE_URL).netloc
        self.receiving = ReceiveLoop(
            CHANNEL, context,
            Watched(subject=f"The Telegram Bot API at {host}",
                    while_down="Telegram customers' messages are not being received; Telegram keeps them for "
                               "24 hours and they are fetched once it answers again.",
                    on_recovery="receiving Telegram messages again."),
            Supervision(first_delay=1.0, max_delay=30.0, alert_after=settings.unreachable_after_seconds),
            self._stopping, expected=(tg.TelegramError, OSError, ValueError), describe=self._describe)

    # ------------------------------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Connect; in polling mode start the loop. Telegram being unreachable is retried, not fatal."""
        try:
            await self._ensure_identity()
        except (tg.TelegramError, OSError) as error:
            log.warning("telegram: getMe failed (%s); trying again before receiving", self._safe(error))
        if self.settings.mode == "polling" and self.settings.receive:
            self._poller = asyncio.create_task(self._poll_forever(), name="telegram-polling")
        log.info("Telegram channel started (%s%s)", self.settings.mode if self.settings.receive else "sending only",
                 f", bot @{self.identity.username}" if self.identity else ", bot not reached yet")

    async def stop_receiving(self) -> None:
        """Stop receiving (sending goes on until `stop`); an update in hand gets `stop_grace_seconds` to
        reach the inbox."""
        self._stopping.set()
        if self._poller is not None:
            if self._waiting_for_updates:
                self._poller.cancel()  # unconfirmed updates simply come again next time
            try:
                await asyncio.wait_for(asyncio.shield(self._poller), self.settings.stop_grace_seconds)
            except (TimeoutError, asyncio.CancelledError):
                self._poller.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._poller
            self._poller = None

    async def stop(self) -> None:
        """Stop receiving, then close the connections: once the senders are done (see bot.app.serve), so a
        sendMessage in flight is never cut off, which would leave a reply sent but unmarked."""
        await self.stop_receiving()
        if self._answers:
            await asyncio.wait(self._answers, timeout=5)
        await self._poll_api.close()
        await self.api.close()

    def routes(self) -> list[Route]:
        if self.settings.mode != "webhook" or not self.settings.receive:
            return []
        return [("POST", self.settings.webhook_path, self._webhook)]

    # --------------------------------------------------------------------------------------- inbound

    async def _ensure_identity(self) -> BotIdentity:
        if self.identity is None:
            self.identity = await self.api.get_me()  # a failure leaves it None, to be tried again
        return self.identity

    async def handle_update(self, update: Any) -> InboundMessage | Skip:
        """Convert one update and put it in the inbox; returns once it is there (or skipped)."""
        identity = await self._ensure_identity()
        result = convert_update(update, identity, now=time.time())
        query_id = callback_query_id(update)
        if isinstance(result, Skip):
            log.info("telegram: skipped: %s", result.reason)
        else:
            if result.option and is_long_value_token(result.option):
                value = await self.context.redis.get(self.keys.option(result.option))
                if value is not None:
                    result = replace(result, option=value)
            await self.context.submit(result)
        if query_id is not None:
            pressed = pressed_message(update) if not isinstance(result, Skip) else None
            self._answer_later(query_id, pressed)
        return result

    def _answer_later(self, query_id: str, pressed: tuple[int, int] | None) -> None:
        # Stops the client's spinner; runs beside the next update rather than before it.
        task = asyncio.create_task(self._answer(query_id, pressed))
        self._answers.add(task)
        task.add_done_callback(self._answers.discard)

    async def _answer(self, query_id: str, pressed: tuple[int, int] | None) -> None:
        try:
            await self.api.answer_callback_query(query_id)
        except tg.TelegramError as error:
            log.warning("telegram: answerCallbackQuery %s failed: %s", query_id, self._safe(error))
        if pressed is None:
            return
        # The choice is made and on its way: the buttons go, so an old "did you mean" or rating
        # cannot be pressed again days later and land in another conversation.
        chat_id, message_id = pressed
        try:
            await self.api.remove_buttons(chat_id, message_id)
        except tg.TelegramError as error:
            # "message is not modified" (pressed twice) or too old to edit: the press itself counted.
            log.info("telegram: buttons of message %s in chat %s stay: %s", message_id, chat_id, self._safe(error))

    async def _poll_forever(self) -> None:
        self._offset = int(await self._retrying(lambda: self.context.redis.get(self.keys.offset),
                                                "reading the offset") or 0)
        await self.receiving.run(self._poll_once)

    async def _poll_once(self) -> None:
        """One round of long polling: getUpdates, then each update into the inbox before the offset moves."""
        if self.identity is None:
            await self._ensure_identity()
        self._waiting_for_updates = True
        try:
            updates = await self._get_updates(self._offset)
        except tg.RetryAfter as error:
            raise RetryAfter(error.retry_after, "getUpdates: rate limited by Telegram") from None
        finally:
            self._waiting_for_updates = False
        await self.receiving.up()  # Telegram answered, whatever the updates turn out to be
        saved = self._offset
        try:
            for update in updates:
                update_id = update.get("update_id") if isinstance(update, Mapping) else None
                if not isinstance(update_id, int) or isinstance(update_id, bool):
                    log.warning("telegram: an update without update_id skipped: %.200r", update)
                    continue
                if update_id < self._offset:
                    continue  # already in the inbox
                await self._retrying(lambda update=update: self.handle_update(update), f"update {update_id}")
                self._offset = update_id + 1
                self.received += 1
        finally:
            # Once per batch, not per update (one round trip for up to 100), and before the next getUpdates
            # confirms the batch to Telegram. A crash before it fetches the batch's updates again; each
            # carries the platform id it came with, and the router drops a platform id it has seen.
            if self._offset != saved:
                await self._retrying(lambda offset=self._offset: self.context.redis.set(self.keys.offset, offset),
                                     "saving the offset")

    def _describe(self, error: BaseException) -> str:
        """A polling failure for the log, /healthz and the admins: without the token, with the fix when known."""
        if isinstance(error, tg.Conflict):
            return (f"getUpdates refused ({self._safe(error.description)}): a webhook is set or another process "
                    "polls; run `helpline telegram delete-webhook` or set channels.telegram.mode: webhook")
        if isinstance(error, tg.InvalidToken):
            return "Telegram rejected the bot token: check channels.telegram.token (from @BotFather)"
        return f"{type(error).__name__}: {self._safe(error)}"

    def health(self) -> dict[str, Any]:
        """Polling: whether getUpdates is answered (the shared receive loop's health). Webhook: Telegram
        calls us, so there is nothing to watch from here."""
        if not self.settings.receive:
            return {"channel": CHANNEL, "status": "ok", "mode": "sending only"}
        if self.settings.mode == "webhook":
            return {"channel": CHANNEL, "status": "ok", "mode": "webhook"}
        return {**self.receiving.health(), "mode": "polling", "received": self.received}

    async def _get_updates(self, offset: int) -> list[Any]:
        """One long poll: raw update objects, so a payload that no model of updates knows cannot stall the loop."""
        query = {"timeout": self.settings.poll_timeout, "allowed_updates": json.dumps(ALLOWED_UPDATES)}
        if offset:
            query["offset"] = offset
        try:
            code, payload = await self._poll_api.request("getUpdates", query={k: str(v) for k, v in query.items()})
        except tg.NetworkError as error:  # a timeout, no connection: NetworkError, as PTB's client said it
            raise tg.NetworkError(str(error)) from None
        return read_updates(code, payload)

    async def _retrying(self, step: Any, what: str) -> Any:
        """Run `step` until it succeeds (Redis or getMe down for a while); gives up only when stopping."""
        failures = 0
        while True:
            try:
                return await step()
            except (OSError, ConnectionError, tg.TelegramError) as error:
                failures += 1
                log.warning("telegram: %s failed (%s); trying again", what, self._safe(error))
            except Exception as error:  # noqa: BLE001 - e.g. redis.exceptions: keep the update, keep going
                failures += 1
                log.warning("telegram: %s failed (%s: %s); trying again", what, type(error).__name__, error)
            if self._stopping.is_set():
                raise asyncio.CancelledError  # the update is not confirmed: it comes again after a restart
            await self._pause(RETRY_DELAYS[min(failures, len(RETRY_DELAYS)) - 1])

    async def _pause(self, seconds: float) -> None:
        await sleep_unless_stopped(self._stopping, seconds)

    async def _webhook(self, request: web.Request) -> web.Response:
        expected = self.settings.webhook_secret.get_secret_value() if self.settings.webhook_secret else ""
        given = request.headers.get(SECRET_HEADER, "")
        if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
            log.warning("telegram webhook: refused a request from %s without the right secret token", request.remote)
            return web.Response(status=403, text="forbidden")
        if self._stopping.is_set():
            return web.Response(status=503, text="stopping")  # Telegram tries again later
        try:
            update = loads_bounded(await request.read())
        except BadJson as error:  # also 100,000 nested brackets: a 400, not a RecursionError
            log.warning("telegram webhook: refused a request body from %s: %s", request.remote, error)
            return web.Response(status=400, text=f"bad body: {error}")
        try:
            await self.handle_update(update)
        except Exception as error:  # noqa: BLE001 - not in the inbox: a non-2xx makes Telegram send it again
            log.warning("telegram webhook: update not stored, Telegram will resend it: %s: %s",
                        type(error).__name__, self._safe(error))
            return web.Response(status=503, text="try again")
        return web.Response(status=200)

    # -------------------------------------------------------------------------------------- outbound

    async def deliver(self, message: OutboundMessage) -> str | None:
        """Send `message` as one or more Telegram messages; returns "chat:message_id" of the first."""
        requests = render_outbound(message)
        long = long_values(message)
        if long:
            async with self.context.redis.pipeline(transaction=False) as pipe:
                for token, value in long.items():
                    pipe.set(self.keys.option(token), value, ex=OPTION_TTL_SECONDS)
                await pipe.execute()
        parts_key = self.keys.parts(message.id)
        # A retry after piece 2 of 3 failed must not send piece 1 again.
        sent = await self.context.redis.hgetall(parts_key) if len(requests) > 1 else {}
        first = sent.get("0")
        for index, params in enumerate(requests):
            if str(index) in sent:
                continue
            platform_id = await self._send(params)
            first = first or platform_id
            if len(requests) > 1:
                async with self.context.redis.pipeline(transaction=True) as pipe:
                    pipe.hset(parts_key, str(index), platform_id)
                    pipe.expire(parts_key, PARTS_TTL_SECONDS)
                    await pipe.execute()
        return first

    async def _send(self, params: dict[str, Any]) -> str:
        chat_id = params["chat_id"]
        group = isinstance(chat_id, int) and chat_id < 0
        for _ in range(2):  # a second time only to a supergroup the group became, or as plain text
            await self.pacer.wait(str(chat_id), group)
            try:
                sent = await self.api.call("sendMessage", params)
            except tg.NetworkError as error:  # a timeout, no connection, a proxy's error page
                raise TemporaryDeliveryError(f"Telegram: {self._safe(error)}") from None
            except tg.BotApiError as error:
                if error.migrate_to_chat_id is not None:
                    chat_id = error.migrate_to_chat_id
                    params = {**params, "chat_id": chat_id}
                    continue
                if error.retry_after is not None:
                    self.pacer.hold(str(chat_id), error.retry_after)
                    raise RetryAfter(error.retry_after, f"Telegram: retry after {error.retry_after:g}s") from None
                if error.status == 403:
                    # "bot was blocked by the user", "user is deactivated", "bot was kicked": the chat is gone.
                    raise PermanentDeliveryError(f"Telegram refused: {error.description}",
                                                 close_conversation=True) from None
                if error.status == 400:
                    text = error.description.lower()
                    if "can't parse entities" in text and params.get("parse_mode"):
                        params = {key: value for key, value in params.items() if key != "parse_mode"}
                        params["text"] = html.unescape(params["text"])
                        log.warning("telegram: formatting refused (%s); sending as plain text", error.description)
                        continue
                    raise PermanentDeliveryError(f"Telegram refused: {error.description}",
                                                 close_conversation="chat not found" in text) from None
                if error.status in (401, 404):
                    raise PermanentDeliveryError("Telegram rejected the bot token") from None
                raise TemporaryDeliveryError(f"Telegram: {self._safe(error)}") from None  # 5xx, 409, 429 bare
            return _platform_id(sent, chat_id)
        raise PermanentDeliveryError(f"Telegram: chat {params['chat_id']} migrated more than once")

    async def fetch_attachment(self, attachment: Attachment) -> bytes | None:
        """The bytes of a customer's file (its ref is the file_id), for desks that copy it; None without a ref.

        Bots may download files of up to 20 MB only: a larger one is a PermanentDeliveryError, not tried.
        """
        if not attachment.ref:
            return None
        too_big = PermanentDeliveryError(f"larger than the {BOT_DOWNLOAD_LIMIT // (1024 * 1024)} MB a Telegram "
                                         "bot may download")
        if attachment.size > BOT_DOWNLOAD_LIMIT:
            raise too_big
        try:
            file = await self.api.get_file(attachment.ref)
            if (file.size or 0) > BOT_DOWNLOAD_LIMIT:
                raise too_big
            if file.path is None:
                raise PermanentDeliveryError("Telegram: getFile gave no download path for this file")
            return await self.api.download(file.path, BOT_DOWNLOAD_LIMIT)
        except tg.FileTooBig:  # getFile said less, or nothing: the download stopped at the limit
            raise too_big from None
        except tg.RetryAfter as error:
            raise RetryAfter(error.retry_after, "Telegram: getFile rate limited") from None
        except (tg.BadRequest, tg.Forbidden, tg.InvalidToken) as error:
            # "file is too big", "invalid file_id", a file Telegram no longer has (404 on download)
            raise PermanentDeliveryError(f"Telegram: {self._safe(error)}") from None
        except tg.TelegramError as error:  # NetworkError, TimedOut
            raise TemporaryDeliveryError(f"Telegram file {attachment.name}: {self._safe(error)}") from None

    def _safe(self, error: object) -> str:
        """An error's text without the bot token (a safeguard: none of ours holds it, a server's might)."""
        text = str(error)
        return text.replace(self._token, "<token>") if self._token else text


def _platform_id(sent: Any, chat_id: Any) -> str:
    """"chat:message_id" of a sent Message. Never an error once Telegram said ok: that would send it again."""
    if not isinstance(sent, Mapping):
        return f"{chat_id}:"
    chat = sent.get("chat")
    return f"{chat.get('id', chat_id) if isinstance(chat, Mapping) else chat_id}:{sent.get('message_id', '')}"


async def set_webhook(settings: TelegramSettings, url: str) -> None:
    """Point Telegram at `url` with the configured secret token (`helpline telegram set-webhook`)."""
    if settings.webhook_secret is None:
        raise ValueError("channels.telegram.webhook_secret is not set: Telegram must send it with every update")
    api = make_api(settings)
    try:
        await api.set_webhook(url, settings.webhook_secret.get_secret_value(), ALLOWED_UPDATES)
    finally:
        await api.close()


async def delete_webhook(settings: TelegramSettings) -> None:
    """Remove the webhook, so long polling can receive again (`helpline telegram delete-webhook`)."""
    api = make_api(settings)
    try:
        await api.delete_webhook()
    finally:
        await api.close()


__all__ = ["TelegramChannel", "delete_webhook", "make_api", "set_webhook"]
