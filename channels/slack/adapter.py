"""Slack's network side: the bolt app (Socket Mode or HTTP at /slack/events) and the Web API client.

Every payload Slack sends is taken: handled when we understand it, logged and skipped when not. A
payload is acknowledged only after what it asks for is in the inbox (bolt runs with
`process_before_response`, so the ack is our listener's return); an action's verdict is awaited
afterwards, in the background.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from channels.base import (
    ChannelContext,
    PermanentDeliveryError,
    ReceiveLoop,
    RetryAfter,
    Route,
    Supervision,
    TemporaryDeliveryError,
    Watched,
    send_with_retries,
    sleep_unless_stopped,
)
from channels.slack import convert
from channels.slack.desk import SlackDesk
from channels.slack.http_body import BadBody, readable_body, signed
from channels.slack.replies import load_saved_replies
from channels.slack.settings import SlackSettings
from router.messages import DeskEvent, OutboundMessage

log = logging.getLogger(__name__)

EVENT_DEDUPE_SECONDS = 24 * 3600
CONVERSATION_TTL_SECONDS = 30 * 86400
API_TIMEOUT_SECONDS = 15
UPLOAD_TIMEOUT_SECONDS = 120  # a 20 MB file on a slow uplink
SOCKET_CHECK_SECONDS = 5.0  # how often the Socket Mode connection is checked (the SDK pings every 5 s)
SOCKET_CONNECT_TIMEOUT_SECONDS = 30.0  # apps.connections.open and the WebSocket handshake
_ANY = re.compile(r".*", re.DOTALL)


class SlackApi:
    """Web API calls that fail with the typed delivery errors the service retries on."""

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Call a slack-sdk client method (`chat_postMessage`); errors name Slack's method (`chat.postMessage`)."""
        name = method
        method = method.replace("_", ".")
        try:
            response = await getattr(self.client, name)(**params)
        except SlackApiError as error:
            status = error.response.status_code
            data = error.response.data if isinstance(error.response.data, dict) else {}
            code = str(data.get("error") or f"HTTP {status}")
            if status == 429 or code == "ratelimited":
                retry_after = error.response.headers.get("Retry-After", "1")
                try:
                    seconds = float(retry_after)
                except (TypeError, ValueError):
                    seconds = 1.0
                raise RetryAfter(seconds, f"{method}: rate limited") from None
            if status >= 500 or code in ("internal_error", "fatal_error", "service_unavailable", "request_timeout"):
                raise TemporaryDeliveryError(f"{method}: {code}") from None
            raise PermanentDeliveryError(f"{method}: {code}") from None
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
            raise TemporaryDeliveryError(f"{method}: {type(error).__name__}: {error}") from None
        return dict(response.data) if isinstance(response.data, dict) else {}

    async def upload(self, url: str, data: bytes) -> None:
        """POST a file's bytes to the `upload_url` that files.getUploadURLExternal gave."""
        session = self.client.session
        assert session is not None  # SlackChannel.client() always makes its client with our session
        try:
            async with session.post(url, data=data, timeout=aiohttp.ClientTimeout(total=UPLOAD_TIMEOUT_SECONDS)) \
                    as response:
                body = (await response.text())[:200]
                status = response.status
                retry_after = response.headers.get("Retry-After", "1")
        except (aiohttp.ClientError, TimeoutError) as error:
            raise TemporaryDeliveryError(f"file upload: {type(error).__name__}: {error}") from None
        if status == 429:
            try:
                seconds = float(retry_after)
            except ValueError:
                seconds = 1.0
            raise RetryAfter(seconds, "file upload: rate limited")
        if status >= 500:
            raise TemporaryDeliveryError(f"file upload: HTTP {status}")
        if status >= 300:
            raise PermanentDeliveryError(f"file upload: HTTP {status} {body}".strip())


class SlackChannel:
    """Slack as a customer channel and as the agents' desk (implements Channel and Desk)."""

    name = convert.CHANNEL

    def __init__(self, settings: SlackSettings, context: ChannelContext, teams: Mapping[str, Mapping[str, Any]],
                 retention_days: float | None = None) -> None:
        self.settings = settings
        self.context = context
        self._session: aiohttp.ClientSession | None = None
        self._client: AsyncWebClient | None = None
        self._app: AsyncApp | None = None
        self._socket: AsyncSocketModeHandler | None = None
        self._closing = False
        self.api = SlackApi(_LazyClient(self))  # type: ignore[arg-type]
        self.desk = SlackDesk(self.api, context, teams, note_prefix=settings.note_prefix,
                              admin_channel=settings.admin_channel,
                              saved_replies=load_saved_replies(settings.replies_path),
                              max_attachment_bytes=int(settings.max_attachment_mb * 1024 * 1024),
                              retention_days=retention_days)
        self.bot_user_id = ""
        self.bot_id = ""
        self._stopping = asyncio.Event()
        self._watcher: asyncio.Task[None] | None = None
        self.receiving = ReceiveLoop(
            convert.CHANNEL, context,
            Watched(subject="Slack (Socket Mode)",
                    while_down="Customers' and agents' Slack messages are not being received; Slack resends "
                               "what it could not deliver once the connection is back.",
                    on_recovery="receiving Slack events again."),
            Supervision(first_delay=1.0, max_delay=60.0, alert_after=settings.unreachable_after_seconds),
            self._stopping, expected=(SlackApiError, aiohttp.ClientError, OSError, asyncio.TimeoutError),
            describe=_describe_socket_error)

    # == lifecycle ===========================================================================
    def client(self) -> AsyncWebClient:
        """The one Web API client (and HTTP session) of this channel, made on first use."""
        if self._client is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=API_TIMEOUT_SECONDS))
            token = self.settings.bot_token.get_secret_value() if self.settings.bot_token else None
            kwargs: dict[str, Any] = {}
            if self.settings.api_base_url:
                kwargs["base_url"] = self.settings.api_base_url.rstrip("/") + "/"
            # Our own retries (send_with_retries) decide; the SDK's would hide rate limits from them.
            self._client = AsyncWebClient(token=token, session=self._session, retry_handlers=[], **kwargs)
        return self._client

    def app(self) -> AsyncApp:
        if self._app is None:
            signing_secret = self.settings.signing_secret.get_secret_value() if self.settings.signing_secret else ""
            app = AsyncApp(client=self.client(), signing_secret=signing_secret or "unused-in-socket-mode",
                           process_before_response=True,
                           request_verification_enabled=self.settings.mode == "http")
            app.event(_ANY)(self._on_event)
            app.command(_ANY)(self._on_command)
            app.action(_ANY)(self._on_action)
            app.shortcut(_ANY)(self._on_other)
            app.view(_ANY)(self._on_other)
            app.view_closed(_ANY)(self._on_other)
            app.options(_ANY)(self._on_options)
            self._app = app
        return self._app

    async def start(self) -> None:
        """Identify the bot; in Socket Mode connect in the background (Slack unreachable is retried, not fatal)."""
        self._closing = False
        self._stopping.clear()
        await self._identify()
        app = self.app()
        if self.settings.mode == "socket":
            assert self.settings.app_token is not None
            self._socket = AsyncSocketModeHandler(app, self.settings.app_token.get_secret_value(),
                                                  web_client=self.client())
            self._watcher = asyncio.create_task(self.receiving.run(self._socket_round), name="slack-socket")
        log.info("Slack channel started (%s mode) as %s", self.settings.mode, self.bot_user_id or "?")

    async def _identify(self) -> None:
        try:
            answer = await self.api.call("auth_test")
        except (TemporaryDeliveryError, RetryAfter) as error:
            log.warning("auth.test failed (%s); the echo guard relies on bot_id until it works", error)
            return
        self.bot_user_id = str(answer.get("user_id") or "")
        self.bot_id = str(answer.get("bot_id") or "")
        self.desk.bot_user_id = self.bot_user_id

    async def _socket_round(self) -> None:
        """Socket Mode: the SDK holds the connection and reconnects by itself; each round checks that it is
        open (connecting when it is not), so an outage shows on /healthz and reaches the admins."""
        assert self._socket is not None
        client = self._socket.client
        if not await client.is_connected():
            await asyncio.wait_for(client.connect_to_new_endpoint(), SOCKET_CONNECT_TIMEOUT_SECONDS)
            if not await client.is_connected():
                raise ConnectionError("the Socket Mode connection to Slack is not open")
        await self.receiving.up()
        await sleep_unless_stopped(self._stopping, SOCKET_CHECK_SECONDS)

    def health(self) -> dict[str, Any]:
        """Socket Mode: whether the connection is open (the shared receive loop's health). HTTP mode: Slack
        calls us, so there is nothing to watch from here."""
        if self.settings.mode == "http":
            return {"channel": convert.CHANNEL, "status": "ok", "mode": "http"}
        return {**self.receiving.health(), "mode": "socket"}

    async def stop_receiving(self) -> None:
        """Stop receiving events (Socket Mode); messages and the desk still send until `stop`."""
        self._closing = True
        self._stopping.set()
        if self._watcher is not None:
            self._watcher.cancel()  # it only watches the connection: nothing to finish
            await asyncio.gather(self._watcher, return_exceptions=True)
            self._watcher = None
        if self._socket is not None:
            await self._socket.close_async()
            self._socket = None

    async def stop(self) -> None:
        """Stop receiving, wait for verdicts still in flight, close the connections (after the senders
        are done: see bot.app.serve)."""
        await self.stop_receiving()
        await self.desk.drain()
        if self._session is not None:
            await self._session.close()
            self._session = None
            self._client = None
            self._app = None

    def routes(self) -> list[Route]:
        if self.settings.mode != "http":
            return []
        return [("POST", "/slack/events", self.handle_http)]

    async def handle_http(self, request: web.Request) -> web.StreamResponse:
        if self._closing:
            return web.Response(status=503, text="shutting down")  # Slack tries again later
        # Checked before bolt sees it: bolt parses (and can fail on) a body before checking its signature.
        try:
            text = readable_body(await request.read(), request.content_type)
        except BadBody as error:
            log.warning("Slack HTTP: refused a malformed body from %s: %s", request.remote, error)
            return web.Response(status=400, text=f"malformed body: {error}\n")
        secret = self.settings.signing_secret.get_secret_value() if self.settings.signing_secret else ""
        if not signed(text, request.headers, secret):
            log.warning("Slack HTTP: refused a request from %s without a valid signature", request.remote)
            return web.Response(status=401, text="invalid signature\n")
        bolt_request = AsyncBoltRequest(body=text, query=request.query_string,
                                        headers=request.headers)  # type: ignore[arg-type]
        response = await self.app().async_dispatch(bolt_request)
        return await to_aiohttp_response(response)

    # == customers: sending ==================================================================
    async def deliver(self, message: OutboundMessage) -> str | None:
        """Post a message to a customer's DM or thread; options become buttons."""
        channel, separator, thread = message.address.partition(":")
        if not separator or not channel:
            raise PermanentDeliveryError(f"not a Slack address: {message.address!r}")
        posted: dict[str, Any] = {}
        for payload in convert.message_payloads(message.text, message.options):
            params: dict[str, Any] = {"channel": channel, "unfurl_links": False, "unfurl_media": False, **payload}
            if thread:
                params["thread_ts"] = thread
            posted = await self.api.call("chat_postMessage", **params)
        return f"{posted.get('channel') or channel}:{posted.get('ts', '')}"

    async def show(self, event: DeskEvent) -> None:
        await self.desk.show(event)

    async def alert(self, text: str) -> None:
        """Tell the admins in `admin_channel`; without one configured the alert is only logged."""
        if not self.settings.admin_channel:
            return
        outcome = await send_with_retries(
            lambda: self.api.call("chat_postMessage", channel=self.settings.admin_channel,
                                  text=convert.escape(text)[:convert.MESSAGE_LIMIT]),
            what="admin alert")
        if not outcome.delivered:
            log.error("admin alert not posted to %s: %s", self.settings.admin_channel, outcome.reason)

    # == receiving ===========================================================================
    async def _first_time(self, body: Mapping[str, Any]) -> bool:
        """Slack resends an event it thinks we missed: the same event_id changes nothing."""
        event_id = convert.event_id(body)
        if not event_id:
            return True
        return bool(await self.context.redis.set(self.context.key(f"slack:event:{event_id}"), "1", nx=True,
                                                 ex=EVENT_DEDUPE_SECONDS))

    async def _forget(self, body: Mapping[str, Any]) -> None:
        event_id = convert.event_id(body)
        if event_id:
            await self.context.redis.delete(self.context.key(f"slack:event:{event_id}"))

    async def _on_event(self, ack: Any, body: dict[str, Any]) -> None:
        if not await self._first_time(body):
            log.info("Slack event %s again (a retry): already taken", convert.event_id(body))
            await ack()
            return
        try:
            await self.handle_event(body)
        except BaseException:
            await self._forget(body)  # not acknowledged: Slack sends it again, and then it must count
            raise
        await ack()

    async def handle_event(self, body: Mapping[str, Any]) -> None:
        """One Events API body: a customer's message to the inbox, an agent's thread message to the desk."""
        message = convert.message_of(body, self.bot_user_id, self.bot_id)
        if isinstance(message, convert.Skip):
            log.debug("Slack event %s skipped: %s", convert.event_type(body), message.reason)
            return
        case = await self.desk.case_of_thread(message.channel, message.thread_ts)
        if case is not None:
            await self.desk.on_thread_message(message, case)
            return
        if await self.desk.is_queue_channel(message.channel):
            return  # agents talking among themselves, outside case threads
        if not message.mention and self.bot_user_id and f"<@{self.bot_user_id}" in message.text \
                and message.channel in self.settings.customer_channels:
            return  # the app_mention event of the same message carries it
        known = False
        if message.thread_ts and message.channel in self.settings.customer_channels:
            known = bool(await self.context.redis.exists(self._conversation_key(message.channel, message.thread_ts)))
        address = convert.customer_address(message, self.settings.customer_channels, known)
        if address is None:
            log.debug("Slack message in %s is not a customer conversation", message.channel)
            return
        await self._submit_customer(message, address)

    def _conversation_key(self, channel: str, thread_ts: str) -> str:
        return self.context.key(f"slack:conv:{channel}:{thread_ts}")

    async def _submit_customer(self, message: convert.SlackMessage, address: str) -> None:
        text = message.text
        if message.mention:
            text = convert.strip_mention(text, self.bot_user_id)
        names = {user: await self.desk.user_name(user) for user in convert.mentioned_users(text)}
        text = convert.render_markup(text, names)
        limit = int(self.settings.max_attachment_mb * 1024 * 1024)
        too_big = [item for item in message.files if item.size > limit]
        for item in too_big:
            text += f"\n[file {item.name} not taken: larger than {self.settings.max_attachment_mb:g} MB]"
        if too_big:
            message = convert.SlackMessage(**{**_fields(message),
                                              "files": tuple(f for f in message.files if f.size <= limit)})
        inbound = convert.inbound_message(message, address, await self.desk.user_name(message.user), text)
        channel, _, thread = address.partition(":")
        if thread:
            await self.context.redis.set(self._conversation_key(channel, thread), "1", ex=CONVERSATION_TTL_SECONDS)
        await self.context.submit(inbound)

    async def _on_action(self, ack: Any, body: dict[str, Any]) -> None:
        interaction = convert.interaction_of(body)
        if isinstance(interaction, convert.Skip):
            log.info("Slack interaction skipped: %s", interaction.reason)
            await ack()
            return
        if interaction.action_id == convert.OPTION:
            if await self.desk.is_queue_channel(interaction.channel):
                await ack()
                return
            sender = await self.desk.user_name(interaction.user)
            await self.context.submit(convert.option_message(interaction, sender))
            await ack()
            return
        choice = convert.desk_choice(interaction)
        if isinstance(choice, convert.Skip):
            log.info("Slack action skipped: %s", choice.reason)
            await ack()
            return
        await self.desk.on_desk_button(interaction, choice)
        await ack()

    async def _on_command(self, ack: Any, body: dict[str, Any]) -> None:
        command = convert.parse_command(body.get("text"))
        user, channel = str(body.get("user_id") or ""), str(body.get("channel_id") or "")
        if not user:
            await ack()
            return
        try:
            text = await self.desk.on_command(command, user, channel)
        except Exception:  # noqa: BLE001 - the agent hears it failed; the log says why
            log.exception("/helpline %s by %s failed", command.verb, user)
            text = f"⚠️ `/helpline {command.verb}` failed; the log says why."
        await ack(text=text, response_type="ephemeral")

    async def _on_options(self, ack: Any, body: dict[str, Any]) -> None:
        await ack(options=[])

    async def _on_other(self, ack: Any, body: dict[str, Any]) -> None:
        log.info("Slack %s payload: not used", body.get("type") if isinstance(body, dict) else "?")
        await ack()


def _describe_socket_error(error: BaseException) -> str:
    """A Socket Mode failure for the log, /healthz and the admins, with the fix when it is ours to make."""
    if isinstance(error, SlackApiError):
        code = error.response.get("error") if isinstance(error.response.data, dict) else None
        if code in ("invalid_auth", "not_authed", "not_allowed_token_type", "missing_scope"):
            return (f"apps.connections.open refused ({code}): check channels.slack.app_token (an xapp- token "
                    "with the connections:write scope, Socket Mode enabled for the app)")
        return f"apps.connections.open failed: {code or error.response.status_code}"
    return f"{type(error).__name__}: {error}"


def _fields(message: convert.SlackMessage) -> dict[str, Any]:
    return {name: getattr(message, name) for name in convert.SlackMessage.__slots__}


class _LazyClient:
    """Looks like the Web API client; the real one (and its HTTP session) is made on first call."""

    def __init__(self, channel: SlackChannel) -> None:
        self._channel = channel

    def __getattr__(self, name: str) -> Any:
        return getattr(self._channel.client(), name)
