"""Telegram's outbound splitting and rendering as they were before the fast path (channels/telegram/convert.py at
2ca7b4d), frozen for comparison.

tests/telegram/test_convert_same.py and bench/loopcpu.py run them beside the current code: every request must
stay the same, and the bench says how much cheaper the current code is. Not used by Helpline.
"""

from __future__ import annotations

from typing import Any

from channels.telegram.convert import MAX_MESSAGE_UTF16, escape, keyboard, parse_address
from router.messages import OutboundMessage


def utf16_len(text: str) -> int:
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def split_text(text: str, limit: int = MAX_MESSAGE_UTF16) -> list[str]:
    """Pieces of at most `limit` UTF-16 units that join back to `text`; cut after a newline, else a space."""
    if limit < 2:
        raise ValueError("limit must be at least 2")
    pieces: list[str] = []
    start = 0
    while start < len(text):
        # The longest run from `start` within the limit (a character outside the BMP counts twice).
        units = 0
        end = start
        while end < len(text):
            width = 2 if ord(text[end]) > 0xFFFF else 1
            if units + width > limit:
                break
            units += width
            end += 1
        if end == len(text):
            pieces.append(text[start:])
            break
        half = start + (end - start) // 2
        cut = text.rfind("\n", start, end) + 1
        if cut <= half:
            cut = max(cut, text.rfind(" ", start, end) + 1)
        if cut <= half:
            cut = end  # no good place: cut hard rather than send tiny pieces
        pieces.append(text[start:cut])
        start = cut
    return pieces or [text]


def render_outbound(message: OutboundMessage) -> list[dict[str, Any]]:
    """The sendMessage parameters for `message`: its text split to Telegram's limit, the options on the last."""
    chat_id, thread_id = parse_address(message.address)
    text = message.text if message.text.strip() else ("…" if message.options else message.text)
    pieces = [piece for piece in split_text(text) if piece.strip()] or [text]
    requests: list[dict[str, Any]] = []
    for index, piece in enumerate(pieces):
        params: dict[str, Any] = {"chat_id": chat_id, "text": escape(piece), "parse_mode": "HTML"}
        if thread_id is not None:
            params["message_thread_id"] = thread_id
        if index == 0 and message.reply_to:
            _, _, replied = message.reply_to.rpartition(":")
            if replied.isdigit():
                params["reply_parameters"] = {"message_id": int(replied), "allow_sending_without_reply": True}
        if index == len(pieces) - 1 and message.options:
            params["reply_markup"] = keyboard(message.options)
        requests.append(params)
    return requests
