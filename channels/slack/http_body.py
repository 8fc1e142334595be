"""A Slack HTTP request's body checked before anything trusts it: well-formed, then signed.

bolt parses the body (and walks the result) before it checks the signature, so a malformed body
from anyone was a 500 and a traceback. `readable_body` does bolt's parsing safely first, and
`signed` checks the signature on the raw text, so bolt only ever sees signed, parseable bodies.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qsl

from slack_sdk.signature import SignatureVerifier

from channels.safe_json import BadJson, loads_bounded


class BadBody(ValueError):
    """Not a body Slack sends; the message says why."""


def readable_body(body: bytes, content_type: str) -> str:
    """The body as text when it parses as bolt will parse it; BadBody when it does not."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadBody(f"not UTF-8 (byte {error.start})") from None
    if not text:
        return text
    # The same choice as bolt's parse_body: JSON when declared or when it looks like it, else a form.
    if content_type == "application/json" or text.startswith("{"):
        _json_object(text, "the body")
    elif "payload" in text:
        payload = dict(parse_qsl(text, keep_blank_values=True)).get("payload")
        if payload is not None:
            _json_object(payload, "the payload field")
    return text


def _json_object(text: str, what: str) -> None:
    try:
        value = loads_bounded(text)
    except BadJson as error:
        raise BadBody(f"{what} is {error}") from None
    if not isinstance(value, dict):
        raise BadBody(f"{what} is JSON but not an object")


def signed(text: str, headers: Mapping[str, str], signing_secret: str) -> bool:
    """Slack's v0 signature of `text` is valid and at most five minutes old."""
    if not signing_secret:
        return False
    lower = {key.lower(): value for key, value in headers.items()}
    try:
        return SignatureVerifier(signing_secret).is_valid(body=text, timestamp=lower.get("x-slack-request-timestamp"),
                                                         signature=lower.get("x-slack-signature"))
    except (ValueError, TypeError):  # a timestamp that is not a number
        return False
