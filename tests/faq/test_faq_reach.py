"""`faq.reach`: what becomes of each entry's messages, counted; held-out questions matched by knowledge
bases built without them. A word-overlap stub stands in for the real matcher, so these tests say what
the counting and the folds do whatever the matcher's scores are."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from faq import Decision, Entry, load_knowledge_base
from faq.lint import lint
from faq.reach import (
    ANSWERED_RIGHT,
    ANSWERED_WRONG,
    FOLDS,
    HANDED_OFF,
    OFFERED_RIGHT,
    OFFERED_WRONG,
    OUTCOMES,
    Reached,
    held_out,
    reach,
    recheck,
    total,
)
from tests.faq.faq_samples import write


class WordOverlap:
    """Scores an entry by the share of the message's words (weighted by how few entries use them) found in
    its questions: about 1.0 when the message's telling word is the entry's own, 0 for nothing in common.
    Deterministic and instant."""

    def __init__(self, entries: Mapping[str, Entry]) -> None:
        self.words = {entry.id: {w for qs in entry.questions.values() for q in qs for w in q.lower().split()}
                      for entry in entries.values()}
        used = Counter(w for words in self.words.values() for w in words)
        self.rarest = math.log(max(len(self.words), 2))
        self.weight = {w: math.log(len(self.words) / n) for w, n in used.items()}

    def rank(self, text: str, limit: int) -> list[tuple[str, float]]:
        words = set(text.lower().split())
        whole = sum(self.weight.get(w, self.rarest) for w in words)
        if not whole:
            return []
        scores = {e: sum(self.weight[w] for w in words & own) / whole for e, own in self.words.items()}
        ranked = sorted(((e, s) for e, s in scores.items() if s > 0), key=lambda p: (-p[1], p[0]))
        return ranked[:limit]


class Counting:
    """A matcher factory that records the questions of every knowledge base it builds."""

    def __init__(self) -> None:
        self.builds: list[set[str]] = []

    def __call__(self, entries: Mapping[str, Entry]) -> WordOverlap:
        self.builds.append({q for e in entries.values() for qs in e.questions.values() for q in qs})
        return WordOverlap(entries)


def kb_text(entries: dict[str, list[str]]) -> str:
    lines = ["entries:"]
    for entry_id, questions in entries.items():
        lines += [f"  - id: {entry_id}", "    questions:"] + [f"      - {q}" for q in questions]
        lines.append(f"    answer: About {entry_id}.")
    return "\n".join(lines) + "\n"


TOPICS = ["invoice", "coupon", "warranty", "battery", "charger", "screen", "keyboard", "printer", "router",
          "camera", "speaker", "monitor", "tablet", "laptop", "mouse", "scanner", "webcam", "cable"]


def consistent(topic: str) -> list[str]:
    return [f"problem with my {topic}", f"my {topic} is broken", f"help with the {topic}", f"{topic} not working"]


def load(tmp_path: Path, entries: dict[str, list[str]], factory: object = WordOverlap):
    write(tmp_path, "kb.yaml", kb_text(entries))
    return load_knowledge_base(tmp_path, ("en",), factory)  # type: ignore[arg-type]


def message(expected: str | None, decision: Decision, ranked: list[tuple[str, float]],
            offered: tuple[str, ...] = (), language: str = "en") -> Reached:
    return Reached(expected, language, "text", decision, tuple(ranked), offered)


def test_outcomes_follow_the_decision() -> None:
    assert message("a", Decision.ANSWER, [("a", 0.9)]).outcome == ANSWERED_RIGHT
    wrong = message("a", Decision.ANSWER, [("b", 0.9), ("a", 0.1)])
    assert (wrong.outcome, wrong.given) == (ANSWERED_WRONG, "b")
    assert message("a", Decision.SUGGEST, [("b", 0.6), ("a", 0.5)], ("b", "a")).outcome == OFFERED_RIGHT
    offered = message("a", Decision.SUGGEST, [("b", 0.6), ("c", 0.5)], ("b", "c"))
    assert (offered.outcome, offered.given) == (OFFERED_WRONG, "b")
    handed = message("a", Decision.NO_MATCH, [("a", 0.3)])
    assert (handed.outcome, handed.given) == (HANDED_OFF, None)


def test_reach_counts_per_entry_who_took_what_and_per_language() -> None:
    messages = [
        message("a", Decision.ANSWER, [("a", 0.9)]),
        message("a", Decision.ANSWER, [("b", 0.9)], language="el"),
        message("a", Decision.SUGGEST, [("b", 0.6)], ("b",), language="el"),
        message("b", Decision.SUGGEST, [("a", 0.6), ("b", 0.5)], ("a", "b")),
        message("b", Decision.NO_MATCH, []),
        message(None, Decision.ANSWER, [("a", 0.95)]),  # out of scope, answered anyway
    ]
    reached = reach(messages, ["a", "b", "c"])
    a, b, c = reached["a"], reached["b"], reached["c"]
    assert (a.messages, a.self_served, a.share) == (3, 1, 1 / 3)
    assert dict(a.languages) == {"en": (1, 1), "el": (0, 2)}
    assert dict(a.answered_instead) == {"b": 1} and dict(a.offered_instead) == {"b": 1}
    assert dict(b.took) == {"a": 2} and dict(a.took) == {"": 1}  # "" is no entry: out of scope
    assert (b.messages, b.self_served) == (2, 1) and b.outcomes[HANDED_OFF] == 1
    assert (c.messages, c.share, c.to_dict()["self_served"]) == (0, None, None)
    overall = total(reached.values())
    assert (overall.messages, overall.self_served) == (5, 2)
    assert set(a.to_dict()) == {"id", "messages", "self_served", "outcomes", "languages", "answered_instead",
                                "offered_instead", "took"}
    assert set(a.to_dict()["outcomes"]) == set(OUTCOMES)


entry_ids = st.sampled_from(["a", "b", "c", None])
decisions = st.sampled_from(list(Decision))
scores = st.floats(min_value=0.0, max_value=1.0)


@st.composite
def reached_messages(draw: st.DrawFn) -> Reached:
    ranked = draw(st.lists(st.tuples(st.sampled_from(["a", "b", "c", "x"]), scores), max_size=5))
    offered = tuple(draw(st.lists(st.sampled_from(["a", "b", "c", "x"]), max_size=3)))
    return Reached(draw(entry_ids), draw(st.sampled_from(["en", "el", None])), draw(st.text(max_size=20)),
                   draw(decisions), tuple(ranked), offered)


@settings(max_examples=200, deadline=None)
@given(st.lists(reached_messages(), max_size=40))
def test_reach_adds_up(messages: list[Reached]) -> None:
    reached = reach(messages, ["a", "b", "c"])
    for entry in reached.values():
        assert sum(entry.outcomes.values()) == entry.messages
        assert sum(total for _, total in entry.languages.values()) == entry.messages
        assert 0 <= entry.self_served <= entry.messages
        lost = sum(entry.answered_instead.values()) + sum(entry.offered_instead.values())
        assert lost == entry.outcomes.get(ANSWERED_WRONG, 0) + entry.outcomes.get(OFFERED_WRONG, 0) \
            - sum(1 for m in messages if m.expected == entry.entry_id and m.given is None
                  and m.outcome in (ANSWERED_WRONG, OFFERED_WRONG))
    assert sum(e.messages for e in reached.values()) == sum(1 for m in messages if m.expected in ("a", "b", "c"))
    # Every message given to an entry other than its own is taken by exactly that entry.
    taken = sum(sum(e.took.values()) for e in reached.values())
    assert taken == sum(1 for m in messages if m.outcome in (ANSWERED_WRONG, OFFERED_WRONG)
                        and m.given in ("a", "b", "c"))


def test_small_knowledge_base_leaves_each_question_out_on_its_own(tmp_path: Path) -> None:
    entries = {topic: consistent(topic) for topic in TOPICS[:4]}
    counting = Counting()
    kb = load(tmp_path, entries)
    reached = held_out(kb, counting, answer_at=0.82, suggest_at=0.65)
    everything = {q for qs in entries.values() for q in qs}
    assert [r.text for r in reached] == [q for qs in entries.values() for q in qs]
    assert len(counting.builds) == len(everything)  # leave-one-out: one build per question
    assert sorted(tuple(everything - build) for build in counting.builds) == sorted((q,) for q in everything)


def test_large_knowledge_base_is_held_out_in_a_few_folds(tmp_path: Path) -> None:
    entries = {topic: consistent(topic) for topic in TOPICS}
    counting = Counting()
    kb = load(tmp_path, entries)
    reached = held_out(kb, counting, answer_at=0.82, suggest_at=0.65)
    assert len(counting.builds) == FOLDS
    everything = {q for qs in entries.values() for q in qs}
    held = [everything - build for build in counting.builds]
    assert sorted(q for fold in held for q in fold) == sorted(everything)  # each question in one fold only
    for topic, questions in entries.items():
        assert all(set(questions) - fold for fold in held), topic  # every build keeps some of every entry
    assert sorted(r.text for r in reached) == sorted(everything)
    # This consistent knowledge base finds itself.
    assert all(r.outcome in (ANSWERED_RIGHT, OFFERED_RIGHT) for r in reached)


def test_translations_land_in_different_folds(tmp_path: Path) -> None:
    """The n-th question of each language is often the same question translated: held out together, the
    entry would lose what its other languages' questions tell the word vectors about it."""
    lines = ["entries:"]
    for topic in TOPICS[:8]:
        lines += [f"  - id: {topic}", "    questions:"]
        for lang in ("en", "lv"):
            lines.append(f"      {lang}:")
            lines += [f"        - {lang} {q}" for q in consistent(topic) + [f"{topic} question {n}" for n in range(4)]]
        lines.append("    answer: x")
    write(tmp_path, "kb.yaml", "\n".join(lines) + "\n")
    counting = Counting()
    kb = load_knowledge_base(tmp_path, ("en", "lv"), WordOverlap)
    held_out(kb, counting, answer_at=0.82, suggest_at=0.65, folds=4)
    everything = set().union(*counting.builds)
    for build in counting.builds:
        out = everything - build
        assert not any(f"en {q[3:]}" in out and f"lv {q[3:]}" in out for q in out if q.startswith("en "))


def test_recheck_builds_once_without_only_the_questions_given(tmp_path: Path) -> None:
    entries = {topic: consistent(topic) for topic in TOPICS}
    kb = load(tmp_path, entries)
    first = held_out(kb, WordOverlap, answer_at=0.82, suggest_at=0.65)
    counting = Counting()
    again = recheck(kb, first[:3], counting, answer_at=0.82, suggest_at=0.65)
    assert len(counting.builds) == 1
    everything = {q for qs in entries.values() for q in qs}
    assert everything - counting.builds[0] == {r.text for r in first[:3]}
    assert [r.text for r in again] == [r.text for r in first[:3]]
    assert recheck(kb, [], counting, answer_at=0.82, suggest_at=0.65) == [] and len(counting.builds) == 1


def test_an_entry_nobody_reaches_is_hard_to_reach(tmp_path: Path) -> None:
    entries = {topic: consistent(topic) for topic in TOPICS[:6]}
    # Four ways of asking that share no word: each one, left out, leaves nothing to find it by.
    entries["gift-wrap"] = ["do you gift wrap", "presents packed nicely?", "wrapping paper option", "can it come boxed"]
    kb = load(tmp_path, entries)
    warnings = lint(kb, WordOverlap)
    hard = [w for w in warnings if w.kind == "hard-to-reach"]
    assert [w.entry_id for w in hard] == ["gift-wrap"]
    assert "0 of its 4 questions" in hard[0].message
    assert all(w.kind != "fight" for w in warnings)


def test_a_knowledge_base_reached_badly_everywhere_blames_no_one_entry(tmp_path: Path) -> None:
    """When every entry is reached about as rarely, the cause is the thresholds, not one entry."""
    entries = {topic: [f"{topic} one", f"{topic} two", "something else entirely", "nothing in common"]
               for topic in TOPICS[:6]}
    kb = load(tmp_path, entries)
    assert [w for w in lint(kb, WordOverlap) if w.kind == "hard-to-reach"] == []
