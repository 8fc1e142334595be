"""Telegram payloads ⇄ core message types, as pure functions (no network, no Redis, no clock).

`convert_update` turns one Bot API Update (a decoded JSON object) into an `InboundMessage`, or a
`Skip` that says why it is not for the router. `render_outbound` turns an `OutboundMessage` into
the `sendMessage` parameters of one or more Telegram messages.
"""

from __future__ import annotations

import hashlib
import html
import re
from bisect import bisect_left
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from router.messages import (
    Attachment,
    InboundMessage,
    OutboundMessage,
    QuickReply,
    Sender,
    new_id,
)

CHANNEL = "telegram"
MAX_MESSAGE_UTF16 = 4096  # Telegram's limit for one message's text (after entity parsing), in UTF-16 units
MAX_CALLBACK_BYTES = 64  # Telegram's limit for an inline button's callback_data
CALLBACK_TOKEN_MARK = "~"  # callback_data starting with this stands for a longer value kept in Redis
EDITED_PREFIX = "(edited) "
# Telegram itself allows 4,096 characters of text and 64 of a name; a self-hosted Bot API server or
# a forged webhook may send more. Longer is cut here (the router still finds it too long and says so).
MAX_TEXT_CHARS = 16_000
MAX_NAME_CHARS = 200


@dataclass(frozen=True, slots=True)
class Skip:
    """An update that reaches no one, and why (logged by the adapter)."""

    reason: str


@dataclass(frozen=True, slots=True)
class BotIdentity:
    """Who the bot is: needed to tell whether a group message is addressed to it."""

    id: int = 0
    username: str = ""


# ---------------------------------------------------------------------------------------------- inbound


class _Malformed(Exception):
    """A payload field has the wrong shape; the update is skipped with this text as the reason."""


def _obj(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _Malformed(f"{what} is not an object")
    return value


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Malformed(f"{what} is not an integer")
    return value


def _opt_str(value: Any, what: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _Malformed(f"{what} is not a string")
    return value


def _opt_int(value: Any, what: str) -> int:
    return 0 if value is None else _int(value, what)


# Update kinds that carry a customer's message in a chat.
_MESSAGE_KINDS = ("message", "edited_message")
# Every other kind Telegram sends today; listed so the skip reason names them plainly.
_OTHER_KINDS = (
    "channel_post", "edited_channel_post", "business_connection", "business_message", "edited_business_message",
    "deleted_business_messages", "message_reaction", "message_reaction_count", "inline_query",
    "chosen_inline_result", "shipping_query", "pre_checkout_query", "purchased_paid_media", "poll", "poll_answer",
    "my_chat_member", "chat_member", "chat_join_request", "chat_boost", "removed_chat_boost", "managed_bot",
)
# Message contents we pass on as a file the agent can fetch: (field, default name, default media type).
_FILE_KINDS = (
    ("document", "document", "application/octet-stream"),
    ("video", "video.mp4", "video/mp4"),
    ("animation", "animation.mp4", "video/mp4"),
    ("audio", "audio.mp3", "audio/mpeg"),
    ("voice", "voice.ogg", "audio/ogg"),
    ("video_note", "video_note.mp4", "video/mp4"),
)


def convert_update(update: Any, bot: BotIdentity = BotIdentity(), now: float = 0.0,
                   make_id: Callable[[], str] = new_id) -> InboundMessage | Skip:
    """One Update → an InboundMessage for the router, or a Skip naming why not. Never raises."""
    try:
        update = _obj(update, "update")
        update_id = _int(update.get("update_id"), "update_id")
        for kind in _MESSAGE_KINDS:
            if kind in update:
                return _from_message(_obj(update[kind], kind), kind == "edited_message", bot, now, make_id)
        if "callback_query" in update:
            return _from_callback(_obj(update["callback_query"], "callback_query"), now, make_id)
        for kind in _OTHER_KINDS:
            if kind in update:
                return Skip(f"update {update_id}: {kind} is not handled")
        known = sorted(key for key in update if key != "update_id")
        return Skip(f"update {update_id}: unknown kind {', '.join(map(str, known)) or '(empty)'}")
    except _Malformed as error:
        return Skip(f"malformed update: {error}")
    except RecursionError:
        return Skip("malformed update: nested too deeply")


def callback_query_id(update: Any) -> str | None:
    """The id to answer (answerCallbackQuery) when `update` is a button press, whatever else it holds."""
    if isinstance(update, Mapping):
        query = update.get("callback_query")
        if isinstance(query, Mapping) and isinstance(query.get("id"), str) and query["id"]:
            return query["id"]
    return None


def pressed_message(update: Any) -> tuple[int, int] | None:
    """(chat id, message id) of the chat message whose button `update` presses; None for anything else
    (a message sent in inline mode has no chat message to edit)."""
    query = update.get("callback_query") if isinstance(update, Mapping) else None
    message = query.get("message") if isinstance(query, Mapping) else None
    chat = message.get("chat") if isinstance(message, Mapping) else None
    if not isinstance(message, Mapping) or not isinstance(chat, Mapping):
        return None
    chat_id, message_id = chat.get("id"), message.get("message_id")
    if isinstance(chat_id, int) and not isinstance(chat_id, bool) \
            and isinstance(message_id, int) and not isinstance(message_id, bool):
        return chat_id, message_id
    return None


def _sender(user: Mapping[str, Any]) -> Sender:
    user_id = _int(user.get("id"), "from.id")
    name = " ".join(part for part in (_opt_str(user.get("first_name"), "from.first_name"),
                                      _opt_str(user.get("last_name"), "from.last_name")) if part)
    username = _opt_str(user.get("username"), "from.username")
    return Sender(id=str(user_id), name=(name or (f"@{username}" if username else str(user_id)))[:MAX_NAME_CHARS],
                  address=f"@{username[:MAX_NAME_CHARS]}" if username else "")


def _language_hint(user: Mapping[str, Any]) -> str | None:
    # Telegram sends IETF tags ("en", "pt-br"); the router knows plain language codes.
    code = _opt_str(user.get("language_code"), "from.language_code").split("-")[0].strip().lower()
    return code or None


def _address(chat_id: int, message: Mapping[str, Any]) -> str:
    # Forum topics are separate conversations; the general topic and ordinary chats are the chat itself.
    thread = message.get("message_thread_id")
    if message.get("is_topic_message") is True and isinstance(thread, int) and not isinstance(thread, bool):
        return f"{chat_id}:{thread}"
    return str(chat_id)


def parse_address(address: str) -> tuple[int | str, int | None]:
    """An address → (chat_id, message_thread_id or None); inverse of how inbound addresses are made."""
    chat, _, thread = address.partition(":")
    chat_id: int | str = int(chat) if chat.lstrip("-").isdigit() else chat
    return chat_id, int(thread) if thread.isdigit() else None


def platform_id(chat_id: int | str, message_id: int) -> str:
    return f"{chat_id}:{message_id}"


def _from_message(message: Mapping[str, Any], edited: bool, bot: BotIdentity, now: float,
                  make_id: Callable[[], str]) -> InboundMessage | Skip:
    message_id = _int(message.get("message_id"), "message.message_id")
    chat = _obj(message.get("chat"), "message.chat")
    chat_id = _int(chat.get("id"), "message.chat.id")
    chat_type = _opt_str(chat.get("type"), "message.chat.type")
    if chat_type == "channel":
        return Skip(f"message {chat_id}:{message_id}: channel post")
    if "from" not in message:
        return Skip(f"message {chat_id}:{message_id}: no sender (sent on behalf of a chat)")
    user = _obj(message.get("from"), "message.from")
    if user.get("is_bot") is True:
        return Skip(f"message {chat_id}:{message_id}: sent by a bot")
    text = _opt_str(message.get("text"), "message.text")
    entities = message.get("entities")
    if not text:
        text = _opt_str(message.get("caption"), "message.caption")
        entities = message.get("caption_entities")
    attachments = _attachments(message)
    if not text and not attachments:
        text = _described_content(message)
    if not text and not attachments:
        content = sorted(key for key in message if key not in _ENVELOPE)
        return Skip(f"message {chat_id}:{message_id}: nothing to pass on ({', '.join(content) or 'empty'})")
    if chat_type in ("group", "supergroup"):
        addressed, text = _addressed_in_group(message, text, entities, bot)
        if not addressed:
            return Skip(f"message {chat_id}:{message_id}: group message not addressed to the bot")
    else:
        text = _strip_command_suffix(text, bot)
    if not text and attachments:
        text = " ".join(_describe_attachment(kind, item) for kind, item in attachments)
    reply_to = None
    if edited:
        edit_date = _opt_int(message.get("edit_date"), "message.edit_date")
        text = EDITED_PREFIX + text
        reply_to = platform_id(chat_id, message_id)
        pid = f"{platform_id(chat_id, message_id)}:edited:{edit_date}"
    else:
        pid = platform_id(chat_id, message_id)
        original = message.get("reply_to_message")
        if isinstance(original, Mapping) and isinstance(original.get("message_id"), int):
            reply_to = platform_id(chat_id, original["message_id"])
    return InboundMessage(
        id=make_id(), channel=CHANNEL, address=_address(chat_id, message), sender=_sender(user),
        text=text[:MAX_TEXT_CHARS], attachments=tuple(item for _, item in attachments), platform_id=pid, received_at=now,
        language_hint=_language_hint(user), reply_to=reply_to)


# Fields every message has; what remains names its content in a skip reason.
_ENVELOPE = {"message_id", "from", "chat", "date", "edit_date", "sender_chat", "message_thread_id",
             "is_topic_message", "reply_to_message", "author_signature", "has_protected_content", "entities",
             "caption_entities", "via_bot", "is_from_offline", "sender_boost_count", "business_connection_id",
             "forward_origin", "is_automatic_forward", "external_reply", "quote", "reply_markup"}


def _attachments(message: Mapping[str, Any]) -> list[tuple[str, Attachment]]:
    found: list[tuple[str, Attachment]] = []
    photo = message.get("photo")
    if photo is not None:
        if not isinstance(photo, list) or not photo:
            raise _Malformed("message.photo is not a list of sizes")
        sizes = [_obj(size, "message.photo[]") for size in photo]
        largest = max(sizes, key=lambda size: (_opt_int(size.get("width"), "photo.width")
                                               * _opt_int(size.get("height"), "photo.height"),
                                               _opt_int(size.get("file_size"), "photo.file_size")))
        found.append(("photo", _file(largest, "photo", "photo.jpg", "image/jpeg")))
    sticker = message.get("sticker")
    if sticker is not None:
        sticker = _obj(sticker, "message.sticker")
        if sticker.get("is_animated") is True:
            name, media_type = "sticker.tgs", "application/x-tgsticker"
        elif sticker.get("is_video") is True:
            name, media_type = "sticker.webm", "video/webm"
        else:
            name, media_type = "sticker.webp", "image/webp"
        found.append(("sticker", _file(sticker, "sticker", name, media_type)))
    for kind, default_name, default_type in _FILE_KINDS:
        if kind == "document" and "animation" in message:
            continue  # Telegram sends an animation as both; one is enough
        item = message.get(kind)
        if item is not None:
            found.append((kind, _file(_obj(item, f"message.{kind}"), kind, default_name, default_type)))
    return found


def _file(item: Mapping[str, Any], kind: str, default_name: str, default_type: str) -> Attachment:
    file_id = _opt_str(item.get("file_id"), f"{kind}.file_id")
    if not file_id:
        raise _Malformed(f"{kind} has no file_id")
    name = _opt_str(item.get("file_name"), f"{kind}.file_name") or default_name
    media_type = _opt_str(item.get("mime_type"), f"{kind}.mime_type") or default_type
    return Attachment(name=name, media_type=media_type, size=max(0, _opt_int(item.get("file_size"), f"{kind}.file_size")),
                      ref=file_id)


def _describe_attachment(kind: str, attachment: Attachment) -> str:
    """What an agent sees for a file sent without a caption, e.g. "[photo: photo.jpg, 120 KB]"."""
    size = attachment.size
    if size >= 1024 * 1024:
        shown = f", {size / (1024 * 1024):.1f} MB"
    elif size:
        shown = f", {max(1, round(size / 1024))} KB"
    else:
        shown = ""
    return f"[{kind.replace('_', ' ')}: {attachment.name}{shown}]"


def _described_content(message: Mapping[str, Any]) -> str:
    """Contacts, places and locations as a line of text an agent can read."""
    contact = message.get("contact")
    if contact is not None:
        contact = _obj(contact, "message.contact")
        name = " ".join(part for part in (_opt_str(contact.get("first_name"), "contact.first_name"),
                                          _opt_str(contact.get("last_name"), "contact.last_name")) if part)
        return f"[contact: {name}, {_opt_str(contact.get('phone_number'), 'contact.phone_number')}]"
    venue = message.get("venue")
    if venue is not None:
        venue = _obj(venue, "message.venue")
        return (f"[place: {_opt_str(venue.get('title'), 'venue.title')}, "
                f"{_opt_str(venue.get('address'), 'venue.address')}]")
    location = message.get("location")
    if location is not None:
        location = _obj(location, "message.location")
        latitude, longitude = location.get("latitude"), location.get("longitude")
        if not all(isinstance(value, (int, float)) and not isinstance(value, bool) for value in (latitude, longitude)):
            raise _Malformed("location has no coordinates")
        return f"[location: {latitude:.5f}, {longitude:.5f}]"
    return ""


def _addressed_in_group(message: Mapping[str, Any], text: str, entities: Any, bot: BotIdentity) -> tuple[bool, str]:
    """Whether a group message is for the bot (mention, command to it, reply to it); the text without the mention."""
    original = message.get("reply_to_message")
    if isinstance(original, Mapping) and isinstance(original.get("from"), Mapping):
        author = original["from"]
        if bot.id and author.get("id") == bot.id:
            return True, _strip_command_suffix(text, bot)
    mention = f"@{bot.username}".lower() if bot.username else ""
    addressed = False
    cuts: list[tuple[int, int]] = []
    for entity in entities if isinstance(entities, list) else ():
        if not isinstance(entity, Mapping):
            continue
        start, length = _entity_span(text, entity)
        if start is None:
            continue
        piece = text[start:start + length]
        kind = entity.get("type")
        if kind == "mention" and mention and piece.lower() == mention:
            addressed = True
            cuts.append((start, length))
        elif kind == "text_mention" and bot.id and isinstance(entity.get("user"), Mapping) \
                and entity["user"].get("id") == bot.id or kind == "bot_command" and mention and piece.lower().endswith(mention):
            addressed = True
    if not addressed:
        return False, text
    for start, length in sorted(cuts, reverse=True):
        text = text[:start] + text[start + length:]
    return True, _strip_command_suffix(" ".join(text.split()) if cuts else text, bot)


def _entity_span(text: str, entity: Mapping[str, Any]) -> tuple[int | None, int]:
    # Entity offsets count UTF-16 code units; Python strings count code points.
    offset, length = entity.get("offset"), entity.get("length")
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0 \
            or not isinstance(length, int) or isinstance(length, bool) or length < 0:
        return None, 0
    units = 0
    start = None
    for index, char in enumerate(text):
        if units == offset:
            start = index
        if start is not None and units >= offset + length:
            return start, index - start
        units += 2 if ord(char) > 0xFFFF else 1
    if start is None:
        return None, 0
    return start, len(text) - start


def _strip_command_suffix(text: str, bot: BotIdentity) -> str:
    """"/start@our_bot hi" → "/start hi": the router knows commands without the bot's name."""
    if not text.startswith("/") or not bot.username:
        return text
    head, space, rest = text.partition(" ")
    command, at, name = head.partition("@")
    if at and name.lower() == bot.username.lower():
        return command + space + rest
    return text


def _from_callback(query: Mapping[str, Any], now: float, make_id: Callable[[], str]) -> InboundMessage | Skip:
    query_id = _opt_str(query.get("id"), "callback_query.id")
    user = _obj(query.get("from"), "callback_query.from")
    data = query.get("data")
    if not isinstance(data, str) or not data:
        return Skip(f"callback {query_id}: no data (a game button or an empty press)")
    message = query.get("message")
    if not isinstance(message, Mapping):
        return Skip(f"callback {query_id}: on an inline message, not in a chat")
    chat = _obj(message.get("chat"), "callback_query.message.chat")
    chat_id = _int(chat.get("id"), "callback_query.message.chat.id")
    message_id = _opt_int(message.get("message_id"), "callback_query.message.message_id")
    return InboundMessage(
        id=make_id(), channel=CHANNEL, address=_address(chat_id, message), sender=_sender(user), text="",
        platform_id=f"callback:{query_id}", received_at=now, language_hint=_language_hint(user), option=data,
        reply_to=platform_id(chat_id, message_id) if message_id else None)


# --------------------------------------------------------------------------------------------- outbound


def callback_data(value: str) -> str:
    """The callback_data for an option value: the value itself when it fits, else a token for it."""
    if len(value.encode("utf-8")) <= MAX_CALLBACK_BYTES and not value.startswith(CALLBACK_TOKEN_MARK):
        return value
    return long_value_token(value)


def long_value_token(value: str) -> str:
    """A short, stable stand-in for a long option value (the adapter keeps the value in Redis under it)."""
    return CALLBACK_TOKEN_MARK + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:40]


def is_long_value_token(data: str) -> bool:
    return data.startswith(CALLBACK_TOKEN_MARK)


# Characters outside the BMP: two UTF-16 units each (a surrogate pair), one for every other character.
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def utf16_len(text: str) -> int:
    return len(text) + len(_ASTRAL.findall(text))


def split_text(text: str, limit: int = MAX_MESSAGE_UTF16) -> list[str]:
    """Pieces of at most `limit` UTF-16 units that join back to `text`; cut after a newline, else a space."""
    if limit < 2:
        raise ValueError("limit must be at least 2")
    if len(text) <= limit and (len(text) * 2 <= limit or utf16_len(text) <= limit):
        return [text]  # most answers: one piece, found without walking the text
    astral = [match.start() for match in _ASTRAL.finditer(text)]
    pieces: list[str] = []
    start = 0
    while start < len(text):
        end = _longest_run(astral, start, min(len(text), start + limit), limit)
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
    return pieces


def _longest_run(astral: list[int], start: int, most: int, limit: int) -> int:
    """The largest end (start < end <= most) with text[start:end] within `limit` UTF-16 units.

    `astral` holds the positions of the characters that count twice, so the units of a run are its length plus
    how many of them it holds: a binary search over the end, not a walk over the characters.
    """
    before = bisect_left(astral, start)

    def units(end: int) -> int:
        return end - start + bisect_left(astral, end, before) - before

    if units(most) <= limit:
        return most
    low, high = start + 1, most  # units(low) <= 2 <= limit < units(high)
    while high - low > 1:
        middle = (low + high) // 2
        if units(middle) <= limit:
            low = middle
        else:
            high = middle
    return low


def escape(text: str) -> str:
    """Text for parse_mode HTML that shows exactly as written: every <, > and & escaped."""
    return html.escape(text, quote=False)


def keyboard(options: tuple[QuickReply, ...]) -> dict[str, Any]:
    """Quick replies as an inline keyboard: short ones (ratings, yes/no) side by side, others one a row.

    A longer scale (0-10, 1-7) goes in even rows of at most six numbers, whatever follows it (Skip)
    on a row of its own.
    """
    buttons = [{"text": option.label or option.value, "callback_data": callback_data(option.value)}
               for option in options]
    side_by_side = len(options) <= 5 and sum(len(option.label) for option in options) <= 24
    if side_by_side:
        return {"inline_keyboard": [buttons]}
    rows: list[list[dict[str, Any]]] = []
    numbers: list[dict[str, Any]] = []
    for option, button in zip(options, buttons):
        if option.label.isdigit():
            numbers.append(button)
            continue
        rows += _even_rows(numbers)
        numbers = []
        rows.append([button])
    rows += _even_rows(numbers)
    return {"inline_keyboard": rows}


def _even_rows(buttons: list[dict[str, Any]], most: int = 6) -> list[list[dict[str, Any]]]:
    if not buttons:
        return []
    count = -(-len(buttons) // most)
    size = -(-len(buttons) // count)
    return [buttons[start:start + size] for start in range(0, len(buttons), size)]


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


def long_values(message: OutboundMessage) -> dict[str, str]:
    """Token → value for the options of `message` too long for callback_data (to be kept in Redis)."""
    return {callback_data(option.value): option.value for option in message.options
            if callback_data(option.value) != option.value}
