"""Whether customers reach each entry: what becomes of a message meant for it (answered, offered among
the choices, answered or offered with another entry instead, handed to a person), per entry.

Two sources of such messages share the counting here: the knowledge base's own questions, each held
out and matched by a knowledge base built without it (`held_out`, what `faq lint` uses), and labelled
cases matched by the knowledge base itself (`Reached.of` for each, as `faq eval` could).
"""

from __future__ import annotations

import dataclasses
import os
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import MappingProxyType

from .kb import KnowledgeBase
from .langprofile import builtin_profile
from .matcher import SCOPE_OFFSET, MatcherFactory, build_default_matcher
from .model import Decision, Entry
from .normalize import normalize

# Outcomes of a message, as `faq eval` names them.
ANSWERED_RIGHT = "answered_right"
ANSWERED_WRONG = "answered_wrong"
OFFERED_RIGHT = "offered_right"
OFFERED_WRONG = "offered_wrong"
HANDED_OFF = "handed_off"
OUTCOMES = (ANSWERED_RIGHT, OFFERED_RIGHT, ANSWERED_WRONG, OFFERED_WRONG, HANDED_OFF)
SELF_SERVED = (ANSWERED_RIGHT, OFFERED_RIGHT)

# Held-out questions: up to this many questions every one is held out on its own (one matcher build
# each, cheap on a small knowledge base); above, they are held out in FOLDS folds. Measured against
# exact leave-one-out (1,088 builds) on the shipped sample knowledge base: 4 folds agree with it on
# 84% of the questions' outcomes (5 folds 85%, 8 folds 92%), per-entry self-served shares correlate
# 0.87 (5: 0.82, 8: 0.97), at 4 builds instead of 1,088; 3 folds take out so much that they agree on 72%.
EXACT_LEAVE_ONE_OUT_UP_TO = 50
FOLDS = 4


@dataclass(frozen=True, slots=True)
class Reached:
    """A message meant for entry `expected` (None: for a person) and what the knowledge base did with
    it: its decision, the entries it ranked (best first, with scores) and the choices it offered."""

    expected: str | None
    language: str | None
    text: str
    decision: Decision
    ranked: tuple[tuple[str, float], ...]
    offered: tuple[str, ...] = ()

    @classmethod
    def of(cls, kb: KnowledgeBase, expected: str | None, text: str, language: str | None, *,
           answer_at: float, suggest_at: float) -> Reached:
        """Match `text` through `kb`, deciding as the service does."""
        result = kb.match(text, language, answer_at=answer_at, suggest_at=suggest_at)
        offered = tuple(m.entry_id for m in kb.suggestions(result, suggest_at)) \
            if result.decision is Decision.SUGGEST else ()
        return cls(expected, language, text, result.decision,
                   tuple((m.entry_id, m.score) for m in result.matches), offered)

    @property
    def outcome(self) -> str:
        """Answered right or wrong, offered with or without the right entry among the choices, or handed off."""
        if self.decision is Decision.ANSWER and self.ranked:
            return ANSWERED_RIGHT if self.ranked[0][0] == self.expected else ANSWERED_WRONG
        if self.decision is Decision.SUGGEST and self.offered:
            return OFFERED_RIGHT if self.expected in self.offered else OFFERED_WRONG
        return HANDED_OFF

    @property
    def given(self) -> str | None:
        """The entry the customer was answered with, or offered first; None when handed off."""
        if self.decision is Decision.ANSWER and self.ranked:
            return self.ranked[0][0]
        if self.decision is Decision.SUGGEST and self.offered:
            return self.offered[0]
        return None


@dataclass(frozen=True, slots=True)
class EntryReach:
    """What became of the messages meant for one entry, and of other entries' messages it was given for.

    `answered_instead` and `offered_instead`: per other entry, how many of this entry's messages it
    was answered with, or came first among choices that left this entry out. `took`: per other entry,
    how many of its messages this entry took in either way.
    """

    entry_id: str
    messages: int = 0
    outcomes: Mapping[str, int] = field(default_factory=dict)
    languages: Mapping[str, tuple[int, int]] = field(default_factory=dict)  # language: (self-served, messages)
    answered_instead: Mapping[str, int] = field(default_factory=dict)
    offered_instead: Mapping[str, int] = field(default_factory=dict)
    took: Mapping[str, int] = field(default_factory=dict)

    @property
    def self_served(self) -> int:
        """Messages answered right or offered with this entry among the choices."""
        return sum(self.outcomes.get(kind, 0) for kind in SELF_SERVED)

    @property
    def share(self) -> float | None:
        """The self-served share of this entry's messages; None without any."""
        return self.self_served / self.messages if self.messages else None

    def to_dict(self) -> dict[str, object]:
        share = self.share
        return {
            "id": self.entry_id,
            "messages": self.messages,
            "self_served": None if share is None else round(share, 4),
            "outcomes": {kind: self.outcomes.get(kind, 0) for kind in OUTCOMES},
            "languages": {lang: {"self_served": served, "messages": total}
                          for lang, (served, total) in self.languages.items()},
            "answered_instead": dict(self.answered_instead),
            "offered_instead": dict(self.offered_instead),
            "took": dict(self.took),
        }


def reach(messages: Iterable[Reached], entry_ids: Iterable[str]) -> dict[str, EntryReach]:
    """Per entry of `entry_ids` (in that order), what became of the `messages` meant for it. Messages
    meant for no entry, or for one not listed, count only in `took` of the entry given for them."""
    ids = list(entry_ids)
    known = set(ids)
    outcomes: dict[str, Counter[str]] = defaultdict(Counter)
    languages: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    answered: dict[str, Counter[str]] = defaultdict(Counter)
    offered: dict[str, Counter[str]] = defaultdict(Counter)
    took: dict[str, Counter[str]] = defaultdict(Counter)
    for message in messages:
        kind = message.outcome
        expected = message.expected
        given = message.given
        if kind in (ANSWERED_WRONG, OFFERED_WRONG) and given is not None:
            if expected is not None:
                (answered if kind == ANSWERED_WRONG else offered)[expected][given] += 1
            took[given][expected or ""] += 1
        if expected is None or expected not in known:
            continue
        outcomes[expected][kind] += 1
        tally = languages[expected][message.language or "unknown"]
        tally[0] += kind in SELF_SERVED
        tally[1] += 1
    result = {}
    for entry_id in ids:
        counts = outcomes.get(entry_id, Counter())
        result[entry_id] = EntryReach(
            entry_id=entry_id,
            messages=sum(counts.values()),
            outcomes=MappingProxyType(dict(counts)),
            languages=MappingProxyType({lang: (served, total)
                                        for lang, (served, total) in languages.get(entry_id, {}).items()}),
            answered_instead=MappingProxyType(dict(answered[entry_id].most_common())),
            offered_instead=MappingProxyType(dict(offered[entry_id].most_common())),
            took=MappingProxyType(dict(took[entry_id].most_common())),
        )
    return result


def held_out(
    kb: KnowledgeBase,
    matcher_factory: MatcherFactory = build_default_matcher,
    *,
    answer_at: float,
    suggest_at: float,
    folds: int = FOLDS,
    exact_up_to: int = EXACT_LEAVE_ONE_OUT_UP_TO,
) -> list[Reached]:
    """Every question of `kb` matched, as the service would, by a knowledge base built without it; in
    question order.

    Up to `exact_up_to` questions this is leave-one-out; above, the questions are split into `folds`
    folds, an entry's questions in a language spread over all of them, so the entry keeps most of
    them in every build. A question that was its entry's
    only one in its language in its build is left out: nothing of the entry is left to find in that
    language (`faq lint` says "too few questions" instead). Costs one matcher build per fold.
    """
    questions = all_questions(kb.entries)
    if len(kb.entries) < 2:
        return []
    groups = fold_groups(questions, kb.languages, folds, exact_up_to)
    if not groups:
        return []
    return _match_held_out(kb, matcher_factory, questions, groups, answer_at, suggest_at)


def fold_groups(questions: Sequence[tuple[str, str, str]], languages: Sequence[str], folds: int = FOLDS,
                exact_up_to: int = EXACT_LEAVE_ONE_OUT_UP_TO) -> list[set[int]]:
    """The held-out groups of `questions` ((entry id, language, text), as `all_questions` lists them):
    one question each up to `exact_up_to` questions, else `folds` folds (see `held_out`). Questions with
    nothing to match are in none."""
    usable = [i for i, (_, _, text) in enumerate(questions) if normalize(text)]
    if not usable:
        return []
    fold_count = len(usable) if len(usable) <= exact_up_to else max(2, min(folds, len(usable)))
    if fold_count == len(usable):
        return [{index} for index in usable]
    groups: list[set[int]] = [set() for _ in range(fold_count)]
    language_index = {language: i for i, language in enumerate(languages)}
    seen: Counter[tuple[str, str]] = Counter()
    for index in usable:
        entry_id, language, _ = questions[index]
        position = seen[(entry_id, language)]
        seen[(entry_id, language)] += 1
        # An entry's questions in a language go to consecutive folds, from a place fixed by the
        # entry's id and shifted by one per language: the n-th question of each language, often
        # one question translated, lands in a different fold (held out together, each would lose
        # the others' help), and entries written from one template ("my X is broken") do not
        # lose the same question in the same fold.
        start = zlib.crc32(entry_id.encode("utf-8")) + language_index.get(language, len(language_index))
        groups[(start + position) % fold_count].add(index)
    return groups


def recheck(
    kb: KnowledgeBase,
    reached: Sequence[Reached],
    matcher_factory: MatcherFactory = build_default_matcher,
    *,
    answer_at: float,
    suggest_at: float,
) -> list[Reached]:
    """`reached` (questions of `kb`, as `held_out` gives them) matched again by one knowledge base
    built without only them: nearly leave-one-out for each, at the cost of one build. Folds take out
    a quarter of the questions at once, some of them neighbours of the one checked, so a few questions
    go astray only in their fold; what still goes astray here would go astray on its own (on the
    shipped sample knowledge base, every wrong answer left after this is one exact leave-one-out gives
    too, against half of those found by the folds alone)."""
    questions = all_questions(kb.entries)
    wanted = {(r.expected, r.language, r.text) for r in reached}
    held = {i for i, question in enumerate(questions) if question in wanted}
    return _match_held_out(kb, matcher_factory, questions, [held], answer_at, suggest_at) if held else []


def all_questions(entries: Mapping[str, Entry]) -> list[tuple[str, str, str]]:
    return [(entry.id, language, text) for entry in entries.values()
            for language, texts in entry.questions.items() for text in texts]


def _match_held_out(
    kb: KnowledgeBase, matcher_factory: MatcherFactory, questions: Sequence[tuple[str, str, str]],
    groups: Sequence[set[int]], answer_at: float, suggest_at: float,
) -> list[Reached]:
    """Each group of questions matched by a knowledge base built without that group, in question order.

    Builds run two at a time where there are two cores: most of a build is liblinear's training, which
    releases the GIL, so two builds overlap (the same CPU time; less waiting on an idle machine).
    """
    # Which language a held-out question is detected in changes nothing counted here (it is known), so
    # the fold knowledge bases use the shipped statistics instead of learning their own (0.1 s each).
    profile = builtin_profile()

    # The folds decide with the whole knowledge base's bar for offering choices (see `scope_fit`).
    offset = float(getattr(kb._matcher, "scope_offset", 0.0))  # noqa: SLF001 - the knowledge base's own matcher

    def run(held: set[int]) -> list[tuple[int, Reached]]:
        remaining = without(kb.entries, questions, held)
        if len(remaining) < 2:
            return []
        token = SCOPE_OFFSET.set(offset)  # per thread: each pool thread runs in its own context
        try:
            fold_kb = KnowledgeBase(remaining, kb.languages, matcher_factory)
        finally:
            SCOPE_OFFSET.reset(token)
        fold_kb.language_profile = profile
        found = []
        for i in sorted(held):
            entry_id, language, text = questions[i]
            kept = remaining.get(entry_id)
            if kept is not None and kept.questions.get(language):
                found.append((i, Reached.of(fold_kb, entry_id, text, language,
                                            answer_at=answer_at, suggest_at=suggest_at)))
        return found

    workers = min(_WORKERS, os.cpu_count() or 1, len(groups))
    if workers > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(run, groups))
    else:
        results = [run(held) for held in groups]
    return [reached for _, reached in sorted((pair for found in results for pair in found), key=lambda p: p[0])]


_WORKERS = 2


def without(entries: Mapping[str, Entry], questions: Sequence[tuple[str, str, str]],
             held_out: set[int]) -> dict[str, Entry]:
    """The entries with the held-out questions removed; entries left with no question are dropped."""
    kept: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for i, (entry_id, language, text) in enumerate(questions):
        if i not in held_out:
            kept[entry_id][language].append(text)
    remaining = {}
    for entry_id, entry in entries.items():
        by_language = kept.get(entry_id)
        if by_language:
            trimmed = MappingProxyType({lang: tuple(texts) for lang, texts in by_language.items()})
            remaining[entry_id] = dataclasses.replace(entry, questions=trimmed)
    return remaining


def total(entries: Iterable[EntryReach], entry_id: str = "*") -> EntryReach:
    """The counts of `entries` added up (`took` stays empty: between entries it nets out)."""
    messages = 0
    outcomes: Counter[str] = Counter()
    languages: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    answered: Counter[str] = Counter()
    offered: Counter[str] = Counter()
    for entry in entries:
        messages += entry.messages
        outcomes.update(entry.outcomes)
        answered.update(entry.answered_instead)
        offered.update(entry.offered_instead)
        for lang, (served, count) in entry.languages.items():
            languages[lang][0] += served
            languages[lang][1] += count
    return EntryReach(
        entry_id=entry_id, messages=messages, outcomes=MappingProxyType(dict(outcomes)),
        languages=MappingProxyType({lang: (served, count) for lang, (served, count) in languages.items()}),
        answered_instead=MappingProxyType(dict(answered.most_common())),
        offered_instead=MappingProxyType(dict(offered.most_common())),
    )
