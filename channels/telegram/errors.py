"""What a failed Bot API call raises: python-telegram-bot's classes and names, read from the answer as PTB read
it, without PTB (its import alone cost ~350 ms of every start, and httpx with it; issue 14).

The adapter imports this module as `tg`, as it did `telegram.error`, and steers by these classes: the
receive loop expects any TelegramError, a file fetch tells permanent (BadRequest, Forbidden, InvalidToken)
from temporary, and 429 is RetryAfter with its seconds. Which class an answer gets, in PTB's order: the
answer's `parameters` first (migrate_to_chat_id, then retry_after), then the HTTP status.

No text here ever holds the URL of a call, which holds the bot token: a NetworkError names the call and
the kind of failure only, an answer's error its description and status.
"""

from __future__ import annotations

from http import HTTPStatus


class TelegramError(Exception):
    """A Bot API call failed: no answer, or an answer that is not ok."""


class NetworkError(TelegramError):
    """No answer of the Bot API's: a connection failure, a body that is not its JSON (a proxy's error page), a
    reply over the size bound. Temporary: a sendMessage may or may not have been sent."""


class TimedOut(NetworkError):
    """The connection or the answer took longer than the timeouts allow."""


class FileTooBig(TelegramError):
    """A file to download is larger than the bound the caller set (Telegram lets bots download 20 MB)."""


class BotApiError(TelegramError):
    """The Bot API answered, and not ok: its HTTP status, its description and its instructions."""

    def __init__(self, status: int, description: str, *, retry_after: float | None = None,
                 migrate_to_chat_id: int | None = None) -> None:
        super().__init__(f"{description} ({status})")
        self.status = status
        self.description = description
        self.retry_after = retry_after  # 429: wait this long
        self.migrate_to_chat_id = migrate_to_chat_id  # the group became this supergroup


class BadRequest(BotApiError):
    """400: this request cannot succeed as it is (chat not found, invalid file_id, message not modified)."""


class Forbidden(BotApiError):
    """403: the bot may not do it (blocked by the user, kicked from the group)."""


class InvalidToken(BotApiError):
    """401 or 404: the bot token was rejected (Telegram answers an unknown token with either)."""


class Conflict(BotApiError):
    """409: another getUpdates is waiting, or a webhook is set."""


class RetryAfter(BotApiError):
    """429 (or any answer with parameters.retry_after): rate limited for `retry_after` seconds."""

    retry_after: float


class ChatMigrated(BotApiError):
    """The group became a supergroup: `migrate_to_chat_id` is where to send."""

    migrate_to_chat_id: int


_BY_STATUS: dict[int, type[BotApiError]] = {
    HTTPStatus.BAD_REQUEST: BadRequest,
    HTTPStatus.FORBIDDEN: Forbidden,
    HTTPStatus.UNAUTHORIZED: InvalidToken,
    HTTPStatus.NOT_FOUND: InvalidToken,
    HTTPStatus.CONFLICT: Conflict,
}


def answer_error(status: int, description: str, *, retry_after: float | None = None,
                 migrate_to_chat_id: int | None = None) -> BotApiError:
    """The error of an answer that is not ok, of the class PTB gave it (other statuses, e.g. 5xx: BotApiError
    itself, temporary)."""
    kind: type[BotApiError]
    if migrate_to_chat_id is not None:
        kind = ChatMigrated
    elif retry_after is not None:
        kind = RetryAfter
    else:
        kind = _BY_STATUS.get(status, BotApiError)
    return kind(status, description, retry_after=retry_after, migrate_to_chat_id=migrate_to_chat_id)


def status_phrase(status: int) -> str:
    """An HTTP status's reason phrase, for an answer that has no description (a file download's)."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown HTTPError"


__all__ = ["BadRequest", "BotApiError", "ChatMigrated", "Conflict", "FileTooBig", "Forbidden", "InvalidToken",
           "NetworkError", "RetryAfter", "TelegramError", "TimedOut", "answer_error", "status_phrase"]
