"""Outbound splitting with a fast path and a binary search cuts where it cut before
(tests/telegram/convert_reference.py): the same pieces for any text and limit, the same sendMessage requests for
real answers, long ones, entities, emoji and lone surrogates, with customers' text still HTML-escaped."""

from __future__ import annotations

import html
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from channels.telegram.convert import MAX_MESSAGE_UTF16, render_outbound, split_text, utf16_len
from router.messages import OutboundMessage, QuickReply
from tests.telegram import convert_reference as reference

FAQ = Path(__file__).resolve().parents[2] / "config" / "faq"
# What makes cutting hard: emoji (two UTF-16 units, some joined by ZWJ or skin tones), lone surrogates, markup
# the customer typed, line ends and spaces at every distance from the limit.
_UGLY_CHARS = st.sampled_from(["\n", " ", "😀", "👍🏽", "👨\u200d👩\u200d👧", "<", ">", "&", "&amp;", "\ud83d", "\udc00",
                               "ā", "Ω", "\u200b", "\r\n", "\t", "<b>", "</a>", "𝕏"])
ugly_text = st.lists(st.text(max_size=40) | _UGLY_CHARS, max_size=400).map("".join)


def answers() -> list[str]:
    texts = []
    for path in sorted(FAQ.glob("*.yaml")):
        for entry in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("entries", []):
            texts += [str(answer) for answer in (entry.get("answer") or {}).values()]
    return texts


def long_texts() -> list[str]:
    line = "Line: <b>bold</b> & 😀 emoji 👍🏽 and ā ē ī ū; "
    return [
        "\n".join(f"{n}. " + line * 3 for n in range(200)),
        "😀" * 5000, "a" * 4096, "a" * 4097, "😀" * 2048, "😀" * 2047 + "ab", "a" + "😀" * 2048,
        ("x" * 4095 + " ") * 3, ("y" * 2000 + "\n") * 7, "\ud800" * 9000, " " * 10_000, "\n" * 5000,
        "word " * 3000, ("https://example.com/" + "p" * 200 + " ") * 40,
    ]


def out(text: str, **extra: object) -> OutboundMessage:
    fields: dict[str, object] = {"address": "5551", **extra}
    return OutboundMessage(id="o1", channel="telegram", text=text, conversation="c1", **fields)  # type: ignore[arg-type]


@settings(max_examples=400, deadline=None)
@given(ugly_text, st.integers(min_value=2, max_value=300) | st.just(MAX_MESSAGE_UTF16))
def test_any_text_splits_as_before(text: str, limit: int) -> None:
    assert split_text(text, limit) == reference.split_text(text, limit)
    assert utf16_len(text) == reference.utf16_len(text)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=9000), st.integers(min_value=2, max_value=4096))
def test_any_unicode_splits_as_before(text: str, limit: int) -> None:
    assert split_text(text, limit) == reference.split_text(text, limit)


@pytest.mark.parametrize("limit", [2, 3, 5, 4095, 4096, 4097])
def test_long_texts_split_as_before(limit: int) -> None:
    for text in long_texts():
        assert split_text(text, limit) == reference.split_text(text, limit)


def test_too_small_a_limit_is_still_refused() -> None:
    for limit in (1, 0, -5):
        with pytest.raises(ValueError, match="limit must be at least 2"):
            split_text("", limit)


def test_real_answers_render_as_before() -> None:
    texts = answers() + long_texts()
    assert len(texts) > 20
    options = (QuickReply("yes", "Yes"), QuickReply("no", "No"), QuickReply("pick:" + "x" * 80, "Long"))
    for text in [*texts, "", "   ", "\n", "<script>alert(1)</script> & co"]:
        for extra in ({}, {"options": options, "reply_to": "5551:77"}, {"address": "-1007:55"}):
            message = out(text, **extra)
            assert render_outbound(message) == reference.render_outbound(message)


@settings(max_examples=200, deadline=None)
@given(ugly_text)
def test_customer_text_stays_escaped(text: str) -> None:
    requests = render_outbound(out(text))
    assert requests == reference.render_outbound(out(text))
    if text.strip():
        assert "".join(html.unescape(request["text"]) for request in requests).strip() in text
        assert all("<" not in request["text"] and ">" not in request["text"] for request in requests)
