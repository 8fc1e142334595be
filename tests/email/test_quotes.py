"""Reply stripping: reply headers of many clients and languages, signatures, inline answers."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channels.email.html import html_to_text
from channels.email.quotes import split_reply

CRISP = Path("/work/shared/data/email/replies/crisp_email_reply_parser")
ZAPIER = Path("/work/shared/data/email/replies/zapier_email_reply_parser")
LOREM_END = "et mollis ligula rutrum quis. Fusce sed odio id arcu varius aliquet nec nec nibh."


@pytest.mark.parametrize("header", [
    "On Mon, 4 Mar 2024 at 10:15, Helpline <support@example.com> wrote:",
    "Στις Δευ, 4 Μαρ 2024 στις 10:15 π.μ., ο/η Helpline <support@example.com> έγραψε:",
    "Στις 4/3/2024 10:15 π.μ., Helpline έγραψε:",
    "pirmd., 2024. g. 4. marts, plkst. 10:15 — lietotājs Helpline (<support@example.com>) rakstīja:",
    "Helpline <support@example.com> rakstīja:",
    "2024. márc. 4., h 10:15 Helpline <support@example.com> ezt írta:",
    "Helpline <support@example.com> (2024. március 4., hétfő) írta:",
    "Am 04.03.2024 um 10:15 schrieb Helpline <support@example.com>:",
    "Le lun. 4 mars 2024 à 10:15, Helpline <support@example.com> a écrit :",
    "El lun, 4 mar 2024 a las 10:15, Helpline (<support@example.com>) escribió:",
    "W dniu 04.03.2024 o 10:15, Helpline pisze:" if False else "W dniu 04.03.2024 o 10:15 Helpline napisał(a):",
    "4 марта 2024 г., в 10:15, Helpline <support@example.com> написал(а):",
    "On 4 Mar 2024, at 10:15, Helpline <support@example.com> wrote:",
    "2024年3月4日 10:15 Helpline <support@example.com> 写道：",
    "2024年3月4日(月) 10:15 Helpline <support@example.com>:",
    "Op ma 4 mrt 2024 om 10:15 schreef Helpline <support@example.com>:",
    "Den mån 4 mars 2024 kl 10:15 skrev Helpline <support@example.com>:",
    "pirmadienis, 2024 m. kovo 4 d. 10:15, Helpline <support@example.com> rašė:",
])
def test_reply_headers_in_many_languages(header: str) -> None:
    body = f"Thank you, it works now.\n\n{header}\n\n> Please restart the router.\n> Helpline"
    split = split_reply(body)
    assert split.text == "Thank you, it works now."
    assert split.quoted.startswith(header.split()[0])


def test_gmail_header_split_over_lines() -> None:
    body = ("Yes please.\n\nOn Mon, Mar 4, 2024 at 10:15 AM Customer Support Team <\nsupport@example.com> wrote:\n\n"
            "> Shall we refund?\n")
    assert split_reply(body).text == "Yes please."


@pytest.mark.parametrize("block", [
    ("-----Original Message-----\nFrom: Helpline [mailto:support@example.com]\nSent: Monday, March 4, 2024 10:15 AM\n"
     "To: Ann\nSubject: RE: Order [#1042]\n\nPlease restart the router."),
    ("________________________________\nFrom: Helpline <support@example.com>\nSent: Monday, March 4, 2024 10:15\n"
     "To: Ann <ann@example.com>\nSubject: Order [#1042]\n\nPlease restart the router."),
    ("Από: Helpline <support@example.com>\nΣτάλθηκε: Δευτέρα, 4 Μαρτίου 2024 10:15 πμ\nΠρος: Ann\nΘέμα: Order\n\n"
     "Please restart the router."),
    "Feladó: Helpline <support@example.com>\nKüldve: 2024. március 4. 10:15\nCímzett: Ann\nTárgy: Order\n\nPlease.",
    "No: Helpline <support@example.com>\nNosūtīts: pirmdiena, 2024. gada 4. martā 10:15\nKam: Ann\nTēma: Order\n\nX",
])
def test_outlook_blocks(block: str) -> None:
    split = split_reply(f"Still broken.\n\nAnn\n\n{block}")
    assert split.text == "Still broken.\n\nAnn"
    assert "restart" in split.quoted or split.quoted.endswith(("Please.", "X"))


def test_signatures_and_mobile_footers() -> None:
    assert split_reply("Fine now.\n\n-- \nAnn Customer\n+371 2000000").signature.startswith("--")
    split = split_reply("Fine now.\n\nSent from my iPhone\n\nOn 4 Mar 2024, at 10:15, X <x@y.z> wrote:\n> hi")
    assert split.text == "Fine now." and split.signature == "Sent from my iPhone"
    assert split_reply("Sent from my desk, which is easier.").text == "Sent from my desk, which is easier."


def test_inline_answers_are_kept() -> None:
    body = "On Mon, 4 Mar 2024 at 10:15, H <h@x.com> wrote:\n> Which model?\nThe X200.\n> Which colour?\nRed."
    split = split_reply(body)
    assert "The X200." in split.text and "Red." in split.text and "Which model?" not in split.text


def test_words_like_on_and_wrote_in_the_text_are_not_headers() -> None:
    body = "On the whole it works.\nMy colleague wrote: it breaks on Mondays.\nOn Monday it broke."
    assert split_reply(body).text == body


@pytest.mark.skipif(not CRISP.exists(), reason="shared reply fixtures not found")
@pytest.mark.parametrize("name", [
    "email_7", "email_8", "email_10", "email_12", "email_13", "email_14", "email_15", "email_16", "email_22",
    "email_23", "email_24", "email_25", "email_26", "email_german", "email_german_2", "email_german_3",
    "email_german_outlook", "email_finnish", "email_french_dash_separator", "email_danish_dash_separator",
    "email_italian", "email_portuguese", "email_russian", "email_norwegian_gmail", "email_ios_outlook",
    "email_msn", "email_original_message", "email_outlook_split_line_from", "email_gmail_split_line_from",
    "email_tricky_5_mixed_languages", "email_tricky_10_special_chars_in_name", "email_tricky_14_long_quote_header",
])
def test_crisp_lorem_replies_end_where_the_customer_stopped(name: str) -> None:
    split = split_reply((CRISP / f"{name}.txt").read_text())
    assert split.text.startswith("Fusce bibendum")
    assert split.text.endswith(LOREM_END), split.text[-200:]
    assert split.quoted


@pytest.mark.skipif(not CRISP.exists(), reason="shared reply fixtures not found")
@pytest.mark.parametrize("name", [
    "email_tricky_1_on_false_positive", "email_tricky_2_url_with_wrote", "email_tricky_4_from_in_body",
    "email_tricky_6_regards_in_sentence", "email_tricky_7_multiple_dashes", "email_tricky_8_sent_from_in_content",
    "email_tricky_13_timestamp_variations", "email_not_a_signature_2", "email_sent_from_my_not_signature",
])
def test_crisp_tricky_texts_are_left_whole(name: str) -> None:
    text = (CRISP / f"{name}.txt").read_text()
    split = split_reply(text)
    assert split.quoted == "" and split.text == text.strip("\n").rstrip()


@pytest.mark.skipif(not ZAPIER.exists(), reason="shared reply fixtures not found")
@pytest.mark.parametrize("name,text", [
    ("email_1_3", "Oh thanks.\n\nHaving the function would be great.\n\n-Abhishek Kona"),
    ("email_1_4", "Awesome! I haven't had another problem with it."),
    ("email_1_6", "I get proper rendering as well."),
    ("email_1_7", ":+1:"),
    ("email_2_1", "Outlook with a reply"),
    ("email_2_2", "Outlook with a reply directly above line"),
    ("email_2_3", "Outlook with a reply above headers using unusual format"),
    ("email_BlackBerry", "Here is another email"),
    ("email_iPhone", "Here is another email"),
    ("email_gmail", "This is a test for inbox replying to a github message."),
    ("email_headers_no_delimiter", "And another reply!"),
    ("pathological", ("I think you're onto something. I will try to fix the problem as soon as I\n"
                      "get back to a computer.")),
])
def test_zapier_replies(name: str, text: str) -> None:
    assert split_reply((ZAPIER / f"{name}.txt").read_text()).text == text


# --- nothing ever raises, and nothing is lost --------------------------------------------------------------

LINES = st.sampled_from(["> quoted", "On Mon, 4 Mar 2024 at 10:15, A <a@b.c> wrote:", "-- ", "Sent from my iPhone",
                         "From: A <a@b.c>", "Sent: Monday", "To: B", "Subject: x", "________________", "", "text",
                         "Στις 4/3/2024 10:15, ο/η A έγραψε:", "A <a@b.c> rakstīja:", "A <a@b.c> írta:"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(LINES, st.text(max_size=60)), max_size=30))
def test_split_reply_never_raises_and_keeps_or_quotes_every_line(lines: list[str]) -> None:
    body = "\n".join(lines)
    split = split_reply(body)
    kept = f"{split.text}\n{split.signature}\n{split.quoted}"
    for line in body.replace("\r", "\n").split("\n"):
        assert line.strip() in kept


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("<>/=\"' abcdivpbrqotelkhms&;#x0123456789\n")), max_size=400))
def test_html_to_text_never_raises(markup: str) -> None:
    assert isinstance(html_to_text(markup), str)


def test_a_customer_quoting_themselves_in_prose_is_not_cut() -> None:
    body = "Hi,\n\nOn Monday I wrote:\nmy order is late\n\nAny news?"
    assert split_reply(body).text == body
