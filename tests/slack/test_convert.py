"""Property tests for the pure converters: arbitrary payloads and text never raise; escaping is airtight."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from channels.slack import convert

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children,
                                                                                       max_size=6),
                    max_leaves=25)
KEYS = st.sampled_from(["type", "event", "subtype", "user", "channel", "ts", "thread_ts", "text", "message",
                        "previous_message", "files", "bot_id", "actions", "container", "channel_type", "edited"])
SLACKISH = st.recursive(st.none() | st.text(max_size=12) | st.integers() | st.sampled_from(
    ["event_callback", "message", "app_mention", "message_changed", "block_actions", "hl_claim", "hl_option",
     "1042:billing", "im", "D123", "C123"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(KEYS, children, max_size=8), max_leaves=30)
_ENTITY = re.compile(r"&(amp|lt|gt);")


@given(SLACKISH | JSON)
@settings(max_examples=300)
def test_payload_converters_never_raise(payload: object) -> None:
    convert.message_of(payload, "UBOT", "BBOT")
    convert.message_of({"type": "event_callback", "event": payload})
    convert.event_id(payload)
    convert.event_type(payload)
    interaction = convert.interaction_of(payload)
    if isinstance(interaction, convert.Interaction):
        convert.desk_choice(interaction)
        convert.option_message(interaction)
    convert.parse_command(payload)


@given(st.text())
def test_escaped_text_has_no_raw_markup(text: str) -> None:
    escaped = convert.escape(text)
    assert "<" not in escaped and ">" not in escaped
    assert _ENTITY.sub("", escaped).count("&") == 0
    assert convert.unescape(escaped) == text


@given(st.text(), st.integers(min_value=5, max_value=60))
def test_split_escaped_keeps_limits_and_entities(text: str, limit: int) -> None:
    pieces = convert.split_escaped(text, limit)
    for piece in pieces:
        assert len(piece) <= limit and "<" not in piece and ">" not in piece
        assert _ENTITY.sub("", piece).count("&") == 0  # no entity cut in two


@given(st.text())
def test_markup_rendering_never_raises_and_leaves_no_slack_syntax(text: str) -> None:
    rendered = convert.render_markup(text, {"U1": "Ann"})
    assert "\x00" not in rendered or "\x00" in text


def test_markup_examples() -> None:
    assert convert.render_markup("*bold* _it_ ~gone~ `code` <@U1> <@U2|bob> <#C1|general> <!here>",
                                 {"U1": "Ann"}) == "bold it gone code @Ann @bob #general @here"
    assert convert.render_markup("<https://a.example/x_y_z|the page> <mailto:a@b.c|a@b.c>") == \
        "the page (https://a.example/x_y_z) a@b.c"
    assert convert.render_markup("• one\n• two\n&lt;3 &amp; more") == "- one\n- two\n<3 & more"


@given(st.text(max_size=200), st.lists(st.tuples(st.text(max_size=90), st.text(max_size=50)), max_size=30))
def test_message_payloads_respect_slack_limits(text: str, options: list[tuple[str, str]]) -> None:
    from router.messages import QuickReply

    payloads = convert.message_payloads(text, tuple(QuickReply(value, label) for label, value in options))
    for payload in payloads:
        assert len(payload["text"]) <= convert.MESSAGE_LIMIT
        for block in payload.get("blocks", []):
            if block["type"] == "section":
                assert len(block["text"]["text"]) <= convert.SECTION_LIMIT
            else:
                assert len(block["elements"]) <= convert.MAX_BUTTONS
                assert all(len(button["text"]["text"]) <= convert.OPTION_TEXT_LIMIT for button in block["elements"])


def test_long_text_is_split_at_slack_limits() -> None:
    payloads = convert.message_payloads("word " * 20_000)
    assert len(payloads) == 3 and all(len(payload["text"]) <= convert.MESSAGE_LIMIT for payload in payloads)
    assert "blocks" in payloads[0] and len(payloads[0]["blocks"]) <= 14
