"""A loopback fake of the Telegram Bot API (aiohttp, port 0), speaking its wire format.

It answers what the Telegram channel uses: getMe, getUpdates (real long polling with offset and
timeout), sendMessage, answerCallbackQuery, getFile and file downloads, setWebhook, deleteWebhook.
Tests queue updates with `push`, inject failures (429 with retry_after, 5xx, 403 blocked) with
`fail_next`, and read every call from `calls`. Files are served from `files`; `said_sizes` makes getFile say
another size (or none), `chunked_files` sends them without a Content-Length, and `downloads` counts the
bytes a client actually read of each.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TOKEN = "123456:TEST-token_for-the-fake"
BOT_USER = {"id": 123456, "is_bot": True, "first_name": "Helpline", "username": "helpline_test_bot"}

# Parameters sent JSON-encoded in a query or form field (getUpdates' allowed_updates in its query string);
# everything else there is a plain string. A JSON body (every POST of channels/telegram/bot_api.py) carries its
# values as they are.
_JSON_FIELDS = {"reply_markup", "reply_parameters", "allowed_updates", "link_preview_options", "entities"}
_INT_FIELDS = {"chat_id", "message_thread_id", "offset", "timeout", "limit", "cache_time", "max_connections"}


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)
    content_type: str = ""


@dataclass
class Failure:
    status: int
    description: str
    parameters: dict[str, Any] | None = None


class FakeBotApi:
    """The fake server; `url` is what goes in `channels.telegram.api_base_url`."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.calls: list[Call] = []
        self.updates: list[dict[str, Any]] = []
        self.confirmed_offset = 0
        # As on Telegram, one poller per bot: a getUpdates arriving while another waits ends that one with 409.
        self.conflicts = 0
        self._polls = 0
        self.webhook: dict[str, Any] | None = None
        self.blocked_chats: set[int] = set()
        self.files: dict[str, bytes] = {}
        self.said_sizes: dict[str, int | None] = {}
        self.chunked_files = False
        self.downloads: dict[str, int] = {}
        self._failures: dict[str, list[Failure]] = {}
        self._message_ids = itertools.count(1000)
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> FakeBotApi:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # ------------------------------------------------------------------------------------ test controls

    async def push(self, *updates: dict[str, Any]) -> None:
        """Queue updates for getUpdates (a waiting long poll returns at once)."""
        async with self._changed:
            self.updates.extend(updates)
            self._changed.notify_all()

    def fail_next(self, method: str, status: int, description: str, retry_after: int | None = None,
                  times: int = 1, parameters: dict[str, Any] | None = None) -> None:
        if retry_after is not None:
            parameters = {**(parameters or {}), "retry_after": retry_after}
        self._failures.setdefault(method, []).extend([Failure(status, description, parameters)] * times)

    def sent(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        """sendMessage calls that succeeded, oldest first."""
        return [call.params for call in self.calls if call.method == "sendMessage" and call.params.get("ok")
                and (chat_id is None or call.params["chat_id"] == chat_id)]

    def calls_of(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]

    async def wait_for(self, condition: Callable[[], Any], timeout: float = 15.0) -> Any:
        """Wait until `condition()` is truthy (checked after every request); returns its value."""
        async def waiter() -> Any:
            async with self._changed:
                while not (value := condition()):
                    await self._changed.wait()
                return value

        return await asyncio.wait_for(waiter(), timeout)

    # ---------------------------------------------------------------------------------------- the API

    async def _api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        method = request.match_info["method"]
        if request.content_type == "application/json":
            try:
                body = json.loads(await request.read())
            except ValueError:
                return _error(400, "Bad Request: can't parse JSON")
            if not isinstance(body, dict):
                return _error(400, "Bad Request: the request body must be a JSON object")
            params = {**_decode(dict(request.query)), **body}
        else:
            params = _decode({**request.query, **(await request.post())})
        call = Call(method, params, content_type=request.content_type)
        async with self._changed:
            self.calls.append(call)
            self._changed.notify_all()
        failures = self._failures.get(method)
        if failures:
            failure = failures.pop(0)
            return _error(failure.status, failure.description, failure.parameters)
        handler = getattr(self, f"_{method}", None)
        if handler is None:
            return _error(404, "Not Found: method not found")
        response = await handler(params)
        async with self._changed:
            self._changed.notify_all()
        return response

    async def _getMe(self, params: dict[str, Any]) -> web.Response:
        return _ok(BOT_USER)

    async def _getUpdates(self, params: dict[str, Any]) -> web.Response:
        if self.webhook is not None:
            return _error(409, "Conflict: can't use getUpdates method while webhook is active; "
                               "use deleteWebhook to delete the webhook first")
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        async with self._changed:
            self._polls += 1
            poll = self._polls
            self._changed.notify_all()  # a poll still waiting sees it was overtaken
            if offset:
                # Telegram forgets what the offset confirms.
                self.confirmed_offset = max(self.confirmed_offset, offset)
                self.updates = [update for update in self.updates if update["update_id"] >= offset]
                self._changed.notify_all()
            deadline = time.monotonic() + timeout
            while not self.updates and (left := deadline - time.monotonic()) > 0 and poll == self._polls:
                try:
                    await asyncio.wait_for(self._changed.wait(), left)
                except TimeoutError:
                    break
            if poll != self._polls:
                self.conflicts += 1
                return _error(409, "Conflict: terminated by other getUpdates request; make sure that only one "
                                   "bot instance is running")
            return _ok(list(self.updates[: int(params.get("limit") or 100)]))

    async def _sendMessage(self, params: dict[str, Any]) -> web.Response:
        chat_id = params.get("chat_id")
        if chat_id in self.blocked_chats:
            return _error(403, "Forbidden: bot was blocked by the user")
        text = params.get("text", "")
        if not isinstance(text, str) or not text.strip():
            return _error(400, "Bad Request: message text is empty")
        if len(text.encode("utf-16-le")) // 2 > 4096 and params.get("parse_mode") is None:
            return _error(400, "Bad Request: message is too long")
        params["ok"] = True
        chat = {"id": chat_id, "type": "private" if isinstance(chat_id, int) and chat_id > 0 else "group",
                "title": "chat"}
        return _ok({"message_id": next(self._message_ids), "date": int(time.time()), "chat": chat,
                    "from": BOT_USER, "text": text})

    async def _answerCallbackQuery(self, params: dict[str, Any]) -> web.Response:
        return _ok(True)

    async def _editMessageReplyMarkup(self, params: dict[str, Any]) -> web.Response:
        if "chat_id" not in params or "message_id" not in params:
            return _error(400, "Bad Request: message identifier is not specified")
        return _ok({"message_id": int(params["message_id"]), "date": int(time.time()), "from": BOT_USER,
                    "chat": {"id": int(params["chat_id"]), "type": "private", "first_name": "Ann"}, "text": "…"})

    async def _getFile(self, params: dict[str, Any]) -> web.Response:
        file_id = params.get("file_id", "")
        if file_id not in self.files:
            return _error(400, "Bad Request: invalid file_id")
        said: dict[str, Any] = {"file_size": self.said_sizes.get(file_id, len(self.files[file_id]))}
        return _ok({"file_id": file_id, "file_unique_id": f"u{file_id}", "file_path": f"documents/{file_id}",
                    **{key: value for key, value in said.items() if value is not None}})

    async def _file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        file_id = request.match_info["path"].rpartition("/")[2]
        if file_id not in self.files:
            return web.Response(status=404)
        data = self.files[file_id]
        if not self.chunked_files:
            self.downloads[file_id] = len(data)
            return web.Response(body=data)
        response = web.StreamResponse()  # no Content-Length: the client learns the size only by reading
        await response.prepare(request)
        self.downloads[file_id] = 0
        try:
            for start in range(0, len(data), 64 * 1024):
                await response.write(data[start:start + 64 * 1024])
                self.downloads[file_id] += len(data[start:start + 64 * 1024])
            await response.write_eof()
        except (ConnectionError, RuntimeError):
            pass  # the client stopped reading and closed the connection
        return response

    async def _setWebhook(self, params: dict[str, Any]) -> web.Response:
        self.webhook = {"url": params.get("url", ""), "secret_token": params.get("secret_token"),
                        "allowed_updates": params.get("allowed_updates")}
        return _ok(True)

    async def _deleteWebhook(self, params: dict[str, Any]) -> web.Response:
        self.webhook = None
        return _ok(True)

    async def _getWebhookInfo(self, params: dict[str, Any]) -> web.Response:
        webhook = self.webhook or {}
        info: dict[str, Any] = {"url": webhook.get("url", ""), "has_custom_certificate": False,
                                "pending_update_count": len(self.updates)}
        if webhook.get("last_error_message"):
            info.update(last_error_message=webhook["last_error_message"], last_error_date=webhook["last_error_date"])
        return _ok(info)


def _decode(raw: dict[str, str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for key, value in raw.items():
        value = str(value)
        if key in _JSON_FIELDS:
            params[key] = json.loads(value)
        elif key in _INT_FIELDS and value.lstrip("-").isdigit():
            params[key] = int(value)
        else:
            params[key] = value
    return params


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _error(status: int, description: str, parameters: dict[str, Any] | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=status)


def text_update(update_id: int, text: str, chat_id: int = 5551, message_id: int | None = None,
                user_id: int | None = None, first_name: str = "Ann", last_name: str = "Lee",
                language_code: str = "en", chat_type: str = "private", **extra: Any) -> dict[str, Any]:
    """An Update with a text message, shaped as Telegram sends it."""
    user = {"id": user_id or chat_id, "is_bot": False, "first_name": first_name, "last_name": last_name,
            "username": "ann_lee", "language_code": language_code}
    chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
    if chat_type == "private":
        chat.update(first_name=first_name, last_name=last_name, username="ann_lee")
    else:
        chat["title"] = "Shop customers"
    message = {"message_id": message_id or update_id + 100, "from": user, "chat": chat, "date": int(time.time()),
               "text": text, **extra}
    return {"update_id": update_id, "message": message}


def callback_update(update_id: int, data: str, chat_id: int = 5551, message_id: int = 1000,
                    language_code: str = "en") -> dict[str, Any]:
    """An Update with a button press on one of the bot's messages."""
    user = {"id": chat_id, "is_bot": False, "first_name": "Ann", "last_name": "Lee", "username": "ann_lee",
            "language_code": language_code}
    return {"update_id": update_id, "callback_query": {
        "id": f"cbq{update_id}", "from": user, "chat_instance": "42", "data": data,
        "message": {"message_id": message_id, "from": BOT_USER, "date": int(time.time()), "text": "…",
                    "chat": {"id": chat_id, "type": "private", "first_name": "Ann"}}}}
