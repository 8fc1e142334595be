"""Bot API calls straight over aiohttp, for the calls made per message: sendMessage, and getUpdates.

Why not python-telegram-bot here: per message it builds request and Message objects and sends through
httpx, whose connection pool tries `import sniffio` (not installed) on every request; a worker
profile showed that at about 4 ms of CPU per message, most of what sending costs. Here it is one
JSON POST on one kept-alive session and two fields read from the reply. Long polling (a GET that the
adapter reads itself) has a session of its own, so a waiting getUpdates never holds up a send. The
rare calls (getMe, answerCallbackQuery, getFile, webhooks) stay with PTB.

Errors keep PTB's reading of the Bot API's answers, which the adapter maps to delivery results: the
answer's `parameters` first (retry_after, migrate_to_chat_id), then the HTTP status.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeGuard

import aiohttp
import orjson

MAX_REPLY_BYTES = 64 * 1024 * 1024  # a getUpdates of 100 updates is well below; more is not the Bot API
# PTB's prefixes of a description that say nothing (its TelegramError.message drops them too).
_NOISE = ("Error: ", "[Error]: ", "Bad Request: ")


class BotApiError(Exception):
    """The Bot API answered, and not ok."""

    def __init__(self, status: int, description: str, *, retry_after: float | None = None,
                 migrate_to_chat_id: int | None = None) -> None:
        super().__init__(f"{description} ({status})")
        self.status = status
        self.description = description
        self.retry_after = retry_after  # 429: wait this long
        self.migrate_to_chat_id = migrate_to_chat_id  # the group became this supergroup


class BotApiUnreachable(Exception):
    """No answer of the Bot API's: a timeout, a connection failure, or a body that is not its JSON (a proxy's
    error page). Temporary: the message may or may not have been sent."""


@dataclass(frozen=True, slots=True)
class Timeouts:
    """As the PTB client had them: 5 s to connect, 10 s waiting for a free connection, 20 s to read."""

    connect: float = 5.0
    pool: float = 10.0
    read: float = 20.0


def read_reply(status: int, body: bytes) -> Any:
    """The `result` of a Bot API answer; raises BotApiError for an error answer, BotApiUnreachable for a
    body that is not one."""
    try:
        reply = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BotApiUnreachable(f"HTTP {status} with a body that is not the Bot API's JSON") from None
    if not isinstance(reply, dict):
        raise BotApiUnreachable(f"HTTP {status} with a body that is not the Bot API's JSON")
    if status == 200 and reply.get("ok") is True:
        return reply.get("result")
    description = reply.get("description")
    description = description if isinstance(description, str) and description else "Unknown HTTPError"
    for noise in _NOISE:
        description = description.removeprefix(noise)
    parameters = reply.get("parameters")
    parameters = parameters if isinstance(parameters, dict) else {}
    retry_after, migrate = parameters.get("retry_after"), parameters.get("migrate_to_chat_id")
    seconds = float(retry_after) if _is_number(retry_after) else None
    raise BotApiError(status, description, retry_after=seconds,
                      migrate_to_chat_id=migrate if isinstance(migrate, int) and not isinstance(migrate, bool) else None)


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


class BotApi:
    """One bot's Bot API over one aiohttp session (opened on first use, inside the running event loop)."""

    def __init__(self, base_url: str, token: str, *, connections: int = 64, timeouts: Timeouts = Timeouts()) -> None:
        self._url = f"{base_url}{token}/"  # base_url as PTB's: ".../bot"
        self._connections = connections
        self._timeout = aiohttp.ClientTimeout(total=None, connect=timeouts.pool + timeouts.connect,
                                              sock_connect=timeouts.connect, sock_read=timeouts.read)
        self._session: aiohttp.ClientSession | None = None

    async def call(self, method: str, params: dict[str, Any]) -> Any:
        """POST `params` as JSON to `method`; its result, or BotApiError / BotApiUnreachable."""
        return read_reply(*await self.request(method, params))

    async def request(self, method: str, params: dict[str, Any] | None = None,
                      query: dict[str, str] | None = None) -> tuple[int, bytes]:
        """The HTTP status and body of `method` (a POST of `params` as JSON, else a GET with `query`);
        BotApiUnreachable when there is none."""
        session = self._session
        if session is None or session.closed:
            session = self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._connections), timeout=self._timeout)
        try:
            if params is None:
                sending = session.get(self._url + method, params=query)
            else:
                sending = session.post(self._url + method, data=orjson.dumps(params),
                                       headers={"Content-Type": "application/json"})
            async with sending as response:
                return response.status, await _bounded_body(response)
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            # Never the error's own text: some carry the URL, and the URL carries the token.
            raise BotApiUnreachable(f"{method}: {type(error).__name__}") from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


async def _bounded_body(response: aiohttp.ClientResponse) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > MAX_REPLY_BYTES:
            raise BotApiUnreachable(f"HTTP {response.status} with a reply over {MAX_REPLY_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
