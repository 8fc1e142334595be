"""What the router needs of a knowledge base, as a protocol: `faq.KnowledgeBase` is one.

Typing against this instead of importing `faq.kb` keeps the router's import light, so agent
commands that never match a question don't load the matcher (and scikit-learn) at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from faq.langprofile import LanguageProfile
from faq.model import Entry, Match, MatchResult


class KnowledgeBaseView(Protocol):
    @property
    def entries(self) -> Mapping[str, Entry]: ...

    @property
    def language_profile(self) -> LanguageProfile: ...

    @property
    def languages(self) -> tuple[str, ...]: ...

    def match(self, text: str, lang_hint: str | None = None, *, answer_at: float,
              suggest_at: float, language: str | None = None) -> MatchResult: ...

    def suggestions(self, result: MatchResult, suggest_at: float) -> Sequence[Match]: ...

    def title(self, entry_id: str, lang: str) -> str: ...

    def answer(self, entry_id: str, lang: str) -> str: ...
