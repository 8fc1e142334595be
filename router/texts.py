"""The bot's own texts, per language, from `config/messages/<lang>.yaml`."""

from __future__ import annotations

import logging
import string
from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml

from faq.bounded_yaml import YamlLimitError, load_yaml_file

log = logging.getLogger(__name__)

# Keys the router uses; a file lacking one falls back to the default language's text.
TEXT_KEYS = (
    "greeting", "help", "case_opened", "case_opened_on_request", "case_status_queued",
    "case_status_assigned", "case_status_none", "still_queued", "suggest_prompt", "none_of_these",
    "did_this_help", "yes", "no", "glad_to_help", "no_match", "agent_joined", "transferred",
    "released", "resolved", "rating_prompt", "rating_thanks", "reopened", "empty_message", "too_long",
    "thanks_reply", "goodbye", "ack_reply", "rephrase", "talk_to_person", "complaint_opened",
    "case_stays_open", "solved_button", "closed_by_customer", "pick_one", "slow_down",
    "outside_hours", "case_opened_away", "case_opened_on_request_away", "complaint_opened_away", "wait_estimate", "wait_minute", "wait_minutes", "wait_hour", "wait_hours", "wait_day",
    "wait_days", "opens_today", "opens_tomorrow", "opens_on", "weekday_names", "month_names",
    # feedback after a resolve (router/survey.py) and the e-mail rating links' page (bot/feedback_page.py)
    "rating_prompt_email", "rating_already", "rating_stale", "rating_too_late", "nps_prompt", "ces_prompt",
    "comment_prompt", "skip_button", "feedback_thanks", "feedback_page_title", "feedback_page_confirm",
    "feedback_page_button", "feedback_page_thanks", "feedback_page_invalid",
)
# An operator's extra words for the intents (router/intents.py): each list adds to a vocabulary list.
WORD_LIST_KEYS = {"handoff_words": "person_phrases", "yes_words": "yes", "no_words": "no"}


class TextsError(Exception):
    """A messages file is missing or broken; the text names the file."""


class Texts:
    """Renders bot texts in a language, falling back to the default language key by key."""

    def __init__(self, texts: Mapping[str, Mapping[str, str]], words: Mapping[str, Mapping[str, tuple[str, ...]]],
                 languages: Sequence[str]) -> None:
        self._texts = texts
        self._words = words
        self.languages = tuple(languages)

    def render(self, language: str, key: str, **values: object) -> str:
        """The text for `key` in `language` with its `$name` placeholders filled in.

        A placeholder without a value is a bug in the caller, never a text for a customer
        (" has marked case #1002 as resolved"): it raises ValueError.
        """
        template = self._texts.get(language, {}).get(key) or self._texts.get(self.languages[0], {}).get(key)
        if template is None:
            for texts in self._texts.values():
                if key in texts:
                    template = texts[key]
                    break
            else:
                raise KeyError(f"no text {key!r} in any language")
        filled = {name: str(value) for name, value in values.items() if str(value).strip()}
        missing = sorted(set(placeholders(template)) - set(filled))
        if missing:
            raise ValueError(f"text {key!r} ({language}) needs {', '.join('$' + name for name in missing)}")
        return string.Template(template).substitute(filled)

    def words(self, key: str) -> dict[str, tuple[str, ...]]:
        """A word list (e.g. handoff_words) per language."""
        return {language: words.get(key, ()) for language, words in self._words.items()}

    def extra_vocabulary(self) -> dict[str, dict[str, tuple[str, ...]]]:
        """The operator's extra words per language, under the names of the vocabulary lists they add to."""
        extra: dict[str, dict[str, tuple[str, ...]]] = {}
        for language, words in self._words.items():
            lists = extra.setdefault(language, {})
            for key, values in words.items():
                target = WORD_LIST_KEYS[key]
                if target == "person_phrases":
                    # A word alone ("agent") asks for a person only in a short message, as `person` words do.
                    lists["person"] = tuple(value for value in values if len(value.split()) == 1)
                    values = tuple(value for value in values if len(value.split()) > 1)
                lists[target] = (*lists.get(target, ()), *values)
        return extra


def placeholders(template: str) -> list[str]:
    """The `$name` / `${name}` placeholders of a template, in order."""
    return [match.group("named") or match.group("braced") for match in string.Template.pattern.finditer(template)
            if match.group("named") or match.group("braced")]


def load_texts(path: Path, languages: Sequence[str]) -> Texts:
    """Read `<lang>.yaml` for every configured language; the default language's file must exist."""
    texts: dict[str, dict[str, str]] = {}
    words: dict[str, dict[str, tuple[str, ...]]] = {}
    for language in languages:
        file = path / f"{language}.yaml"
        if not file.exists():
            if language == languages[0]:
                raise TextsError(f"{file}: missing: the default language needs its bot texts")
            log.warning("no bot texts for %s (%s): using %s", language, file, languages[0])
            continue
        try:
            data = load_yaml_file(file)
        except YamlLimitError as error:
            raise TextsError(str(error)) from None  # names the file and the line already
        except (yaml.YAMLError, OSError, UnicodeDecodeError) as error:
            raise TextsError(f"{file}: cannot read: {error}") from None
        if not isinstance(data, dict):
            raise TextsError(f"{file}: expected a mapping of text keys")
        texts[language] = {}
        words[language] = {}
        for key, value in data.items():
            if isinstance(key, bool):
                key = "yes" if key else "no"  # YAML 1.1 reads an unquoted `yes:` key as true
            if isinstance(value, bool):
                raise TextsError(f"{file}: {key}: write the text in quotes (YAML reads a bare yes/no as true/false)")
            if key in WORD_LIST_KEYS:
                if not isinstance(value, list) or not all(isinstance(word, str) for word in value):
                    raise TextsError(f"{file}: {key}: expected a list of words")
                words[language][key] = tuple(word.strip() for word in value if word.strip())
            elif isinstance(value, str):
                texts[language][key] = value.strip()
            else:
                raise TextsError(f"{file}: {key}: expected text")
        missing = [key for key in TEXT_KEYS if key not in texts[language]]
        if missing and language == languages[0]:
            raise TextsError(f"{file}: missing keys: {', '.join(missing)}")
        if missing:
            log.warning("%s lacks %s: the %s text is used", file, ", ".join(missing), languages[0])
    return Texts(texts, words, languages)
