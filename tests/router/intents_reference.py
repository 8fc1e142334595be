"""The intents reader as it was before it was indexed (router/intents.py at 61b83ae), frozen for comparison.

tests/router/test_intents_same.py and bench/intents.py run it beside the current reader: every decision must
stay the same, and the bench says how much cheaper the current one is. Not used by the router.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

import yaml
from rapidfuzz.distance import OSA

from faq.bounded_yaml import YamlLimitError, load_yaml_file
from faq.normalize import has_greek, latin_key, normalize

VOCABULARY_PATH = Path(__file__).with_name("vocabulary")

# How far into a long message intents are looked for: a complaint or a request for a person comes early.
MAX_SCANNED_TOKENS = 200
# Small talk, yes/no and ratings make up a whole message, so a long one is none of them.
MAX_SMALL_TALK_TOKENS = 12
# A word for a person alone is a request only in a message this short ("agent please", "a human!").
MAX_BARE_PERSON_TOKENS = 4
# Words before a phrase that turn it around ("not solved", "δεν λύθηκε").
NEGATION_REACH = 3

_COMMANDS_FOR_PERSON = {"/human", "/agent", "/operator", "/person"}
_RATING_NUMBER = re.compile(r"^\s*([1-5])\s*(?:/\s*5|(?:out\s+)?of\s+5|stars?|[★⭐*]+)?\s*[.!]*\s*$", re.IGNORECASE)
_STARS = re.compile(r"^\s*([★⭐]\ufe0f?\s*){1,5}[.!]*\s*$")
_NUMBER = re.compile(r"^\s*(?:#|no\.?\s*|nr\.?\s*)?(\d{1,2})\s*[.)]?\s*$", re.IGNORECASE)
_HAS_WORD = re.compile(r"\w")
QUESTION_MARKS = ("?", ";", "\u037e", "？")  # Greek writes its question mark as ";" (or U+037E)

# Emoji say as much as words do; normalisation would drop them.
_EMOJI_SMALL_TALK = {
    "👍": "ack", "👌": "ack", "🙂": "ack", "😊": "ack", "😀": "ack", "😃": "ack", "🆗": "ack", "✅": "ack",
    "👏": "ack", "💯": "ack", "❤": "thanks", "❤️": "thanks", "🙏": "thanks", "🥰": "thanks", "👋": "greeting",
}


class SmallTalk(StrEnum):
    GREETING = "greeting"
    THANKS = "thanks"
    GOODBYE = "goodbye"
    ACK = "ack"


# When a message mixes them ("ok thanks, bye"), the one that matters most for the reply wins.
_SMALL_TALK_WEIGHT = {SmallTalk.THANKS: 3, SmallTalk.GOODBYE: 2, SmallTalk.GREETING: 1, SmallTalk.ACK: 0}
_LIST_KEYS = ("greeting", "thanks", "goodbye", "ack", "filler", "yes", "no", "person", "talk", "person_phrases",
              "complaint", "case", "status", "status_alone", "solved", "negation")


class VocabularyError(Exception):
    """A vocabulary file is missing or broken; the text names the file."""


@dataclass(frozen=True, slots=True)
class Token:
    """A word of a message, normalised (accents off), and in the coarse Latin spelling Greek and Greeklish share."""

    plain: str
    latin: str


# Every message is checked against every listed phrase that starts with its words' initials (~700
# comparisons a message); the same words come back in message after message, so the answers are
# remembered (a bounded cache: it took a read from ~1.0 to ~0.4 ms of CPU).
@lru_cache(maxsize=65_536)
def _close(token: str, key: str, stem: bool, typos: bool = True) -> bool:
    if stem:
        if token.startswith(key):
            return True
        if not typos:
            return False
        width = len(key)
        return width >= 5 and len(token) >= width - 1 and min(
            OSA.distance(token[:cut], key) for cut in (width - 1, width, width + 1)) <= 1
    if token == key:
        return True
    if not typos:
        return False
    limit = 2 if len(key) >= 12 else 1 if len(key) >= 5 else 0
    return limit > 0 and abs(len(token) - len(key)) <= limit and OSA.distance(token, key) <= limit


@dataclass(frozen=True, slots=True)
class _Word:
    plain: str
    latin: str
    stem: bool  # listed with a trailing *: any ending matches
    greek: bool  # written in Greek letters, so Greeklish may spell it in Latin ones

    def matches(self, token: Token, latin: bool, typos: bool = True) -> bool:
        # Typos are forgiven in the plain spelling only: the coarse one already merges many letters, and
        # a typo on top of it would merge unrelated words ("collect" and "connect").
        return _close(token.plain, self.plain, self.stem, typos) or (
            latin and self.greek and _close(token.latin, self.latin, self.stem, typos=False))


@dataclass(frozen=True, slots=True)
class _Phrase:
    words: tuple[_Word, ...]
    languages: frozenset[str]

    def match_at(self, tokens: Sequence[Token], start: int, latin: bool, typos: bool) -> bool:
        if start + len(self.words) > len(tokens):
            return False
        # A plain loop, not all() over a generator: this runs ~600 times a message, most failing at once.
        for offset, word in enumerate(self.words):
            if not word.matches(tokens[start + offset], latin, typos):
                return False
        return True


@dataclass
class _PhraseList:
    """Phrases looked up by their first letter (in either spelling): a typo in the first letter is rare,
    and looking only there keeps a long message fast."""

    typos: bool = True  # False for short function words, where one letter changes the meaning ("want", "wasnt")
    phrases: dict[tuple[_Word, ...], _Phrase] = field(default_factory=dict)
    by_initial: dict[str, list[_Phrase]] = field(default_factory=dict)

    def add(self, phrase: _Phrase) -> None:
        existing = self.phrases.get(phrase.words)
        if existing is not None:
            phrase = _Phrase(phrase.words, existing.languages | phrase.languages)
        self.phrases[phrase.words] = phrase
        first = phrase.words[0]
        for initial in {first.plain[:1], first.latin[:1]}:
            bucket = [item for item in self.by_initial.get(initial, []) if item.words != phrase.words]
            bucket.append(phrase)
            bucket.sort(key=lambda item: -len(item.words))  # longest first: "thank you so much" before "thank"
            self.by_initial[initial] = bucket

    def remove(self, words: tuple[_Word, ...]) -> None:
        del self.phrases[words]
        for initial, bucket in self.by_initial.items():
            self.by_initial[initial] = [item for item in bucket if item.words != words]

    def at(self, tokens: Sequence[Token], start: int, latin: bool) -> _Phrase | None:
        """The longest phrase that matches at `start` (with `latin`, also in the coarse Latin spelling)."""
        token = tokens[start]
        candidates = self.by_initial.get(token.plain[:1], [])
        if latin and token.latin[:1] != token.plain[:1]:
            candidates = sorted([*candidates, *self.by_initial.get(token.latin[:1], [])],
                                key=lambda item: -len(item.words))
        for phrase in candidates:
            if phrase.match_at(tokens, start, latin, self.typos):
                return phrase
        return None

    def find(self, tokens: Sequence[Token], latin: bool) -> list[tuple[int, _Phrase]]:
        """Every (position, phrase) that matches somewhere in `tokens`."""
        found = []
        for start in range(len(tokens)):
            phrase = self.at(tokens, start, latin)
            if phrase is not None:
                found.append((start, phrase))
        return found


@dataclass(frozen=True, slots=True)
class Reading:
    """What a message says to the bot itself; several may hold at once."""

    small_talk: SmallTalk | None = None
    language: str | None = None  # the language the small talk or yes/no was said in, when only one has it
    yes: bool = False
    no: bool = False
    wants_person: bool = False
    complaint: bool = False
    asks_case_status: bool = False
    solved: bool = False
    rating: int | None = None
    wordless: bool = False  # no letters or digits at all ("???", "...")


def tokens_of(text: str) -> list[Token]:
    """The message's words, in both spellings the vocabulary is compared in."""
    return [Token(word, latin_key(word)) for word in normalize(text).split()]


class Intents:
    """Recognises the conversation-level intents of every configured language at once."""

    def __init__(self, vocabularies: Mapping[str, Mapping[str, object]]) -> None:
        self._lists: dict[str, _PhraseList] = {key: _PhraseList(typos=key != "negation") for key in _LIST_KEYS}
        self._ratings: dict[int, _PhraseList] = {score: _PhraseList() for score in range(1, 6)}
        for language, vocabulary in vocabularies.items():
            for key in _LIST_KEYS:
                self._add(self._lists[key], vocabulary.get(key, ()), language)  # type: ignore[arg-type]
            ratings = vocabulary.get("rating") or {}
            for score, words in ratings.items():  # type: ignore[attr-defined]
                self._add(self._ratings[int(score)], words, language)
        # "great", "perfect", "labi" after the rating prompt are an "ok, thanks", not five stars: a word that
        # acknowledges or thanks is never read as a rating, so CSAT holds only ratings customers meant.
        acknowledging = {words for key in ("ack", "thanks", "yes") for words in self._lists[key].phrases}
        for ratings_list in self._ratings.values():
            for words in [words for words in ratings_list.phrases if words in acknowledging]:
                ratings_list.remove(words)

    @staticmethod
    def _add(target: _PhraseList, entries: Iterable[str], language: str) -> None:
        for entry in entries:
            words: list[_Word] = []
            for raw in str(entry).split():
                stem = raw.endswith("*")
                words.extend(_Word(token.plain, token.latin, stem, has_greek(token.plain))
                             for token in tokens_of(raw.rstrip("*")))
            if words:
                target.add(_Phrase(tuple(words), frozenset({language})))

    def read(self, text: str) -> Reading:
        """Everything the message says to the bot itself."""
        stripped = text.strip()
        if not stripped:
            return Reading()
        first = stripped.split(maxsplit=1)[0].casefold()
        if first in _COMMANDS_FOR_PERSON:
            return Reading(wants_person=True)
        asks = stripped.endswith(QUESTION_MARKS)
        emoji_talk = self._emoji_small_talk(stripped)
        if emoji_talk is not None:
            return Reading(small_talk=emoji_talk)
        if _STARS.match(stripped):
            return Reading(rating=sum(stripped.count(star) for star in "★⭐"))
        if not _HAS_WORD.search(stripped):
            return Reading(wordless=True)
        tokens = tokens_of(stripped)[:MAX_SCANNED_TOKENS]
        if not tokens:
            return Reading(wordless=True)
        # Words as spelled first; only a message that says nothing to the bot that way is read again in
        # the coarse Latin spelling, for Greeklish. In one pass Latvian "nē" (no) and Greek "ναι" (yes),
        # both "ne" in Latin letters, would read as yes and no at once.
        reading = self._read(stripped, tokens, latin=False)
        if reading == Reading():
            reading = self._read(stripped, tokens, latin=True)
        if asks and reading.solved:
            # "Is it solved yet?" asks; it does not say so.
            reading = replace(reading, solved=False)
        return reading

    def _read(self, text: str, tokens: Sequence[Token], latin: bool) -> Reading:
        small_talk, talk_language = self._small_talk(tokens, latin)
        yes, yes_language = self._whole(tokens, "yes", latin)
        no, no_language = self._whole(tokens, "no", latin)
        # No language from a bare status word: "status", "statuss", "státusz" are one word to the typo-forgiving lists.
        status_alone, _ = self._whole(tokens, "status_alone", latin)
        return Reading(
            small_talk=small_talk, language=talk_language or yes_language or no_language, yes=yes, no=no,
            wants_person=self._wants_person(tokens, latin), complaint=self._said(tokens, "complaint", latin),
            asks_case_status=(bool(self._lists["case"].find(tokens, latin))
                              and bool(self._lists["status"].find(tokens, latin)))
            or status_alone,
            solved=self._said(tokens, "solved", latin), rating=self._rating(text, tokens, latin))

    # -- the parts ---------------------------------------------------------------------------
    @staticmethod
    def _emoji_small_talk(text: str) -> SmallTalk | None:
        kinds = []
        for piece in text.replace("\ufe0f", "").split():
            kind = _EMOJI_SMALL_TALK.get(piece) or (
                _EMOJI_SMALL_TALK.get(piece[0]) if piece and all(char == piece[0] for char in piece) else None)
            if kind is None:
                return None
            kinds.append(SmallTalk(kind))
        return max(kinds, key=_SMALL_TALK_WEIGHT.__getitem__) if kinds else None

    def _cover(self, tokens: Sequence[Token], keys: Sequence[str],
               latin: bool) -> tuple[set[str], set[frozenset[str]]] | None:
        """Which of `keys` cover the whole message (filler words aside), and the languages of what matched."""
        if len(tokens) > MAX_SMALL_TALK_TOKENS:
            return None
        found: set[str] = set()
        languages: set[frozenset[str]] = set()
        position = 0
        while position < len(tokens):
            best: tuple[str, _Phrase] | None = None
            for key in keys:
                phrase = self._lists[key].at(tokens, position, latin)
                if phrase is not None and (best is None or len(phrase.words) > len(best[1].words)):
                    best = (key, phrase)
            if best is not None:
                found.add(best[0])
                languages.add(best[1].languages)
                position += len(best[1].words)
                continue
            filler = self._lists["filler"].at(tokens, position, latin)
            if filler is None:
                return None
            position += len(filler.words)
        return (found, languages) if found else None

    def _small_talk(self, tokens: Sequence[Token], latin: bool) -> tuple[SmallTalk | None, str | None]:
        covered = self._cover(tokens, [kind.value for kind in SmallTalk], latin)
        if covered is None:
            return None, None
        kinds, languages = covered
        kind = max((SmallTalk(name) for name in kinds), key=_SMALL_TALK_WEIGHT.__getitem__)
        return kind, _one_language(languages)

    def _whole(self, tokens: Sequence[Token], key: str, latin: bool) -> tuple[bool, str | None]:
        # "yes thanks", "no, not really": yes/no together with small talk still answer the question.
        covered = self._cover(tokens, [key, *(kind.value for kind in SmallTalk)], latin)
        if covered is None or key not in covered[0]:
            return False, None
        return True, _one_language(covered[1])

    def _negated(self, tokens: Sequence[Token], start: int, latin: bool) -> bool:
        before = tokens[max(0, start - NEGATION_REACH):start]
        return any(self._lists["negation"].at(before, index, latin) for index in range(len(before)))

    def _said(self, tokens: Sequence[Token], key: str, latin: bool) -> bool:
        """A phrase of `key` somewhere in the message, not negated ("not solved", "no complaints")."""
        return any(not self._negated(tokens, start, latin) for start, _ in self._lists[key].find(tokens, latin))

    def _wants_person(self, tokens: Sequence[Token], latin: bool) -> bool:
        if self._said(tokens, "person_phrases", latin):
            return True
        people = [start for start, _ in self._lists["person"].find(tokens, latin)
                  if not self._negated(tokens, start, latin)]
        if not people:
            return False
        return len(tokens) <= MAX_BARE_PERSON_TOKENS or bool(self._lists["talk"].find(tokens, latin))

    def _rating(self, text: str, tokens: Sequence[Token], latin: bool) -> int | None:
        number = _RATING_NUMBER.match(text)
        if number:
            return int(number.group(1))
        if len(tokens) > MAX_SMALL_TALK_TOKENS // 2:
            return None
        best: tuple[int, int] | None = None  # (phrase length, score)
        for score, phrases in self._ratings.items():
            for start, phrase in phrases.find(tokens, latin):
                if self._negated(tokens, start, latin) and len(phrase.words) == 1:
                    continue
                if best is None or len(phrase.words) > best[0]:
                    best = (len(phrase.words), score)
        return best[1] if best else None


def _one_language(languages: set[frozenset[str]]) -> str | None:
    """The one language every matched phrase belongs to, if there is exactly one."""
    common: frozenset[str] | None = None
    for group in languages:
        common = group if common is None else common & group
    return next(iter(common)) if common and len(common) == 1 else None


def choice_in(text: str, count: int) -> int | None:
    """A number 1..count typed to pick from a numbered list ("2", "2.", "#2"), else None."""
    match = _NUMBER.match(text)
    if match and 1 <= int(match.group(1)) <= count:
        return int(match.group(1))
    return None


def option_named(text: str, labels: Sequence[str]) -> int | None:
    """The index of the option whose label the customer typed (in their own words, part of it), else None.

    The words typed must point at one label more than at any other: "gift wrapping" picks "Do you offer
    gift wrapping?" from three options, "delivery" picks nothing when two labels speak of delivery.
    """
    typed = [token for token in tokens_of(text) if len(token.plain) >= 3]
    if not typed or len(typed) > MAX_SMALL_TALK_TOKENS:
        return None
    overlaps = []
    for label in labels:
        words = [_Word(token.plain, token.latin, stem=False, greek=has_greek(token.plain))
                 for token in tokens_of(label) if len(token.plain) >= 3]
        overlaps.append(sum(1 for token in typed if any(word.matches(token, latin=True) for word in words)))
    best = max(range(len(labels)), key=overlaps.__getitem__, default=None)
    if best is None or overlaps[best] * 2 < len(typed) or overlaps.count(overlaps[best]) > 1:
        return None
    return best


def load_vocabularies(languages: Sequence[str], extra: Mapping[str, Mapping[str, Sequence[str]]] | None = None,
                      path: Path = VOCABULARY_PATH) -> dict[str, dict[str, object]]:
    """The shipped vocabulary of each language, with an operator's extra words (per language, per list) added."""
    vocabularies: dict[str, dict[str, object]] = {}
    for language in languages:
        file = path / f"{language}.yaml"
        vocabulary: dict[str, object] = {}
        vocabularies[language] = vocabulary
        for list_name, words in (extra or {}).get(language, {}).items():
            vocabulary[list_name] = list(words)
        if not file.exists():
            continue  # a language without its own words still has every other language's
        try:
            data = load_yaml_file(file)
        except YamlLimitError as error:
            raise VocabularyError(str(error)) from None  # names the file and the line already
        except (yaml.YAMLError, OSError, UnicodeDecodeError) as error:
            raise VocabularyError(f"{file}: cannot read: {error}") from None
        if not isinstance(data, dict):
            raise VocabularyError(f"{file}: expected a mapping of word lists")
        for raw_key, value in data.items():
            key = {True: "yes", False: "no"}.get(raw_key, raw_key)  # YAML 1.1 reads a bare yes/no key as a boolean
            if key == "rating":
                if not isinstance(value, dict) or not all(str(score) in "12345" for score in value):
                    raise VocabularyError(f"{file}: rating: expected lists under 1 to 5")
                vocabulary[key] = {int(score): _word_list(file, f"rating.{score}", words)
                                   for score, words in value.items()}
            elif key in _LIST_KEYS:
                vocabulary[key] = [*_word_list(file, str(key), value), *vocabulary.get(key, ())]  # type: ignore[misc]
            else:
                raise VocabularyError(f"{file}: unknown list {key!r}; lists: {', '.join(_LIST_KEYS)}, rating")
    return vocabularies


def _word_list(file: Path, key: str, value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(word, (str, int, float)) and not isinstance(word, bool)
                                              for word in value):
        raise VocabularyError(f"{file}: {key}: expected a list of words (quote yes, no, on and off)")
    return [str(word) for word in value if str(word).strip()]
