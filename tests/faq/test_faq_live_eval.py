"""Live reload keeps the last good knowledge base; evaluation numbers on a hand-made set; CLI commands."""

from __future__ import annotations

import asyncio
import io
import json
import os
from pathlib import Path

import pytest

from bot.commands_faq import cmd_faq_ask, cmd_faq_check, cmd_faq_eval
from faq import (
    Case,
    CasesError,
    Decision,
    KnowledgeBaseError,
    LiveKnowledgeBase,
    evaluate,
    load_knowledge_base,
    read_cases,
)
from tests.faq.faq_samples import LANGUAGES, SHOP_YAML, write

GOOD = "entries:\n  - id: hours\n    questions: [When are you open]\n    answer: Nine to five.\n"
BROKEN = "entries:\n  - id: hours\n    questions: [When are you open]\n"
EDITED = "entries:\n  - id: hours\n    questions: [When are you open]\n    answer: Eight to six.\n"


def bump(path: Path) -> None:
    """Make sure the edit is visible even on file systems with coarse modification times."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_reload_keeps_last_good_and_picks_up_good_edit(tmp_path: Path) -> None:
    file = write(tmp_path, "kb.yaml", GOOD)
    live = LiveKnowledgeBase(tmp_path, LANGUAGES)
    first = live.current
    assert live.current.answer("hours", "en") == "Nine to five."
    file.write_text(BROKEN, encoding="utf-8")
    assert live.reload_now() is False
    assert live.current is first
    assert [str(p) for p in live.problems] == [f"{file}:2: entry 'hours' has no 'answer'"]
    file.write_text(EDITED, encoding="utf-8")
    assert live.reload_now() is True
    assert live.problems == []
    assert live.current.answer("hours", "en") == "Eight to six."


def test_first_load_must_succeed(tmp_path: Path) -> None:
    write(tmp_path, "kb.yaml", BROKEN)
    with pytest.raises(KnowledgeBaseError):
        LiveKnowledgeBase(tmp_path, LANGUAGES)


async def test_watch_reloads_in_background(tmp_path: Path) -> None:
    file = write(tmp_path, "kb.yaml", GOOD)
    live = LiveKnowledgeBase(tmp_path, LANGUAGES)
    task = asyncio.create_task(live.watch(0.01))
    try:
        file.write_text(BROKEN, encoding="utf-8")
        bump(file)
        for _ in range(300):
            if live.problems:
                break
            await asyncio.sleep(0.01)
        assert live.problems and live.current.answer("hours", "en") == "Nine to five."
        file.write_text(EDITED, encoding="utf-8")
        bump(file)
        bump(file)
        for _ in range(300):
            if live.current.answer("hours", "en") == "Eight to six.":
                break
            await asyncio.sleep(0.01)
        assert live.current.answer("hours", "en") == "Eight to six."
        assert live.problems == []
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def hand_made_cases() -> list[Case]:
    return [
        Case("How long do I have to return an item?", "refund-window"),  # answered, right
        Case("Πώς μπορώ να επιστρέψω ένα προϊόν;", "refund-window", "el"),  # answered, right
        Case("When will my parcel arrive?", "refund-window"),  # answered, wrong entry
        Case("can i send back", "refund-window"),  # top1 right, only suggested
        Case("capital of Mongolia", None),  # out of scope, handed off
        Case("What are your opening hours?", None),  # out of scope but answered: a wrong answer
    ]


class ScriptedMatcher:
    """Ranks by a fixed script: the evaluation's arithmetic is checked apart from the real matcher's
    judgement, which gets better (and changes these decisions) as matching improves."""

    SCRIPT = {
        "How long do I have to return an item?": [("refund-window", 0.95)],
        "Πώς μπορώ να επιστρέψω ένα προϊόν;": [("refund-window", 0.9)],
        "When will my parcel arrive?": [("delivery-time", 0.9), ("refund-window", 0.1)],
        "can i send back": [("refund-window", 0.7), ("delivery-time", 0.2)],
        "capital of Mongolia": [("opening-hours", 0.3)],
        "What are your opening hours?": [("opening-hours", 0.95)],
        "where did my box go": [("delivery-time", 0.7), ("opening-hours", 0.66), ("refund-window", 0.05)],
        "zzz": [("refund-window", 0.3)],
        "what is the weather": [("opening-hours", 0.7)],
    }

    def __init__(self, entries: object) -> None:
        pass

    def rank(self, text: str, limit: int) -> list[tuple[str, float]]:
        return self.SCRIPT[text][:limit]


def test_evaluate_numbers_on_hand_made_set(shop_kb_dir: Path) -> None:
    kb = load_knowledge_base(shop_kb_dir, LANGUAGES, ScriptedMatcher)
    report = evaluate(kb, hand_made_cases(), answer_at=0.82, suggest_at=0.65).to_dict()
    assert list(report) == ["cases", "in_scope", "out_of_scope", "top1_accuracy", "answered_correct",
                            "answer_precision", "oos_handoff_recall", "p50_ms", "p99_ms", "confusions",
                            "self_served", "answered_wrong", "offered_right", "offered_wrong", "handed_off",
                            "oos_answered", "oos_offered", "oos_handed_off", "cpu_p50_ms", "cpu_p99_ms", "entries"]
    assert (report["cases"], report["in_scope"], report["out_of_scope"]) == (6, 4, 2)
    assert report["top1_accuracy"] == pytest.approx(3 / 4)
    assert report["answered_correct"] == pytest.approx(2 / 4)
    assert report["answer_precision"] == pytest.approx(2 / 4)
    assert report["oos_handoff_recall"] == pytest.approx(1 / 2)
    assert 0 < report["p50_ms"] <= report["p99_ms"]
    assert 0 <= report["cpu_p50_ms"] <= report["cpu_p99_ms"]


def test_outcome_shares_add_up_per_scope(shop_kb_dir: Path) -> None:
    kb = load_knowledge_base(shop_kb_dir, LANGUAGES, ScriptedMatcher)
    cases = [*hand_made_cases(),
             Case("where did my box go", "refund-window"),  # offered, but not the right entry
             Case("zzz", "refund-window"),  # top-1 right, too unsure even to offer: a person
             Case("what is the weather", None)]  # out of scope, offered choices
    report = evaluate(kb, cases, answer_at=0.82, suggest_at=0.65)
    assert (report.in_scope, report.out_of_scope) == (6, 3)
    assert report.self_served == pytest.approx(3 / 6)  # two answered right, one offered with the right one
    assert (report.answered_wrong, report.offered_right, report.offered_wrong, report.handed_off) == \
        pytest.approx((1 / 6, 1 / 6, 1 / 6, 1 / 6))
    assert (report.oos_answered, report.oos_offered, report.oos_handed_off) == pytest.approx((1 / 3, 1 / 3, 1 / 3))
    assert report.oos_handoff_recall == pytest.approx(2 / 3)  # not answered outright


def test_evaluate_without_out_of_scope_cases_reports_null(shop_kb_dir: Path) -> None:
    kb = load_knowledge_base(shop_kb_dir, LANGUAGES)
    report = evaluate(kb, hand_made_cases()[:2], answer_at=0.82, suggest_at=0.65)
    assert report.oos_handoff_recall is None and report.oos_handed_off is None and report.self_served == 1.0
    with pytest.raises(ValueError, match="no-such-entry"):
        evaluate(kb, [Case("x", "no-such-entry")], answer_at=0.82, suggest_at=0.65)


def test_read_cases_reports_bad_lines(tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text('{"text": "hi", "expect": "a", "lang": "el"}\n\n{"text": "bye", "expect": null}\n', "utf-8")
    assert read_cases(good) == [Case("hi", "a", "el", 1), Case("bye", None, None, 3)]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok", "expect": null}\nnot json\n{"text": 5, "expect": null}\n{"text": "x"}\n', "utf-8")
    with pytest.raises(CasesError) as caught:
        read_cases(bad)
    assert [p.line for p in caught.value.problems] == [2, 3, 4]
    assert str(caught.value).startswith(f"{bad}:2: ")


@pytest.fixture
def shop_kb_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "kb"
    write(folder, "shop.yaml", SHOP_YAML)
    return folder


def test_cli_check(shop_kb_dir: Path, tmp_path: Path) -> None:
    out = io.StringIO()
    assert cmd_faq_check(shop_kb_dir, LANGUAGES, out) == 0
    assert out.getvalue() == f"{shop_kb_dir}: ok, 4 entries, 20 questions, languages: en, el, lv, hu\n"
    write(tmp_path / "bad", "kb.yaml", BROKEN)
    out = io.StringIO()
    assert cmd_faq_check(tmp_path / "bad", LANGUAGES, out) == 1
    assert "kb.yaml:2: entry 'hours' has no 'answer'" in out.getvalue()


def test_cli_ask_json_and_text(shop_kb_dir: Path) -> None:
    out = io.StringIO()
    assert cmd_faq_ask("Πώς μπορώ να επιστρέψω ένα προϊόν;", shop_kb_dir, LANGUAGES, None, True, 0.82, 0.65, out) == 0
    data = json.loads(out.getvalue())
    assert set(data) == {"decision", "language", "matches", "answer"}
    assert (data["decision"], data["language"]) == ("answer", "el")
    assert data["matches"][0] == {"id": "refund-window", "score": data["matches"][0]["score"], "team": "billing"}
    assert data["answer"].startswith("Μπορείτε")
    out = io.StringIO()
    assert cmd_faq_ask("capital of Mongolia", shop_kb_dir, LANGUAGES, "en", False, 0.82, 0.65, out) == 0
    assert out.getvalue().startswith("decision: no_match\nlanguage: en\n")


def test_cli_eval(shop_kb_dir: Path, tmp_path: Path) -> None:
    cases = tmp_path / "cases.jsonl"
    cases.write_text("\n".join(json.dumps({"text": c.text, "expect": c.expect}) for c in hand_made_cases()), "utf-8")
    out = io.StringIO()
    assert cmd_faq_eval(cases, shop_kb_dir, LANGUAGES, True, 0.82, 0.65, out) == 0
    assert json.loads(out.getvalue())["top1_accuracy"] == pytest.approx(0.75)
    out = io.StringIO()
    assert cmd_faq_eval(cases, shop_kb_dir, LANGUAGES, False, 0.82, 0.65, out) == 0
    assert "top1_accuracy" in out.getvalue() and "0.750" in out.getvalue()
    cases.write_text("oops\n", "utf-8")
    out = io.StringIO()
    assert cmd_faq_eval(cases, shop_kb_dir, LANGUAGES, True, 0.82, 0.65, out) == 1
    assert f"{cases}:1:" in out.getvalue()


def confusing_cases() -> list[Case]:
    """Messages that are word for word another entry's question, so whatever the matcher, it ranks that one first."""
    return [
        Case("When will my parcel arrive?", "refund-window"),
        Case("How long does delivery take?", "refund-window"),
        Case("What are your opening hours?", "password-reset"),
        Case("I forgot my password", "password-reset"),  # right: not a confusion
        Case("capital of Mongolia", None),  # out of scope: never a confusion
    ]


def test_evaluate_lists_confusions_most_frequent_first(shop_kb_dir: Path) -> None:
    kb = load_knowledge_base(shop_kb_dir, LANGUAGES)
    report = evaluate(kb, confusing_cases(), answer_at=0.82, suggest_at=0.65)
    assert report.to_dict()["confusions"] == [
        {"expected": "refund-window", "given": "delivery-time", "count": 2},
        {"expected": "password-reset", "given": "opening-hours", "count": 1},
    ]


def test_confusions_keep_the_ten_most_frequent(shop_kb_dir: Path) -> None:
    kb = load_knowledge_base(shop_kb_dir, LANGUAGES)
    assert evaluate(kb, hand_made_cases()[:2], answer_at=0.82, suggest_at=0.65).to_dict()["confusions"] == []
    entries = ["refund-window", "opening-hours", "password-reset", "delivery-time"]
    texts = {"refund-window": "How long do I have to return an item?", "opening-hours": "What are your opening hours?",
             "password-reset": "I forgot my password", "delivery-time": "How long does delivery take?"}
    # 12 distinct (expected, given) pairs; the pair repeated three times must come first.
    cases = [Case(texts[given], expected) for expected in entries for given in entries if given != expected]
    cases += [Case(texts["delivery-time"], "opening-hours")] * 2
    confusions = evaluate(kb, cases, answer_at=0.82, suggest_at=0.65).to_dict()["confusions"]
    assert len(confusions) == 10
    assert confusions[0] == {"expected": "opening-hours", "given": "delivery-time", "count": 3}
    assert all(c["count"] == 1 for c in confusions[1:])


def test_cli_eval_prints_confusions(shop_kb_dir: Path, tmp_path: Path) -> None:
    cases = tmp_path / "cases.jsonl"
    cases.write_text("\n".join(json.dumps({"text": c.text, "expect": c.expect}) for c in confusing_cases()), "utf-8")
    out = io.StringIO()
    assert cmd_faq_eval(cases, shop_kb_dir, LANGUAGES, False, 0.82, 0.65, out) == 0
    lines = out.getvalue().splitlines()
    start = lines.index("confusions (count, right entry <- entry ranked first instead):")
    assert lines[start + 1:start + 3] == ["      2  refund-window <- delivery-time", "      1  password-reset <- opening-hours"]
    assert lines[start + 3] == "least reached (self-served of the entry's cases; where the rest went):"
    out = io.StringIO()
    assert cmd_faq_eval(cases, shop_kb_dir, LANGUAGES, True, 0.82, 0.65, out) == 0
    assert json.loads(out.getvalue())["confusions"][0] == {"expected": "refund-window", "given": "delivery-time",
                                                           "count": 2}


def test_evaluate_says_per_entry_which_are_missed_and_which_take_others(shop_kb_dir: Path) -> None:
    kb = load_knowledge_base(shop_kb_dir, LANGUAGES, ScriptedMatcher)
    cases = [*hand_made_cases(), Case("where did my box go", "refund-window"), Case("zzz", "refund-window")]
    report = evaluate(kb, cases, answer_at=0.82, suggest_at=0.65)
    entries = {entry["id"]: entry for entry in report.to_dict()["entries"]}
    refunds = entries["refund-window"]
    # Six cases meant for refund-window: two answered right, one offered right, one answered with
    # delivery-time, one offered only delivery-time's choices, one to a person.
    assert refunds["messages"] == 6 and refunds["self_served"] == pytest.approx(3 / 6)
    assert refunds["outcomes"] == {"answered_right": 2, "offered_right": 1, "answered_wrong": 1,
                                   "offered_wrong": 1, "handed_off": 1}
    assert refunds["answered_instead"] == {"delivery-time": 1} and refunds["offered_instead"] == {"delivery-time": 1}
    # delivery-time took two of refund-window's; opening-hours was answered for an out-of-scope question.
    assert entries["delivery-time"]["took"] == {"refund-window": 2}
    assert entries["opening-hours"]["took"] == {"": 1}
    assert [e.entry_id for e in report.least_reached()] == ["refund-window"]
    assert [e.entry_id for e in report.taking_others()] == ["delivery-time", "opening-hours"]


class ScopedMatcher(ScriptedMatcher):
    """The scripted ranking plus a scope score: high for the FAQ's own words, low otherwise."""

    def rank_in_scope(self, text: str, limit: int, language: str | None = None, *,
                      answer_at: float = 1.0) -> tuple[list[tuple[str, float]], float | None]:
        return self.rank(text, limit), 0.9 if text in ("zzz", "can i send back") else 0.1


def test_a_matcher_with_a_scope_score_sets_the_bar_for_choices(shop_kb_dir: Path) -> None:
    kb = load_knowledge_base(shop_kb_dir, LANGUAGES, ScopedMatcher)
    # Best score 0.3, under suggest_at, but in scope: offered.
    assert kb.match("zzz", "en", answer_at=0.82, suggest_at=0.65).decision is Decision.SUGGEST
    # Best score 0.7, over suggest_at, but out of scope: to a person.
    assert kb.match("what is the weather", "en", answer_at=0.82, suggest_at=0.65).decision is Decision.NO_MATCH
    # A clear answer stays an answer.
    assert kb.match("What are your opening hours?", "en", answer_at=0.82, suggest_at=0.65).decision is Decision.ANSWER
