"""Telegram payloads ⇄ core types: captured updates, edge cases, and properties (hypothesis)."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channels.telegram.convert import (
    MAX_CALLBACK_BYTES,
    BotIdentity,
    Skip,
    callback_data,
    convert_update,
    escape,
    keyboard,
    long_values,
    pressed_message,
    render_outbound,
    split_text,
    utf16_len,
)
from router.messages import InboundMessage, OutboundMessage, QuickReply
from tests.telegram.fake_bot_api import BOT_USER, callback_update, text_update

UPDATES = Path("/work/shared/data/telegram/updates")
if not UPDATES.is_dir():  # CI lays shared/ beside the clone
    UPDATES = Path(__file__).resolve().parents[3] / "shared" / "data" / "telegram" / "updates"
BOT = BotIdentity(id=BOT_USER["id"], username=BOT_USER["username"])
CAPTURED = sorted(UPDATES.glob("*.json"))


def out(text: str, address: str = "5551", options: tuple[QuickReply, ...] = (), **extra: object) -> OutboundMessage:
    return OutboundMessage(id="01OUT", channel="telegram", address=address, text=text, options=options, **extra)


@pytest.mark.skipif(not CAPTURED, reason="the captured updates are not laid out here")
@pytest.mark.parametrize("path", CAPTURED, ids=lambda path: path.stem)
def test_every_captured_update_converts_or_skips_with_a_reason(path: Path) -> None:
    update = json.loads(path.read_text(encoding="utf-8"))
    result = convert_update(update, BOT, now=1.0)
    if isinstance(result, Skip):
        assert result.reason
    else:
        assert isinstance(result, InboundMessage) and result.channel == "telegram"
        assert result.address and result.platform_id and result.sender.id
        assert result.text or result.option or result.attachments


def test_captured_kinds_that_matter_are_converted() -> None:
    if not CAPTURED:
        pytest.skip("the captured updates are not laid out here")
    converted = {path.stem for path in CAPTURED
                 if isinstance(convert_update(json.loads(path.read_text()), BOT), InboundMessage)}
    assert {"message", "text", "command", "callback_query", "edited_message", "contact", "venue"} <= converted
    for skipped in ("inline_query", "poll_answer", "successful_payment", "my_chat_member", "business_connection",
                    "message_reaction_count", "left_chat_member", "pinned_message", "message_general_topic"):
        assert isinstance(convert_update(json.loads((UPDATES / f"{skipped}.json").read_text()), BOT), Skip), skipped


def test_private_text_message() -> None:
    message = convert_update(text_update(7, "Where is my parcel?", chat_id=42, message_id=9, language_code="pt-br"),
                             BOT, now=5.0, make_id=lambda: "ID")
    assert isinstance(message, InboundMessage)
    assert (message.id, message.address, message.text, message.platform_id) == ("ID", "42", "Where is my parcel?",
                                                                                 "42:9")
    assert (message.sender.id, message.sender.name, message.sender.address) == ("42", "Ann Lee", "@ann_lee")
    assert message.language_hint == "pt" and message.received_at == 5.0


def test_start_command_passes_through_without_the_bot_name() -> None:
    message = convert_update(text_update(1, "/start@helpline_test_bot", language_code="el"), BOT)
    assert isinstance(message, InboundMessage) and message.text == "/start" and message.language_hint == "el"


def test_callback_becomes_an_option_with_empty_text() -> None:
    message = convert_update(callback_update(3, "rate:5", chat_id=77, message_id=12), BOT)
    assert isinstance(message, InboundMessage)
    assert (message.option, message.text, message.address, message.platform_id) == ("rate:5", "", "77",
                                                                                   "callback:cbq3")


def test_edit_reaches_the_agent_as_an_edit_of_the_original() -> None:
    update = text_update(4, "My order is 1234", chat_id=42, message_id=9)
    update["edited_message"] = dict(update.pop("message"), edit_date=1700000000)
    message = convert_update(update, BOT)
    assert isinstance(message, InboundMessage)
    assert message.text == "(edited) My order is 1234"
    assert message.reply_to == "42:9" and message.platform_id != "42:9" and "1700000000" in message.platform_id


def test_photo_without_caption_is_described_for_the_agent() -> None:
    update = text_update(5, "")
    del update["message"]["text"]
    update["message"]["photo"] = [
        {"file_id": "small", "file_unique_id": "s", "width": 90, "height": 90, "file_size": 1200},
        {"file_id": "big", "file_unique_id": "b", "width": 1280, "height": 960, "file_size": 122880}]
    message = convert_update(update, BOT)
    assert isinstance(message, InboundMessage)
    assert message.attachments[0].ref == "big" and message.attachments[0].media_type == "image/jpeg"
    assert message.attachments[0].size == 122880
    assert message.text == "[photo: photo.jpg, 120 KB]"


@pytest.mark.parametrize("kind, item, expected_type", [
    ("document", {"file_id": "d1", "file_unique_id": "x", "file_name": "invoice.pdf", "mime_type": "application/pdf",
                  "file_size": 2048}, "application/pdf"),
    ("voice", {"file_id": "v1", "file_unique_id": "x", "duration": 3, "mime_type": "audio/ogg"}, "audio/ogg"),
    ("video", {"file_id": "m1", "file_unique_id": "x", "width": 1, "height": 1, "duration": 1}, "video/mp4"),
    ("sticker", {"file_id": "s1", "file_unique_id": "x", "type": "regular", "width": 512, "height": 512,
                 "is_animated": False, "is_video": False}, "image/webp"),
])
def test_media_reach_the_agent_with_caption_as_text(kind: str, item: dict, expected_type: str) -> None:
    update = text_update(6, "")
    del update["message"]["text"]
    update["message"][kind] = item
    update["message"]["caption"] = "see this"
    message = convert_update(update, BOT)
    assert isinstance(message, InboundMessage)
    assert message.text == "see this"
    assert [(a.ref, a.media_type) for a in message.attachments] == [(item["file_id"], expected_type)]


def test_group_messages_only_when_mentioned_or_replied_to() -> None:
    plain = text_update(8, "anyone here?", chat_id=-100500, chat_type="supergroup", user_id=9)
    assert isinstance(convert_update(plain, BOT), Skip)
    mention = text_update(9, "@helpline_test_bot where is my parcel?", chat_id=-100500, chat_type="supergroup",
                          user_id=9, entities=[{"type": "mention", "offset": 0, "length": 18}])
    message = convert_update(mention, BOT)
    assert isinstance(message, InboundMessage) and message.text == "where is my parcel?"
    assert message.address == "-100500"
    reply = text_update(10, "thanks", chat_id=-100500, chat_type="group", user_id=9,
                        reply_to_message={"message_id": 3, "from": BOT_USER, "chat": {"id": -100500, "type": "group"},
                                          "date": 1, "text": "hi"})
    assert isinstance(convert_update(reply, BOT), InboundMessage)


def test_forum_topic_is_its_own_conversation() -> None:
    update = text_update(11, "@helpline_test_bot help", chat_id=-1007, chat_type="supergroup", user_id=9,
                         message_thread_id=55, is_topic_message=True,
                         entities=[{"type": "mention", "offset": 0, "length": 18}])
    message = convert_update(update, BOT)
    assert isinstance(message, InboundMessage) and message.address == "-1007:55"
    assert render_outbound(out("ok", address="-1007:55"))[0]["message_thread_id"] == 55


def test_channel_posts_and_bots_are_skipped() -> None:
    post = {"update_id": 12, "channel_post": {"message_id": 1, "chat": {"id": -100, "type": "channel"}, "date": 1,
                                              "text": "news"}}
    assert "channel_post" in convert_update(post, BOT).reason  # type: ignore[union-attr]
    bot_message = text_update(13, "hi")
    bot_message["message"]["from"]["is_bot"] = True
    assert isinstance(convert_update(bot_message, BOT), Skip)


def test_text_with_markup_characters_is_escaped_for_html() -> None:
    text = "a < b && c > d *bold* _under_ `code` [x](y) <b>not bold</b>"
    params = render_outbound(out(text))
    assert params[0]["parse_mode"] == "HTML"
    assert html.unescape(params[0]["text"]) == text
    assert "<" not in params[0]["text"] and ">" not in params[0]["text"]


def test_options_become_an_inline_keyboard() -> None:
    rating = tuple(QuickReply(f"rate:{n}", str(n)) for n in range(1, 6))
    keyboard = render_outbound(out("Rate us", options=rating))[0]["reply_markup"]["inline_keyboard"]
    assert keyboard == [[{"text": str(n), "callback_data": f"rate:{n}"} for n in range(1, 6)]]
    suggestions = (QuickReply("pick:shipping-time", "How long does delivery take?"),
                   QuickReply("pick:returns", "How do I return an item?"), QuickReply("none", "None of these"))
    rows = render_outbound(out("Did you mean", options=suggestions))[0]["reply_markup"]["inline_keyboard"]
    assert [row[0]["callback_data"] for row in rows] == ["pick:shipping-time", "pick:returns", "none"]


def test_long_option_values_are_mapped_to_short_tokens() -> None:
    value = "pick:" + "a-very-long-entry-id-" * 5
    message = out("?", options=(QuickReply(value, "Long"),))
    data = render_outbound(message)[0]["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    assert len(data.encode()) <= MAX_CALLBACK_BYTES and data != value
    assert long_values(message) == {data: value}


def test_ten_thousand_character_reply_is_split_within_the_limit() -> None:
    text = "\n".join(f"Line {n}: " + "x" * 90 for n in range(110))[:10_000]
    assert len(text) == 10_000
    params = render_outbound(out(text, options=(QuickReply("yes", "Yes"),), reply_to="5551:77"))
    assert len(params) == 3
    assert all(utf16_len(html.unescape(p["text"])) <= 4096 for p in params)
    assert "".join(html.unescape(p["text"]) for p in params) == text
    assert "reply_markup" in params[-1] and "reply_markup" not in params[0]
    assert params[0]["reply_parameters"] == {"message_id": 77, "allow_sending_without_reply": True}
    assert all(p["text"].endswith("\n") for p in params[:-1])  # cut at line ends


# ------------------------------------------------------------------------------------------- properties

_json_leaf = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
_json = st.recursive(_json_leaf, lambda children: st.lists(children, max_size=4)
                     | st.dictionaries(st.text(max_size=12), children, max_size=5), max_leaves=30)
_field_names = st.sampled_from(["message", "edited_message", "callback_query", "channel_post", "update_id", "from",
                                "chat", "id", "text", "caption", "photo", "document", "sticker", "voice", "data",
                                "message_id", "type", "entities", "file_id", "is_bot", "reply_to_message",
                                "language_code", "edit_date", "username", "is_topic_message", "message_thread_id"])
_telegramish = st.recursive(_json_leaf, lambda children: st.lists(children, max_size=3)
                            | st.dictionaries(_field_names, children, max_size=6), max_leaves=40)


@settings(max_examples=400, deadline=None)
@given(st.one_of(_json, _telegramish))
def test_any_payload_converts_or_skips_cleanly(payload: object) -> None:
    result = convert_update(payload, BOT)
    assert isinstance(result, (InboundMessage, Skip))
    pressed = pressed_message(payload)
    assert pressed is None or all(type(value) is int for value in pressed)


def test_the_pressed_message_is_found_only_in_a_chat() -> None:
    assert pressed_message(callback_update(3, "rate:5", chat_id=77, message_id=12)) == (77, 12)
    inline = callback_update(4, "rate:5")
    del inline["callback_query"]["message"]
    inline["callback_query"]["inline_message_id"] = "AAAB"
    assert pressed_message(inline) is None
    flagged = callback_update(5, "rate:5")
    flagged["callback_query"]["message"]["message_id"] = True
    assert pressed_message(flagged) is None and pressed_message(text_update(6, "hi")) is None


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=200), kind=st.sampled_from(["message", "edited_message"]),
       chat_type=st.sampled_from(["private", "group", "supergroup", "channel", 7]),
       entities=st.lists(st.fixed_dictionaries({"type": st.sampled_from(["mention", "bot_command", "text_mention"]),
                                                "offset": st.integers(-2, 30), "length": st.integers(-1, 30)}),
                         max_size=3))
def test_realistic_messages_with_odd_values_convert_or_skip(text: str, kind: str, chat_type: object,
                                                            entities: list) -> None:
    update = text_update(1, text, chat_type="private", entities=entities)
    update["message"]["chat"]["type"] = chat_type
    update[kind] = update.pop("message")
    assert isinstance(convert_update(update, BOT), (InboundMessage, Skip))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from(["\n", " ", "😀", "<", "&"]), max_size=9000),
       st.integers(min_value=2, max_value=4096))
def test_split_pieces_fit_and_rejoin(text: str, limit: int) -> None:
    pieces = split_text(text, limit)
    assert "".join(pieces) == text
    assert all(utf16_len(piece) <= limit for piece in pieces)
    assert all(pieces) or pieces == [""]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=500))
def test_escaping_round_trips(text: str) -> None:
    assert html.unescape(escape(text)) == text


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=200))
def test_callback_data_always_fits(value: str) -> None:
    data = callback_data(value)
    assert len(data.encode("utf-8", "surrogatepass")) <= MAX_CALLBACK_BYTES


def test_a_longer_scale_goes_in_even_rows_and_skip_on_its_own() -> None:
    nps = (*(QuickReply(f"nps:{n}", str(n)) for n in range(11)), QuickReply("skip", "Skip"))
    rows = [[button["callback_data"] for button in row] for row in keyboard(nps)["inline_keyboard"]]
    assert rows == [[f"nps:{n}" for n in range(6)], [f"nps:{n}" for n in range(6, 11)], ["skip"]]
    ces = (*(QuickReply(f"ces:{n}", str(n)) for n in range(1, 8)), QuickReply("skip", "Skip"))
    rows = [[button["text"] for button in row] for row in keyboard(ces)["inline_keyboard"]]
    assert rows == [["1", "2", "3", "4"], ["5", "6", "7"], ["Skip"]]
    assert keyboard((QuickReply("skip", "Skip"),))["inline_keyboard"] == [[{"text": "Skip", "callback_data": "skip"}]]
