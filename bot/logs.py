"""Logging for the `helpline` command: secrets taken out of every line, text or JSON lines.

Secrets are removed twice over, because a library's log line is built from its own arguments (an
HTTP client may log each request's URL, as httpx does, and Telegram's URLs carry the bot token):
once when any logger, ours or a third party's, creates a record (a record factory, so every handler
sees the redacted text), and once more on the formatted line, which also covers tracebacks.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any, TextIO

from pydantic import BaseModel, SecretStr

from router.log_context import current_fields

REDACTED = "***"
MIN_SECRET_CHARS = 6  # shorter "secrets" (a test's "x") would blank out ordinary words
# Secrets recognisable by their shape even when not in the settings (another bot's token in an error).
_SECRET_SHAPES = (
    (re.compile(r"(/bot|/file/bot|\bbot)\d{5,}:[A-Za-z0-9_-]{20,}"), rf"\1{REDACTED}"),  # Telegram bot token
    (re.compile(r"\bx(?:ox[abposr]|app)-[A-Za-z0-9-]{8,}"), REDACTED),  # Slack bot, user and app tokens
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]*):[^@/\s]+@"), rf"\1:{REDACTED}@"),  # password in a URL
)
# Fields a log call may pass with `extra=` that JSON lines keep (ids, never text).
_ID_FIELDS = ("conversation", "case", "channel", "message_id", "entry_id", "worker")


class Redactor:
    """Replaces the configured secret values and anything shaped like a token with ***."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        values = sorted({value for value in secrets if len(value) >= MIN_SECRET_CHARS}, key=len, reverse=True)
        self._values = re.compile("|".join(re.escape(value) for value in values)) if values else None

    def __call__(self, text: str) -> str:
        if self._values is not None:
            text = self._values.sub(REDACTED, text)
        for shape, replacement in _SECRET_SHAPES:
            text = shape.sub(replacement, text)
        return text


def secrets_of(settings: BaseModel) -> list[str]:
    """Every SecretStr value in the settings, however deep (tokens, passwords, the Redis URL)."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, SecretStr):
            secret = value.get_secret_value()
            if re.match(r"^[a-z][a-z0-9+.-]*://", secret):
                # A URL (Redis): only its password is secret; the host stays readable in the logs.
                password = re.match(r"^[a-z][a-z0-9+.-]*://[^:/@\s]*:([^@/\s]+)@", secret)
                found.extend([password.group(1)] if password else [])
            else:
                found.append(secret)
        elif isinstance(value, BaseModel):
            for name in type(value).model_fields:
                walk(getattr(value, name))
            for extra in (value.model_extra or {}).values():
                walk(extra)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)

    walk(settings)
    return found


def install_record_redaction(redact: Callable[[str], str]) -> Callable[[], None]:
    """Redact each record's message as any logger creates it; returns a function that undoes this."""
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a library's bad format string: logging reports it at emit time
            return record
        record.msg, record.args = redact(message), None
        return record

    logging.setLogRecordFactory(factory)
    return lambda: logging.setLogRecordFactory(previous)


class RedactingFormatter(logging.Formatter):
    """The plain text format, with secrets taken out of the whole line (tracebacks included)."""

    def __init__(self, redact: Callable[[str], str]) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, and the conversation and case ids."""

    def __init__(self, redact: Callable[[str], str]) -> None:
        super().__init__()
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(current_fields())
        for name in _ID_FIELDS:
            value = getattr(record, name, None)
            if value not in (None, ""):
                line[name] = str(value)
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["error"] = record.exc_text
        return self.redact(json.dumps(line, ensure_ascii=False, default=str))


def configure_logging(level: str, fmt: str, secrets: Iterable[str] = (), stream: TextIO | None = None,
                      ) -> Callable[[], None]:
    """Log to `stream` (stderr) at `level` as `fmt` ("text" or "json"), secrets redacted.

    Replaces the root logger's handlers; returns a function that restores what was there before.
    """
    redact = Redactor(secrets)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter(redact) if fmt == "json" else RedactingFormatter(redact))
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    root.handlers = [handler]
    root.setLevel(level)
    undo_records = install_record_redaction(redact)

    def restore() -> None:
        undo_records()
        root.handlers = saved_handlers
        root.setLevel(saved_level)

    return restore
