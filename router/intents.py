"""What a customer's words mean for the conversation itself: a person wanted, yes, no, a rating."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from faq import normalize

# A single handoff word only counts in a short message: "can another person collect my parcel?"
# is a question for the FAQ, "I want a person" is a request.
_SHORT_MESSAGE_TOKENS = 12
_COMMANDS = {"/human", "/agent", "/operator", "/person"}
_RATING = re.compile(r"^\s*([1-5])\s*(?:/\s*5|stars?|★+|\*+)?\s*[.!]?\s*$", re.IGNORECASE)


class Intents:
    """Recognises conversation-level intents in every configured language at once."""

    def __init__(self, handoff: Mapping[str, Sequence[str]], yes: Mapping[str, Sequence[str]],
                 no: Mapping[str, Sequence[str]]) -> None:
        self._handoff_words: set[str] = set()
        self._handoff_phrases: list[tuple[str, ...]] = []
        for phrases in handoff.values():
            for phrase in phrases:
                tokens = tuple(normalize(phrase).split())
                if len(tokens) == 1:
                    self._handoff_words.add(tokens[0])
                elif tokens:
                    self._handoff_phrases.append(tokens)
        self._yes = {normalize(word) for words in yes.values() for word in words} - {""}
        self._no = {normalize(word) for words in no.values() for word in words} - {""}

    def wants_person(self, text: str) -> bool:
        """True when the customer asks for a human agent."""
        if text.strip().split(" ", 1)[0].lower() in _COMMANDS:
            return True
        tokens = normalize(text).split()
        for phrase in self._handoff_phrases:
            if _contains(tokens, phrase):
                return True
        return len(tokens) <= _SHORT_MESSAGE_TOKENS and any(token in self._handoff_words for token in tokens)

    def yes_or_no(self, text: str) -> bool | None:
        """True for yes, False for no, None when the text is neither."""
        folded = normalize(text)
        if folded in self._yes:
            return True
        if folded in self._no:
            return False
        return None


def rating_in(text: str) -> int | None:
    """A 1-5 rating typed as a bare number ("4", "5/5", "3 stars"), else None."""
    match = _RATING.match(text)
    return int(match.group(1)) if match else None


def choice_in(text: str, count: int) -> int | None:
    """A number 1..count typed to pick from a numbered list, else None."""
    stripped = text.strip().rstrip(".)")
    if stripped.isdigit() and 1 <= int(stripped) <= count:
        return int(stripped)
    return None


def _contains(tokens: Sequence[str], phrase: Sequence[str]) -> bool:
    width = len(phrase)
    return any(tuple(tokens[i:i + width]) == tuple(phrase) for i in range(len(tokens) - width + 1))
