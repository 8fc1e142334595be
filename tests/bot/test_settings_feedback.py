"""The `feedback` settings: the optional questions, and links only with a public address and a secret."""

from __future__ import annotations

import pytest

from bot.app import Helpline
from bot.logs import secrets_of
from bot.settings import SettingsError, parse_settings


def test_defaults_ask_only_the_rating_and_make_no_links() -> None:
    settings = parse_settings("{}\n", "c.yaml", {})
    feedback = settings.feedback
    assert (feedback.nps, feedback.ces, feedback.comment, feedback.public_url, feedback.secret) == (
        False, False, False, "", None)
    assert not Helpline(settings).router.config.feedback.links


def test_a_configured_survey_reaches_the_router_and_the_secret_stays_hidden() -> None:
    text = ("feedback:\n  nps: true\n  comment: true\n  public_url: https://help.example.com/\n"
            "  secret: \"${HELPLINE_FEEDBACK_SECRET}\"\n")
    settings = parse_settings(text, "c.yaml", {"HELPLINE_FEEDBACK_SECRET": "s" * 32})
    assert settings.feedback.public_url == "https://help.example.com"
    assert "s" * 32 not in repr(settings) and "s" * 32 in secrets_of(settings)
    feedback = Helpline(settings).router.config.feedback
    assert feedback.steps == ("nps", "comment") and feedback.links and feedback.secret == b"s" * 32
    assert "s" * 32 not in repr(feedback)


@pytest.mark.parametrize("text, expected", [
    ("feedback:\n  public_url: https://help.example.com\n", "c.yaml:1: feedback: Value error, public_url needs"),
    ("feedback:\n  public_url: https://h.test\n  secret: short\n", "feedback.secret"),
    ("feedback:\n  public_url: help.example.com\n  secret: 0123456789abcdef\n", "feedback.public_url"),
    ("feedback:\n  public_url: \"javascript:alert(1)\"\n  secret: 0123456789abcdef\n", "feedback.public_url"),
    ("feedback:\n  nsp: true\n", "feedback.nsp"),
    ("feedback:\n  late_days: -1\n", "feedback.late_days"),
    ("http: {enabled: false}\nfeedback:\n  public_url: https://h.test\n  secret: 0123456789abcdef\n",
     "the rating links need the HTTP server"),
])
def test_mistakes_are_named(text: str, expected: str) -> None:
    with pytest.raises(SettingsError) as error:
        parse_settings(text, "c.yaml", {})
    assert expected in str(error.value)


def test_an_unset_secret_from_the_environment_means_no_links() -> None:
    settings = parse_settings("feedback:\n  secret: \"${HELPLINE_FEEDBACK_SECRET:-}\"\n", "c.yaml", {})
    assert settings.feedback.secret is None
