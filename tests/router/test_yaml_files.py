"""Every YAML file Helpline loads besides the configuration and the FAQ (tested in tests/bot and
tests/faq) goes through the same limits: bot texts (config/messages), vocabularies (router/vocabulary)
and saved replies (config/replies). An alias bomb, deep nesting or an oversized file is refused with
an error naming the file and what is wrong, before anything is built from it."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from channels.slack.replies import load_saved_replies
from router.intents import VOCABULARY_PATH, VocabularyError, load_vocabularies
from router.texts import TextsError, load_texts
from tests.faq.test_bounded_yaml import BILLION_LAUGHS

REPO = Path(__file__).resolve().parents[2]

BAD = {
    "alias bomb": (BILLION_LAUGHS, "aliases expand to more than"),
    "deep nesting": ("deep: " + "[" * 200 + "]" * 200 + "\n", "nested more than"),
    "oversized": ("greeting: \"Hello\"\n" + "# padding\n" * 120_000, "bytes, over the limit"),
}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_bot_texts_over_the_limits_are_refused_naming_the_file(tmp_path: Path, kind: str) -> None:
    folder = tmp_path / "messages"
    shutil.copytree(REPO / "config" / "messages", folder)
    text, expected = BAD[kind]
    (folder / "el.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(TextsError) as raised:
        load_texts(folder, ["en", "el"])
    assert str(folder / "el.yaml") in str(raised.value) and expected in str(raised.value)


@pytest.mark.parametrize("kind", sorted(BAD))
def test_a_vocabulary_over_the_limits_is_refused_naming_the_file(tmp_path: Path, kind: str) -> None:
    folder = tmp_path / "vocabulary"
    shutil.copytree(VOCABULARY_PATH, folder)
    text, expected = BAD[kind]
    (folder / "lv.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(VocabularyError) as raised:
        load_vocabularies(["en", "lv"], path=folder)
    assert str(folder / "lv.yaml") in str(raised.value) and expected in str(raised.value)


@pytest.mark.parametrize("kind", sorted(BAD))
def test_a_saved_reply_over_the_limits_is_left_out_naming_the_file(tmp_path: Path, kind: str,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "greeting.yaml").write_text('en: "Hello $customer_name"\n', encoding="utf-8")
    text, expected = BAD[kind]
    (tmp_path / "bomb.yaml").write_text(text, encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        replies = load_saved_replies(tmp_path)
    assert list(replies) == ["greeting"]  # the good one stays in service
    assert any(str(tmp_path / "bomb.yaml") in record.getMessage() and expected in record.getMessage()
               for record in caplog.records), caplog.text


def test_the_shipped_files_pass() -> None:
    load_texts(REPO / "config" / "messages", ["en", "el", "hu", "lv"])
    load_vocabularies(["en", "el", "hu", "lv"])
    load_saved_replies(REPO / "config" / "replies")
