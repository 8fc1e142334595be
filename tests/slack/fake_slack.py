"""A loopback fake of Slack: the Web API methods Helpline calls, and a Socket Mode WebSocket.

Every call is recorded with its parameters (JSON, form or query). A test can make the next calls of a
method fail with 429 + Retry-After, a 5xx, or a Slack error code. Files go through Slack's upload flow:
files.getUploadURLExternal gives an upload URL on this server, the bytes are POSTed there (failures
injected under the name "upload"), files.completeUploadExternal shares them (`shared_files`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from aiohttp import WSMsgType, web

BOT_USER = "UBOT0001"
BOT_ID = "BBOT0001"


@dataclass
class Call:
    method: str
    params: dict[str, Any]


@dataclass
class Failure:
    status: int = 500
    error: str = ""
    retry_after: float | None = None


@dataclass
class SharedFile:
    """A file files.completeUploadExternal shared: where, and the bytes that were uploaded for it."""

    id: str
    title: str
    channel: str
    thread_ts: str
    data: bytes
    initial_comment: str = ""


@dataclass
class FakeSlack:
    members: dict[str, list[str]] = field(default_factory=dict)  # channel → members
    usergroups: dict[str, list[str]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    failures: dict[str, list[Failure]] = field(default_factory=dict)
    acks: dict[str, dict[str, Any]] = field(default_factory=dict)
    uploads: dict[str, dict[str, Any]] = field(default_factory=dict)  # file id → filename, length, data
    shared_files: list[SharedFile] = field(default_factory=list)
    port: int = 0
    _runner: web.AppRunner | None = None
    _ts: itertools.count = field(default_factory=lambda: itertools.count(1))
    _sockets: list[web.WebSocketResponse] = field(default_factory=list)
    _connected: asyncio.Event = field(default_factory=asyncio.Event)
    _acked: asyncio.Condition = field(default_factory=asyncio.Condition)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_get("/socket", self._socket)
        app.router.add_post("/upload/v1/{file_id}", self._upload)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        for socket in self._sockets:
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def fail(self, method: str, *failures: Failure) -> None:
        self.failures.setdefault(method, []).extend(failures)

    def called(self, method: str) -> list[dict[str, Any]]:
        return [call.params for call in self.calls if call.method == method]

    def files_in(self, channel: str, thread_ts: str | None = None) -> list[SharedFile]:
        return [shared for shared in self.shared_files
                if shared.channel == channel and (thread_ts is None or shared.thread_ts == thread_ts)]

    def posts(self, channel: str | None = None, thread_ts: str | None = None) -> list[dict[str, Any]]:
        return [params for params in self.called("chat.postMessage")
                if (channel is None or params.get("channel") == channel)
                and (thread_ts is None or params.get("thread_ts") == thread_ts)]

    # == Web API =============================================================================
    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            params.update(await request.json())
        elif request.can_read_body:
            params.update(dict(await request.post()))
        self.calls.append(Call(method, params))
        if request.headers.get("Authorization", "") not in ("Bearer xoxb-test", "Bearer xapp-test"):
            return web.json_response({"ok": False, "error": "invalid_auth"})
        pending = self.failures.get(method)
        if pending:
            failure = pending.pop(0)
            headers = {"Retry-After": f"{failure.retry_after:g}"} if failure.retry_after is not None else {}
            if failure.error and failure.status == 200:
                return web.json_response({"ok": False, "error": failure.error})
            return web.json_response({"ok": False, "error": failure.error or "server_error"}, status=failure.status,
                                     headers=headers)
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"})
        return web.json_response(await handler(params))

    def _next_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    async def _auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "user_id": BOT_USER, "bot_id": BOT_ID, "team_id": "T0TEST", "user": "helpline"}

    async def _chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel", ""))
        if not channel or channel.startswith("#"):
            return {"ok": False, "error": "channel_not_found"}
        ts = self._next_ts()
        params["posted_ts"] = ts  # recorded with the call, so tests can tell which message was which
        return {"ok": True, "channel": channel, "ts": ts, "message": {"text": params.get("text")}}

    async def _chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "channel": params.get("channel"), "ts": params.get("ts")}

    async def _chat_postEphemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "message_ts": self._next_ts()}

    async def _reactions_add(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True}

    async def _files_getUploadURLExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        filename, length = str(params.get("filename") or ""), str(params.get("length") or "")
        if not filename or not length.isdigit():
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F{next(self._ts):09d}"
        self.uploads[file_id] = {"filename": filename, "length": int(length), "data": None}
        return {"ok": True, "upload_url": f"http://127.0.0.1:{self.port}/upload/v1/{file_id}", "file_id": file_id}

    async def _upload(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        data = await request.read()
        self.calls.append(Call("upload", {"file_id": file_id, "bytes": len(data)}))
        pending = self.failures.get("upload")
        if pending:
            failure = pending.pop(0)
            headers = {"Retry-After": f"{failure.retry_after:g}"} if failure.retry_after is not None else {}
            return web.Response(status=failure.status, text=failure.error or "error", headers=headers)
        upload = self.uploads.get(file_id)
        if upload is None:
            return web.Response(status=404, text="unknown upload")
        upload["data"] = data
        return web.Response(text=f"OK - {len(data)}")

    async def _files_completeUploadExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        files = params.get("files")
        if isinstance(files, str):
            files = json.loads(files)
        if not isinstance(files, list) or not files:
            return {"ok": False, "error": "invalid_arguments"}
        channel, thread_ts = str(params.get("channel_id") or ""), str(params.get("thread_ts") or "")
        shared = []
        for item in files:
            upload = self.uploads.get(str(item.get("id")))
            if upload is None or upload["data"] is None:
                return {"ok": False, "error": "file_not_found"}
            if len(upload["data"]) != upload["length"]:
                return {"ok": False, "error": "file_upload_size_mismatch"}
            shared.append(SharedFile(str(item["id"]), str(item.get("title") or upload["filename"]), channel,
                                     thread_ts, upload["data"], str(params.get("initial_comment") or "")))
        self.shared_files += shared
        return {"ok": True, "files": [{"id": item.id, "title": item.title} for item in shared]}

    async def _conversations_members(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel", ""))
        if channel not in self.members:
            return {"ok": False, "error": "channel_not_found"}
        return {"ok": True, "members": self.members[channel], "response_metadata": {"next_cursor": ""}}

    async def _usergroups_users_list(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "users": self.usergroups.get(str(params.get("usergroup", "")), [])}

    async def _users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user = str(params.get("user", ""))
        name = self.names.get(user, user.lower())
        return {"ok": True, "user": {"id": user, "name": name, "profile": {"display_name": name, "real_name": name}}}

    async def _apps_connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/socket"}

    # == Socket Mode =========================================================================
    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._sockets.append(socket)
        await socket.send_json({"type": "hello", "num_connections": 1, "debug_info": {"host": "fake"},
                                "connection_info": {"app_id": "A0TEST"}})
        self._connected.set()
        async for message in socket:
            if message.type == WSMsgType.TEXT:
                data = json.loads(message.data)
                async with self._acked:
                    self.acks[data.get("envelope_id", "")] = data
                    self._acked.notify_all()
        return socket

    async def send_envelope(self, kind: str, payload: dict[str, Any], retry_attempt: int = 0) -> str:
        """Send an envelope over the open Socket Mode connection; returns its envelope id."""
        await asyncio.wait_for(self._connected.wait(), 10)
        envelope_id = str(uuid.uuid4())
        await self._sockets[-1].send_json({"envelope_id": envelope_id, "type": kind, "payload": payload,
                                           "accepts_response_payload": kind != "events_api",
                                           "retry_attempt": retry_attempt, "retry_reason": ""})
        return envelope_id

    async def ack_of(self, envelope_id: str, timeout: float = 10) -> dict[str, Any]:
        async with self._acked:
            await asyncio.wait_for(self._acked.wait_for(lambda: envelope_id in self.acks), timeout)
        return self.acks[envelope_id]


def signed_headers(body: bytes, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """Headers of a request signed exactly as Slack signs it."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    base = b"v0:" + stamp.encode() + b":" + body
    signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature}


def form_body(payload: dict[str, Any]) -> bytes:
    """An interaction as Slack posts it: form-encoded, the JSON under `payload`."""
    return urlencode({"payload": json.dumps(payload)}).encode()
