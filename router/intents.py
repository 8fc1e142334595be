"""What a customer's words mean for the conversation itself, rather than for the FAQ.

Small talk, yes and no, asking for a person, complaining, asking about one's case, saying it is
solved, a rating: recognised in every configured language at once from the word lists in
`router/vocabulary/<lang>.yaml` (and the operator's extra words in `config/messages`).

Words are compared in one coarse Latin spelling (`faq.latin_key` of the normalised text), so accents,
case, punctuation and Greek typed in Latin letters ("efxaristw") don't matter; longer words forgive
a typo or two, and a listed word ending in `*` matches any ending, which covers inflection.

Reading is on every message's path, so nothing is compared phrase by phrase: each message word is
looked up once in an index of all listed words (`_WordIndex`, remembered for words that come back),
and each list is a tree of phrases walked along the message's words. It decides exactly as the
phrase-by-phrase reader did (tests/router/test_intents_same.py runs both), ~10x cheaper.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

import yaml
from rapidfuzz import process
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
_SMALL_TALK_KEYS = tuple(kind.value for kind in SmallTalk)
_LIST_KEYS = ("greeting", "thanks", "goodbye", "ack", "filler", "yes", "no", "person", "talk", "person_phrases",
              "complaint", "case", "status", "status_alone", "solved", "negation")


class VocabularyError(Exception):
    """A vocabulary file is missing or broken; the text names the file."""


@dataclass(frozen=True, slots=True)
class Token:
    """A word of a message, normalised (accents off), and in the coarse Latin spelling Greek and Greeklish share."""

    plain: str
    latin: str


# A message's word is compared with the listed words its spelling comes close to (see `_WordIndex`);
# the same words come back in message after message, so the answers are remembered (bounded).
WORD_CACHE_SIZE = 65_536
WORD_SETS_CACHE_SIZE = 16_384  # message words, each with what it matches: under 10 MB when full of rare words


@lru_cache(maxsize=WORD_CACHE_SIZE)
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


class _WordIndex:
    """Every listed word of every list, numbered, and which of them a message's word matches.

    A message's word is looked up once instead of being compared with each listed phrase: exact
    spellings and stems by their prefixes in dictionaries, typos through the words' one-letter-deleted
    spellings (two words one typo apart share one), the few longest words by rapidfuzz. Those only
    find candidates: `_close` still decides every typo, so the answers are `_Word.matches`'s.
    """

    def __init__(self) -> None:
        self.ids: dict[_Word, int] = {}
        self._exact: dict[str, list[int]] = {}
        self._stems: dict[str, list[int]] = {}
        self._latin_exact: dict[str, list[int]] = {}
        self._latin_stems: dict[str, list[int]] = {}
        self._typo_words: dict[str, list[int]] = {}  # words of 5 letters or more, which forgive a typo
        self._typo_stems: dict[str, list[int]] = {}  # the same for stems
        self._near_words: dict[str, set[str]] = {}  # a typo word's spellings with a letter left out -> the word
        self._near_stems: dict[str, set[str]] = {}
        self._long_words: list[str] = []  # words that forgive two typos (`_close`), compared one by one
        self._stem_widths: set[int] = set()
        self._longest_stem = 0
        # Bounded: words that never come back only push out old ones; a worker's common words stay.
        self.sets = lru_cache(maxsize=WORD_SETS_CACHE_SIZE)(self._sets)

    def add(self, word: _Word) -> int:
        number = self.ids.get(word)
        if number is not None:
            return number
        number = self.ids[word] = len(self.ids)
        self.sets.cache_clear()
        (self._stems if word.stem else self._exact).setdefault(word.plain, []).append(number)
        if word.greek:
            (self._latin_stems if word.stem else self._latin_exact).setdefault(word.latin, []).append(number)
        if word.stem:
            self._longest_stem = max(self._longest_stem, len(word.plain), len(word.latin))
        if len(word.plain) >= 5:
            typo_list, near = (self._typo_stems, self._near_stems) if word.stem else (self._typo_words, self._near_words)
            typo_list.setdefault(word.plain, []).append(number)
            if word.stem:
                self._stem_widths.add(len(word.plain))
            if not word.stem and len(word.plain) >= 12:
                self._long_words.append(word.plain)
            for spelling in _one_left_out(word.plain):
                near.setdefault(spelling, set()).add(word.plain)
        return number

    def _sets(self, plain: str, latin: str) -> tuple[frozenset[int], frozenset[int], frozenset[int], frozenset[int]]:
        """The words `plain` (spelled `latin` coarsely) matches: with typos, without, and each also in Latin letters."""
        strict = set(self._exact.get(plain, ()))
        for cut in range(min(len(plain), self._longest_stem) + 1):
            strict.update(self._stems.get(plain[:cut], ()))
        loose = set(strict)
        words = {key for spelling in _one_left_out(plain) for key in self._near_words.get(spelling, ())}
        if len(plain) >= 10:
            words.update(key for key, _, _ in process.extract(plain, self._long_words, scorer=OSA.distance,
                                                              score_cutoff=2, limit=None))
        for key in words:
            if _close(plain, key, False):
                loose.update(self._typo_words[key])
        # A stem forgives a typo in the message word's first letters, cut to the stem's length or one off it.
        prefixes = {plain[:cut] for width in self._stem_widths if len(plain) >= width - 1
                    for cut in (width - 1, width, width + 1)}
        stems = {key for prefix in prefixes for spelling in _one_left_out(prefix)
                 for key in self._near_stems.get(spelling, ())}
        for key in stems:
            if _close(plain, key, True):
                loose.update(self._typo_stems[key])
        in_latin = set(self._latin_exact.get(latin, ()))
        for cut in range(min(len(latin), self._longest_stem) + 1):
            in_latin.update(self._latin_stems.get(latin[:cut], ()))
        # Most words match nothing (one shared empty set) or the same few words in every way (one set for
        # all four), so the cache's entries stay small: a few hundred bytes each at most.
        shared: dict[frozenset[int], frozenset[int]] = {_NOTHING: _NOTHING}
        return tuple(shared.setdefault(frozenset(found), frozenset(found))  # type: ignore[return-value]
                     for found in (loose, strict, loose | in_latin, strict | in_latin))


_NOTHING: frozenset[int] = frozenset()


def _one_left_out(word: str) -> set[str]:
    """`word` and its spellings with one letter left out: words one typo apart (OSA) share one of them."""
    return {word, *(word[:cut] + word[cut + 1:] for cut in range(len(word)))}


class _Scan:
    """One message read in one spelling: for each of its words, the listed words it matches."""

    __slots__ = ("tokens", "latin", "loose", "strict", "anywhere")

    def __init__(self, tokens: Sequence[Token], latin: bool, index: _WordIndex) -> None:
        self.tokens = tokens
        self.latin = latin
        sets = [index.sets(token.plain, token.latin) for token in tokens]
        self.loose = [found[2] if latin else found[0] for found in sets]
        self.strict = [found[3] if latin else found[1] for found in sets]
        # Every listed word the message has somewhere: most lists start with none of them, and are done.
        self.anywhere: frozenset[int] = frozenset().union(*self.loose)


class _Node:
    """A step in a list's tree of phrases: the phrase that ends here, and the words that may follow."""

    __slots__ = ("phrase", "next", "initials", "rank")

    def __init__(self) -> None:
        self.phrase: _Phrase | None = None
        self.next: dict[int, _Node] = {}
        self.initials: frozenset[str] = frozenset()  # of a phrase's first word: the letters it is looked up by
        self.rank: dict[str, int] = {}  # where the phrase ending here stands in each of its initials' lists


@dataclass
class _PhraseList:
    """Phrases looked up by their first letter (in either spelling): a typo in the first letter is rare,
    and looking only there keeps a long message fast."""

    typos: bool = True  # False for short function words, where one letter changes the meaning ("want", "wasnt")
    phrases: dict[tuple[_Word, ...], _Phrase] = field(default_factory=dict)
    by_initial: dict[str, list[_Phrase]] = field(default_factory=dict)
    # The phrases as a tree of word numbers (built by `index`): a message is walked along it, word by word.
    _roots: dict[int, _Node] = field(default_factory=dict)
    _firsts: frozenset[int] = frozenset()  # the numbers of the phrases' first words

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

    def index(self, words: _WordIndex) -> None:
        """Build the tree of phrases once every phrase is in."""
        self._roots = {}
        ranks: dict[tuple[_Word, ...], dict[str, int]] = {}
        for initial, bucket in self.by_initial.items():
            for place, item in enumerate(bucket):
                ranks.setdefault(item.words, {})[initial] = place
        for phrase in self.phrases.values():
            first = phrase.words[0]
            node = self._roots.setdefault(words.add(first), _Node())
            node.initials = frozenset({first.plain[:1], first.latin[:1]})
            for word in phrase.words[1:]:
                node = node.next.setdefault(words.add(word), _Node())
            node.phrase = phrase
            node.rank = ranks[phrase.words]
        self._firsts = frozenset(self._roots)

    def at(self, scan: _Scan, start: int, end: int | None = None) -> _Phrase | None:
        """The longest phrase that matches at `start` and ends by `end` (with `scan.latin`, also in the
        coarse Latin spelling); of equally long ones, the first listed under the word's initial."""
        sets = scan.loose if self.typos else scan.strict
        end = len(sets) if end is None else end
        token = scan.tokens[start]
        plain_initial = token.plain[:1]
        latin_initial = token.latin[:1] if scan.latin and token.latin[:1] != plain_initial else None
        best: _Phrase | None = None
        best_order = (0, 0, 0)
        for number in sets[start]:
            root = self._roots.get(number)
            if root is None:
                continue
            # Only phrases whose first word starts with the message word's initial (in either spelling) are
            # looked at; of the lists of both initials, the plain one's phrases come first.
            if plain_initial in root.initials:
                tier, initial = 0, plain_initial
            elif latin_initial is not None and latin_initial in root.initials:
                tier, initial = 1, latin_initial
            else:
                continue
            pending = [(root, start + 1)]
            while pending:
                node, position = pending.pop()
                if node.phrase is not None:
                    order = (-len(node.phrase.words), tier, node.rank[initial])
                    if best is None or order < best_order:
                        best, best_order = node.phrase, order
                if node.next and position < end:
                    for following in sets[position]:
                        child = node.next.get(following)
                        if child is not None:
                            pending.append((child, position + 1))
        return best

    def find(self, scan: _Scan) -> list[tuple[int, _Phrase]]:
        """Every (position, phrase) that matches somewhere in the message."""
        found: list[tuple[int, _Phrase]] = []
        if self._firsts.isdisjoint(scan.anywhere):  # a strict match is a loose one too
            return found
        for start in range(len(scan.tokens)):
            phrase = self.at(scan, start)
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
        self._words = _WordIndex()
        for phrase_list in [*self._lists.values(), *self._ratings.values()]:
            phrase_list.index(self._words)

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
        reading = self._read(stripped, _Scan(tokens, False, self._words))
        if reading == Reading():
            reading = self._read(stripped, _Scan(tokens, True, self._words))
        if asks and reading.solved:
            # "Is it solved yet?" asks; it does not say so.
            reading = replace(reading, solved=False)
        return reading

    def _read(self, text: str, scan: _Scan) -> Reading:
        small_talk, talk_language = self._small_talk(scan)
        yes, yes_language = self._whole(scan, "yes")
        no, no_language = self._whole(scan, "no")
        # No language from a bare status word: "status", "statuss", "státusz" are one word to the typo-forgiving lists.
        status_alone, _ = self._whole(scan, "status_alone")
        return Reading(
            small_talk=small_talk, language=talk_language or yes_language or no_language, yes=yes, no=no,
            wants_person=self._wants_person(scan), complaint=self._said(scan, "complaint"),
            asks_case_status=(bool(self._lists["case"].find(scan)) and bool(self._lists["status"].find(scan)))
            or status_alone,
            solved=self._said(scan, "solved"), rating=self._rating(text, scan))

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

    def _cover(self, scan: _Scan, keys: Sequence[str]) -> tuple[set[str], set[frozenset[str]]] | None:
        """Which of `keys` cover the whole message (filler words aside), and the languages of what matched."""
        tokens = scan.tokens
        if len(tokens) > MAX_SMALL_TALK_TOKENS:
            return None
        found: set[str] = set()
        languages: set[frozenset[str]] = set()
        position = 0
        while position < len(tokens):
            best: tuple[str, _Phrase] | None = None
            for key in keys:
                phrase = self._lists[key].at(scan, position)
                if phrase is not None and (best is None or len(phrase.words) > len(best[1].words)):
                    best = (key, phrase)
            if best is not None:
                found.add(best[0])
                languages.add(best[1].languages)
                position += len(best[1].words)
                continue
            filler = self._lists["filler"].at(scan, position)
            if filler is None:
                return None
            position += len(filler.words)
        return (found, languages) if found else None

    def _small_talk(self, scan: _Scan) -> tuple[SmallTalk | None, str | None]:
        covered = self._cover(scan, _SMALL_TALK_KEYS)
        if covered is None:
            return None, None
        kinds, languages = covered
        kind = max((SmallTalk(name) for name in kinds), key=_SMALL_TALK_WEIGHT.__getitem__)
        return kind, _one_language(languages)

    def _whole(self, scan: _Scan, key: str) -> tuple[bool, str | None]:
        # "yes thanks", "no, not really": yes/no together with small talk still answer the question.
        covered = self._cover(scan, (key, *_SMALL_TALK_KEYS))
        if covered is None or key not in covered[0]:
            return False, None
        return True, _one_language(covered[1])

    def _negated(self, scan: _Scan, start: int) -> bool:
        # A negation counts only if it ends before the phrase beginss.
        negation = self._lists["negation"]
        return any(negation.at(scan, index, end=start) for index in range(max(0, start - NEGATION_REACH), start))

    def _said(self, scan: _Scan, key: str) -> bool:
        """A phrase of `key` somewhere in the message, not negated ("not solved", "no complaints")."""
        return any(not self._negated(scan, start) for start, _ in self._lists[key].find(scan))

    def _wants_person(self, scan: _Scan) -> bool:
        if self._said(scan, "person_phrases"):
            return True
        people = [start for start, _ in self._lists["person"].find(scan) if not self._negated(scan, start)]
        if not people:
            return False
        return len(scan.tokens) <= MAX_BARE_PERSON_TOKENS or bool(self._lists["talk"].find(scan))

    def _rating(self, text: str, scan: _Scan) -> int | None:
        number = _RATING_NUMBER.match(text)
        if number:
            return int(number.group(1))
        if len(scan.tokens) > MAX_SMALL_TALK_TOKENS // 2:
            return None
        best: tuple[int, int] | None = None  # (phrase length, score)
        for score, phrases in self._ratings.items():
            for start, phrase in phrases.find(scan):
                if self._negated(scan, start) and len(phrase.words) == 1:
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
