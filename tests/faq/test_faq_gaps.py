"""`faq gaps`: failed questions read from a real Redis events stream, clustered by need, biggest first."""

from __future__ import annotations

import io
import json
import time
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

import faq.gaps as gaps
from bot.commands_faq import PersonRequests, cmd_faq_gaps, parse_since, read_gap_questions, run_faq_gaps
from faq import GapQuestion, find_gaps, load_knowledge_base, normalize
from faq.gaps import cluster_labels
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


# Sixteen unanswered questions of five needs, in different words (the n-gram clustering alone made 13
# groups of them); Greek also typed in Latin letters.
NEEDS = {
    "loyalty": ["do you have a loyalty program", "is there a loyalty card", "loyalty points for my purchases",
                "how do I join the loyalty club"],
    "warranty": ["how long is the warranty on electronics", "is my blender still under warranty",
                 "warranty claim for a broken kettle"],
    "bitcoin": ["can I pay with bitcoin", "do you accept crypto currency", "bitcoin payment possible?"],
    "store": ["where is your nearest store", "do you have a physical shop in Riga", "shop address in Riga"],
    "loyalty-el": ["έχετε πρόγραμμα επιβράβευσης", "πόντοι επιβράβευσης για τις αγορές μου", "programma epivravefsis"],
}


def test_questions_of_one_need_in_different_words_group_and_needs_stay_apart(tmp_path: Path) -> None:
    write(tmp_path, "shop.yaml", SHOP_YAML)
    kb = load_knowledge_base(tmp_path, LANGUAGES)
    need_of = {text: need for need, texts in NEEDS.items() for text in texts}
    asked = [GapQuestion(text, "el" if need.endswith("-el") else "en", "no_match", 1.0) for text, need in need_of.items()]
    clusters = find_gaps(asked, kb, max_examples=10)
    assert len(clusters) <= 9
    for cluster in clusters:
        assert len({need_of[text] for text in cluster.examples}) == 1, cluster.examples  # no two needs mixed
    assert clusters[0].size == 4 and set(clusters[0].examples) == set(NEEDS["loyalty"])
    assert sum(c.size for c in clusters) == len(asked)


def test_cluster_labels_are_the_clusters_of_find_gaps() -> None:
    asked = questions(CANCEL) + questions(INVOICE) + questions(PARCEL)
    labels = cluster_labels(asked)
    assert len(labels) == len(asked)
    sizes = sorted(Counter(labels).values(), reverse=True)
    assert sizes == [c.size for c in find_gaps(asked, None)] == [5, 3, 2]
    assert len({labels[0], labels[4]}) == 1  # "how do I cancel" in two cases: one question


def test_many_distinct_questions_past_the_pairwise_limit_still_group(monkeypatch: pytest.MonkeyPatch) -> None:
    """Above the pairwise limit the most asked are linked and the rest join by centroid or lead their own."""
    monkeypatch.setattr(gaps, "_MAX_LINKAGE", 4)
    asked = questions(CANCEL[:2] * 3 + INVOICE[:2] * 2 + CANCEL[2:] + INVOICE[2:] + ["what is the capital of Mongolia"])
    labels = dict(zip((q.text for q in asked), cluster_labels(asked)))
    assert len({labels[text] for text in CANCEL}) == 1 and len({labels[text] for text in INVOICE}) == 1
    assert labels["what is the capital of Mongolia"] not in {labels[CANCEL[0]], labels[INVOICE[0]]}
    assert sum(c.size for c in find_gaps(asked, None)) == len(asked)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=60), st.sampled_from(["en", "el", "lv", None])), max_size=25))
def test_cluster_labels_never_raise_and_identical_questions_share_one(raw: list[tuple[str, str | None]]) -> None:
    asked = [GapQuestion(text, language, "no_match", 0.0) for text, language in raw]
    asked += asked[:3]  # some asked twice
    labels = cluster_labels(asked)
    assert len(labels) == len(asked)
    first: dict[str, int] = {}
    for question, label in zip(asked, labels):
        key = normalize(question.text[:500])
        if key:
            assert first.setdefault(key, label) == label


@pytest.fixture(scope="module")
def person_requests() -> PersonRequests:
    return PersonRequests(LANGUAGES)


@pytest.mark.parametrize("text", [
    "I want to talk to a human", "agent please", "can I speak with a manager please", "/human",
    "could you please connect me with a real person", "hello, can I talk to customer service?",
    "θέλω να μιλήσω με κάποιον", "gribu runāt ar cilvēku", "ügyintézővel szeretnék beszélni",
])
def test_a_request_for_a_person_alone_is_no_gap(person_requests: PersonRequests, text: str) -> None:
    assert person_requests.only_asks_for_person(text)


@pytest.mark.parametrize("text", [
    "I want a refund for my broken phone, let me talk to someone", "agent for refund",
    "my parcel never arrived and nobody answers, get me a person now",
    "Θέλω να μιλήσω με κάποιον για την επιστροφή χρημάτων της παραγγελίας μου",
    "gribu runāt ar cilvēku par savu pasūtījumu, kas nav atnācis",
    "szeretnék beszélni egy ügyintézővel a számlámról, kétszer fizettem",
    "I want to talk about a gift card",  # no person asked for at all
    "how do I cancel my order",
])
def test_a_request_with_a_question_in_it_is_a_gap(person_requests: PersonRequests, text: str) -> None:
    assert not person_requests.only_asks_for_person(text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=120))
def test_person_requests_read_any_text(person_requests: PersonRequests, text: str) -> None:
    alone = person_requests.only_asks_for_person(text)
    assert isinstance(alone, bool)
    if alone:
        assert person_requests.need_words(text) == []
    # Whatever else a customer writes, a clear question beside the request keeps it a gap.
    assert not person_requests.only_asks_for_person(f"{text} agent please, my invoice download is broken")


def test_cmd_faq_gaps_leaves_out_requests_for_a_person_alone_and_says_so(person_requests: PersonRequests) -> None:
    asked = (questions(INVOICE) + questions(["I want to talk to a human", "agent please"], "handoff_requested")
             + questions(["I want a refund for my broken phone, let me talk to someone"], "handoff_requested")
             + questions(["agent please"], "no_match"))  # not a handoff event: never left out
    out = io.StringIO()
    assert cmd_faq_gaps(asked, None, True, out, since="7d", only_asks_for_person=person_requests.only_asks_for_person) == 0
    data = json.loads(out.getvalue())
    assert (data["questions"], data["person_requests_left_out"]) == (5, 2)
    examples = [e for c in data["clusters"] for e in c["examples"]]
    assert "I want a refund for my broken phone, let me talk to someone" in examples
    assert "I want to talk to a human" not in examples and "agent please" in examples
    out = io.StringIO()
    cmd_faq_gaps(asked, None, False, out, only_asks_for_person=person_requests.only_asks_for_person)
    assert "(2 requests for a person with no question left out)" in out.getvalue().splitlines()[0]
    out = io.StringIO()
    cmd_faq_gaps(questions(["agent please"], "handoff_requested"), None, False, out, since="1d",
                 only_asks_for_person=person_requests.only_asks_for_person)
    assert out.getvalue() == "no unanswered questions in the last 1d (1 request for a person with no question left out)\n"


async def test_run_faq_gaps_reads_requests_for_a_person_from_redis(redis: Redis, prefix: str, tmp_path: Path) -> None:
    key = f"{prefix}events"
    now = time.time()
    await add_event(redis, key, "handoff_requested", now, question="I want to talk to a human", language="en")
    await add_event(redis, key, "handoff_requested", now, question="θέλω να μιλήσω με κάποιον", language="el")
    await add_event(redis, key, "handoff_requested", now, language="en",
                    question="I want a refund for my broken phone, let me talk to someone")
    write(tmp_path, "shop.yaml", SHOP_YAML)
    out, err = io.StringIO(), io.StringIO()
    assert await run_faq_gaps(redis, key, "1h", tmp_path, LANGUAGES, True, out, err) == 0
    data = json.loads(out.getvalue())
    assert (data["questions"], data["person_requests_left_out"]) == (1, 2)
    assert data["clusters"][0]["examples"] == ["I want a refund for my broken phone, let me talk to someone"]
