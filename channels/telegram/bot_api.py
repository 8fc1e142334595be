"""The Telegram Bot API, called straight over aiohttp: every call the channel makes.

Why not python-telegram-bot: per message it builds request and Message objects and sends through
httpx, whose connection pool tries `import sniffio` on every request; a worker profile showed that at
about 4 ms of CPU per message, most of what sending costs. Importing it (with httpx, httpcore and
anyio) was ~350 ms of every start and memory in every process (issue 14). Here a call is one JSON POST
on one kept-alive session and the fields read from the reply. Long polling (a GET that the adapter
reads itself) has a session of its own, so a waiting getUpdates never holds up a send.

Errors keep PTB's reading of the Bot API's answers and its classes (channels/telegram/errors.py): the
answer's `parameters` first (retry_after, migrate_to_chat_id), then the HTTP status. No error's text
holds a URL: the URL holds the token.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeGuard
from urllib.parse import quote

import aiohttp
import orjson

from channels.telegram.convert import BotIdentity
from channels.telegram.errors import (
    BotApiError,
    Conflict,
    FileTooBig,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
    answer_error,
    status_phrase,
)

CHAT_ID_MIN, CHAT_ID_MAX = -(2**63), 2**63 - 1
MAX_REPLY_BYTES = 64 * 1024 * 1024  # a getUpdates of 100 updates is well below; more is not the Bot API
MAX_WAIT_SECONDS = 2**53  # past this a retry_after is no number of seconds (the largest integer a float holds)
MAX_ERROR_BODY_BYTES = 64 * 1024  # a failed file download's body: only its description is read
# PTB's prefixes of a description that say nothing (its TelegramError.message drops them too).
_NOISE = ("Error: ", "[Error]: ", "Bad Request: ")


@dataclass(frozen=True, slots=True)
class Timeouts:
    """As the PTB client had them: 5 s to connect, 10 s waiting for a free connection, 20 s to read."""

    connect: float = 5.0
    pool: float = 10.0
    read: float = 20.0


@dataclass(frozen=True, slots=True)
class TelegramFile:
    """What getFile says of a file: where to download it (None: Telegram offers no download) and its size."""

    path: str | None
    size: int | None


def read_reply(status: int, body: bytes) -> Any:
    """The `result` of a Bot API answer; raises a BotApiError (of PTB's class for it) for an error answer,
    NetworkError for a body that is not one."""
    try:
        reply = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise NetworkError(f"HTTP {status} with a body that is not the Bot API's JSON") from None
    if not isinstance(reply, dict):
        raise NetworkError(f"HTTP {status} with a body that is not the Bot API's JSON")
    if status == 200 and reply.get("ok") is True:
        return reply.get("result")
    raise _error_of(status, reply)


def _error_of(status: int, reply: dict[str, Any]) -> BotApiError:
    description = reply.get("description")
    description = description if isinstance(description, str) else ""
    for noise in _NOISE:
        description = description.removeprefix(noise)
    description = description or "Unknown HTTPError"
    parameters = reply.get("parameters")
    parameters = parameters if isinstance(parameters, dict) else {}
    retry_after, migrate = parameters.get("retry_after"), parameters.get("migrate_to_chat_id")
    return answer_error(status, description, retry_after=float(retry_after) if _is_number(retry_after) else None,
                        migrate_to_chat_id=migrate if _is_chat_id(migrate) else None)


def read_updates(status: int, body: bytes) -> list[Any]:
    """getUpdates' answer: its raw updates, read by json (which takes any JSON, e.g. an integer past 64 bits,
    where orjson refuses the whole batch), or the error that says why not, in the texts the receive loop has
    always shown: RetryAfter, Conflict (409), InvalidToken (401, 404), else NetworkError naming the status."""
    try:
        reply = json.loads(body)
    except ValueError:  # also bytes that are not UTF-8
        raise NetworkError(f"getUpdates answered HTTP {status} with something that is not JSON") from None
    except RecursionError:
        raise NetworkError(f"getUpdates answered HTTP {status} with JSON nested too deeply") from None
    if not isinstance(reply, dict):
        raise NetworkError(f"getUpdates answered HTTP {status} with JSON that is not the Bot API's answer")
    if status == 200 and reply.get("ok") is True and isinstance(reply.get("result"), list):
        return reply["result"]
    description = reply.get("description")
    description = description if isinstance(description, str) else ""
    parameters = reply.get("parameters")
    retry_after = parameters.get("retry_after") if isinstance(parameters, dict) else None
    if _is_number(retry_after) and isinstance(retry_after, int):
        raise RetryAfter(status, description, retry_after=float(retry_after))
    if status == 409:
        raise Conflict(status, description or "Conflict")
    if status in (401, 404):
        raise InvalidToken(status, "the bot token was rejected")
    raise NetworkError(f"getUpdates answered HTTP {status}: {description}")


def read_identity(result: Any) -> BotIdentity:
    """The bot's id and username from getMe's result; NetworkError for a result that is not a bot user."""
    if not isinstance(result, dict) or not _is_int(result.get("id")):
        raise NetworkError("getMe answered without the bot's id")
    username = result.get("username")
    return BotIdentity(id=result["id"], username=username if isinstance(username, str) else "")


def read_file(result: Any) -> TelegramFile:
    """getFile's result: a relative download path (anything else is no path) and the size when it says one."""
    if not isinstance(result, dict):
        raise NetworkError("getFile answered without a file")
    path, size = result.get("file_path"), result.get("file_size")
    usable = (isinstance(path, str) and 0 < len(path) <= 4096 and not path.startswith("/")
              and ".." not in path.split("/") and path.isprintable())
    return TelegramFile(path if usable else None, size if _is_int(size) and size >= 0 else None)


def _is_number(value: object) -> TypeGuard[int | float]:
    """A number of seconds to wait: not negative, and one a float holds (json reads 1e999 as inf, and an
    integer of 400 digits does not fit a float)."""
    return (isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= MAX_WAIT_SECONDS)


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_chat_id(value: object) -> TypeGuard[int]:
    """Telegram's chat ids are signed 64-bit integers. A number past that range is no chat to move to:
    orjson reads it as a float, and a migration to it would only fail again."""
    return _is_int(value) and CHAT_ID_MIN <= value <= CHAT_ID_MAX


class BotApi:
    """One bot's Bot API over one aiohttp session (opened on first use, inside the running event loop)."""

    def __init__(self, base_url: str, token: str, *, base_file_url: str | None = None, connections: int = 64,
                 timeouts: Timeouts = Timeouts()) -> None:
        # base_url as PTB's: ".../bot"; files from ".../file/bot" (the settings' base_url and base_file_url).
        self._url = f"{base_url}{token}/"
        files = base_file_url if base_file_url is not None else base_url.removesuffix("/bot") + "/file/bot"
        self._file_url = f"{files}{token}/"
        self._connections = connections
        self._timeout = aiohttp.ClientTimeout(total=None, connect=timeouts.pool + timeouts.connect,
                                              sock_connect=timeouts.connect, sock_read=timeouts.read)
        self._session: aiohttp.ClientSession | None = None

    # ------------------------------------------------------------------------------------------ the calls

    async def get_me(self) -> BotIdentity:
        return read_identity(await self.call("getMe", {}))

    async def answer_callback_query(self, query_id: str) -> None:
        """Stops the spinner on the button the customer pressed."""
        await self.call("answerCallbackQuery", {"callback_query_id": query_id})

    async def remove_buttons(self, chat_id: int, message_id: int) -> None:
        """editMessageReplyMarkup without a reply_markup: the message keeps its text, loses its buttons."""
        await self.call("editMessageReplyMarkup", {"chat_id": chat_id, "message_id": message_id})

    async def get_file(self, file_id: str) -> TelegramFile:
        return read_file(await self.call("getFile", {"file_id": file_id}))

    async def set_webhook(self, url: str, secret_token: str, allowed_updates: Sequence[str]) -> None:
        await self.call("setWebhook", {"url": url, "secret_token": secret_token,
                                       "allowed_updates": list(allowed_updates)})

    async def delete_webhook(self) -> None:
        await self.call("deleteWebhook", {})

    async def download(self, file_path: str, limit: int) -> bytes:
        """The bytes of a file getFile gave `file_path` for; FileTooBig past `limit` bytes (read no further),
        a BotApiError of the status's class when not 200 (404: Telegram no longer has it)."""
        try:
            async with self._open().get(self._file_url + quote(file_path, safe="/")) as response:
                if response.status != 200:
                    raise _download_error(response.status, await _bounded_body(response, MAX_ERROR_BODY_BYTES))
                if (response.content_length or 0) > limit:
                    raise FileTooBig(f"the file has {response.content_length} bytes, over {limit}")
                return await _bounded_body(response, limit, FileTooBig(f"the file is over {limit} bytes"))
        except (aiohttp.ClientError, OSError) as error:
            raise _no_answer("file download", error) from None

    # ------------------------------------------------------------------------------------------ the wire

    async def call(self, method: str, params: dict[str, Any]) -> Any:
        """POST `params` as JSON to `method`; its result, or a TelegramError."""
        return read_reply(*await self.request(method, params))

    async def request(self, method: str, params: dict[str, Any] | None = None,
                      query: dict[str, str] | None = None) -> tuple[int, bytes]:
        """The HTTP status and body of `method` (a POST of `params` as JSON, else a GET with `query`);
        NetworkError (TimedOut for a timeout) when there is none."""
        session = self._open()
        try:
            if params is None:
                sending = session.get(self._url + method, params=query)
            else:
                sending = session.post(self._url + method, data=orjson.dumps(params),
                                       headers={"Content-Type": "application/json"})
            async with sending as response:
                return response.status, await _bounded_body(response, MAX_REPLY_BYTES)
        except (aiohttp.ClientError, OSError) as error:  # TimeoutError is an OSError
            raise _no_answer(method, error) from None

    def _open(self) -> aiohttp.ClientSession:
        session = self._session
        if session is None or session.closed:
            session = self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._connections), timeout=self._timeout)
        return session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _no_answer(what: str, error: BaseException) -> NetworkError:
    # Never the error's own text: some carry the URL, and the URL carries the token.
    kind = TimedOut if isinstance(error, TimeoutError) else NetworkError
    return kind(f"{what}: {type(error).__name__}")


def _download_error(status: int, body: bytes) -> BotApiError:
    """A file server's refusal: the Bot API's JSON when it sent that, else just the status."""
    try:
        reply = orjson.loads(body)
    except orjson.JSONDecodeError:
        reply = None
    if isinstance(reply, dict):
        return _error_of(status, reply)
    return answer_error(status, status_phrase(status))


async def _bounded_body(response: aiohttp.ClientResponse, limit: int, too_long: Exception | None = None) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise too_long or NetworkError(f"HTTP {response.status} with a reply over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
