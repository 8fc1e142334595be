"""`faq gaps`: failed questions read from a real Redis events stream, clustered by need, biggest first."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from bot.commands_faq import cmd_faq_gaps, parse_since, read_gap_questions, run_faq_gaps
from faq import GapQuestion, find_gaps, load_knowledge_base
from tests.faq.faq_samples import LANGUAGES, SHOP_YAML, write

CANCEL = ["how do I cancel my order", "I want to cancel my order", "cancel my order",
          "can I cancel my order from yesterday", "how do i cancel my order"]
INVOICE = ["where can I download my invoice", "how do I download the invoice", "invoice download not working"]
PARCEL = ["my parcel has not arrived", "parcel still not arrived after two weeks"]


def questions(texts: list[str], kind: str = "no_match", language: str = "en") -> list[GapQuestion]:
    return [GapQuestion(text, language, kind, 1000.0 + i) for i, text in enumerate(texts)]


def test_paraphrases_cluster_together_biggest_first() -> None:
    asked = questions(CANCEL) + questions(INVOICE, "handoff_requested") + questions(PARCEL, "answer_not_helpful")
    clusters = find_gaps(asked, None)
    assert [c.size for c in clusters] == [5, 3, 2]
    cancel, invoice, parcel = clusters
    # "how do I cancel my order" was asked twice (case apart): one example, counted twice.
    assert cancel.examples[0] in ("how do I cancel my order", "how do i cancel my order")
    assert len(cancel.examples) == 4 and set(cancel.examples) <= set(CANCEL)
    assert set(invoice.examples) == set(INVOICE) and set(parcel.examples) == set(PARCEL)
    assert cancel.kinds == {"no_match": 5} and invoice.kinds == {"handoff_requested": 3}
    assert cancel.languages == {"en": 5}
    assert (cancel.closest_entry, cancel.closest_score) == (None, None)


def test_examples_are_capped_and_languages_counted() -> None:
    many = [f"how do I cancel my order number {n}" for n in range(12)]
    asked = questions(many) + [GapQuestion("πώς ακυρώνω την παραγγελία μου", "el", "no_match", 1.0)] * 2
    clusters = find_gaps(asked, None)
    assert sum(c.size for c in clusters) == 14
    biggest = clusters[0]
    assert biggest.size == 12 and len(biggest.examples) == 5
    greek = next(c for c in clusters if "el" in c.languages)
    assert greek.languages == {"el": 2} and greek.examples == ("πώς ακυρώνω την παραγγελία μου",)


def test_closest_entry_comes_from_the_knowledge_base(tmp_path: Path) -> None:
    write(tmp_path, "shop.yaml", SHOP_YAML)
    kb = load_knowledge_base(tmp_path, LANGUAGES)
    asked = questions(["when will my parcel arrive, it is late", "my parcel is late, when will it arrive",
                       "what is the capital of Mongolia"])
    clusters = find_gaps(asked, kb)
    assert clusters[0].size == 2
    assert clusters[0].closest_entry == "delivery-time"
    assert 0 < clusters[0].closest_score <= 1


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=80), st.sampled_from(["en", "el", None]),
                          st.floats(allow_nan=True, allow_infinity=True)), max_size=30))
def test_find_gaps_never_raises_and_counts_every_question(raw: list[tuple[str, str | None, float]]) -> None:
    asked = [GapQuestion(text, language, "no_match", at) for text, language, at in raw]
    clusters = find_gaps(asked, None)
    assert sum(c.size for c in clusters) == len(asked)
    assert [c.size for c in clusters] == sorted((c.size for c in clusters), reverse=True)
    assert all(1 <= len(c.examples) <= 5 for c in clusters)


@pytest.mark.parametrize(("text", "seconds"), [("30m", 1800), ("12h", 43200), ("7d", 604800), ("2w", 1209600),
                                               (" 1d ", 86400)])
def test_parse_since_good(text: str, seconds: float) -> None:
    assert parse_since(text) == seconds


@pytest.mark.parametrize("text", ["", "7", "d", "7x", "0d", "-1d", "1.5h", "7 days", "7D", "1d2h"])
def test_parse_since_bad(text: str) -> None:
    with pytest.raises(ValueError, match="30m, 12h, 7d, 2w"):
        parse_since(text)


async def add_event(redis: Redis, key: str, kind: str, at: float, explicit_id: bool = False, **fields: str) -> None:
    entry = {"type": kind, "at": repr(at), "conversation": "c1", **fields}
    await redis.xadd(key, entry, id=f"{int(at * 1000)}-0" if explicit_id else "*")


async def test_read_gap_questions_from_redis_since(redis: Redis, prefix: str) -> None:
    key = f"{prefix}events"
    now = time.time()
    old = now - 10 * 86400
    await add_event(redis, key, "no_match", old, True, question="an old question", language="en")
    for text in CANCEL:
        await add_event(redis, key, "no_match", now, question=text, language="en")
    await add_event(redis, key, "handoff_requested", now, question=INVOICE[0], language="en")
    await add_event(redis, key, "answer_not_helpful", now, question=INVOICE[1], language="en", faq_entry="x")
    await add_event(redis, key, "suggestions_rejected", now, question=INVOICE[2], language="lv", faq_entries="a,b")
    await add_event(redis, key, "no_match", now, question="", language="en")  # nothing to learn from
    await add_event(redis, key, "faq_match", now, question="answered fine", language="en")  # not a gap
    await add_event(redis, key, "case_opened", now)

    read = await read_gap_questions(redis, key, parse_since("7d"))
    assert [q.text for q in read] == CANCEL + INVOICE
    assert [q.kind for q in read[-3:]] == ["handoff_requested", "answer_not_helpful", "suggestions_rejected"]
    assert read[-1].language == "lv" and read[0].at == pytest.approx(now)
    everything = await read_gap_questions(redis, key, parse_since("2w"))
    assert everything[0].text == "an old question" and len(everything) == 9
    assert await read_gap_questions(redis, f"{prefix}no-such-stream", 3600) == []


async def test_read_gap_questions_pages_through_long_streams(redis: Redis, prefix: str) -> None:
    key = f"{prefix}events"
    start = 1_700_000_000.0
    pipe = redis.pipeline()
    for n in range(2500):
        fields = {"type": "no_match", "at": repr(start + n), "question": f"q{n}"}
        pipe.xadd(key, fields, id=f"{int(start * 1000) + n}-0")
    await pipe.execute()
    read = await read_gap_questions(redis, key, 3600, now=start + 60)
    assert [q.text for q in read] == [f"q{n}" for n in range(2500)]


async def test_cmd_faq_gaps_json_and_text(redis: Redis, prefix: str, tmp_path: Path) -> None:
    key = f"{prefix}events"
    now = time.time()
    for text in PARCEL + ["my parcel has still not arrived"]:
        await add_event(redis, key, "no_match", now, question=text, language="en")
    await add_event(redis, key, "handoff_requested", now, question="I want to talk about a gift card", language="en")
    write(tmp_path, "shop.yaml", SHOP_YAML)
    kb = load_knowledge_base(tmp_path, LANGUAGES)
    read = await read_gap_questions(redis, key, parse_since("7d"))

    out = io.StringIO()
    assert cmd_faq_gaps(read, kb, True, out, since="7d") == 0
    data = json.loads(out.getvalue())
    assert (data["since"], data["questions"]) == ("7d", 4)
    assert [c["size"] for c in data["clusters"]] == [3, 1]
    first = data["clusters"][0]
    assert set(first) == {"size", "examples", "languages", "kinds", "closest_entry", "closest_score"}
    assert first["closest_entry"] == "delivery-time" and first["kinds"] == {"no_match": 3}

    out = io.StringIO()
    assert cmd_faq_gaps(read, kb, False, out, since="7d") == 0
    text = out.getvalue()
    assert text.startswith("4 unanswered questions in the last 7d, 2 needs, biggest first:\n")
    assert "1. 3 questions  (en 3; no_match 3)" in text and "closest entry: delivery-time" in text

    out, err = io.StringIO(), io.StringIO()
    assert await run_faq_gaps(redis, key, "7d", tmp_path, LANGUAGES, True, out, err) == 0
    assert json.loads(out.getvalue()) == data and err.getvalue() == ""
    assert await run_faq_gaps(redis, key, "7 days", tmp_path, LANGUAGES, True, io.StringIO(), err) == 1
    assert "bad --since '7 days'" in err.getvalue()


def test_cmd_faq_gaps_without_questions() -> None:
    out = io.StringIO()
    assert cmd_faq_gaps([], None, False, out, since="1d") == 0
    assert out.getvalue() == "no unanswered questions in the last 1d\n"
