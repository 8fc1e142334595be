"""How e-mail shows a survey question: links, and a scale on one line (pure functions)."""

from __future__ import annotations

from channels.email.compose import render_html, render_text
from router.messages import Link, OutboundMessage, QuickReply

RATING = tuple(QuickReply(f"rate:{n}", str(n)) for n in range(1, 6))
NPS = (*(QuickReply(f"nps:{n}", str(n)) for n in range(11)), QuickReply("skip", "Skip"))


def message(**fields: object) -> OutboundMessage:
    return OutboundMessage(id="m1", channel="email", address="<root@x>", text="How would you rate it?",
                           **fields)  # type: ignore[arg-type]


def test_links_are_listed_in_text_and_linked_in_html() -> None:
    links = tuple(Link(f"{n}/5", f"https://help.example.test/feedback/1042.0.{n}.sig") for n in range(1, 6))
    mail = message(options=RATING, links=links)
    text = render_text(mail)
    assert "5/5: https://help.example.test/feedback/1042.0.5.sig" in text and "1) " not in text
    html = render_html(mail)
    assert '<a href="https://help.example.test/feedback/1042.0.3.sig"' in html and ">3/5</a>" in html


def test_link_labels_and_addresses_are_escaped_and_only_http_is_linked() -> None:
    links = (Link('<b>"x"</b>', 'https://h.test/feedback/a"onmouseover="alert(1)'), Link("bad", "javascript:alert(1)"))
    html = render_html(message(links=links))
    assert "<b>" not in html and '"onmouseover' not in html and "&lt;b&gt;" in html
    assert "javascript:" not in html.split("<p>", 2)[-1].split("bad")[0] and 'href="javascript' not in html


def test_a_scale_is_one_line_of_its_labels() -> None:
    text = render_text(message(options=NPS))
    assert "0 · 1 · 2 · 3 · 4 · 5 · 6 · 7 · 8 · 9 · 10 · Skip" in text and ") " not in text
    assert "<li>" not in render_html(message(options=NPS))
