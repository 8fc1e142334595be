"""The quick path (faq/quick.py): n-grams and word vectors answer the messages they are sure of without
the sentence encoder; every other message goes the full way.

The sentence model is a stand-in that embeds by hash and counts what it embeds (the real one is tested
by the quality gate): whether a message was embedded is what tells the two paths apart.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import faq.matcher as matcher_module
from faq import KnowledgeBase, load_knowledge_base
from faq.buildcache import BuildCache, build_cache_path
from faq.encoder import E5Encoder
from faq.matcher import matcher_factory
from faq.model import Decision
from faq.quick import QUICK_ANSWER_AT
from tests.faq.faq_samples import LANGUAGES
from tests.faq.test_faq_build_cache import ASK, MESSAGES, SAMPLE_FAQ, HashModel, _rewrite

# Asked of the sample FAQ as its questions put it (or nearly: the first two), in each language; the
# Greek one in Latin letters, the Hungarian and Latvian ones without accents.
SURE = ("how long will delivery take", "is shipping free", "mennyibe kerul a szallitas", "poso kostizoun ta metaforika",
        "cik maksa piegade")
# Nothing the sample FAQ's words say for sure.
UNSURE = ("what's the weather like on mars", "can you recommend a good book")


@pytest.fixture
def model(monkeypatch: pytest.MonkeyPatch) -> HashModel:
    model = HashModel()
    monkeypatch.setattr(matcher_module, "load_encoder", lambda: E5Encoder(model, "test"))
    return model


def _sample(cache: Path) -> KnowledgeBase:
    return load_knowledge_base(SAMPLE_FAQ, LANGUAGES, matcher_factory(sentence_encoder=True, embedding_cache=cache))


def test_a_sure_message_is_answered_without_the_sentence_model(model: HashModel, tmp_path: Path) -> None:
    kb = _sample(tmp_path / "embeddings.npz")
    words_only = load_knowledge_base(SAMPLE_FAQ, LANGUAGES)  # the matcher without a sentence model
    for message in SURE:
        embedded, quick = model.embedded, kb.quick_matches
        result = kb.match(message, **ASK)
        assert model.embedded == embedded and kb.quick_matches == quick + 1, message
        assert result.decision is Decision.ANSWER and result.matches[0].score >= QUICK_ANSWER_AT
        # The quick path is the word-vector matcher, trained beside the full one: the same answer and score.
        expected = words_only.match(message, **ASK)
        assert result.matches[0].entry_id == expected.matches[0].entry_id, message
        assert result.matches[0].score == pytest.approx(expected.matches[0].score, abs=1e-6)


def test_an_unsure_message_goes_the_full_way(model: HashModel, tmp_path: Path) -> None:
    kb = _sample(tmp_path / "embeddings.npz")
    for message in UNSURE:
        embedded, quick = model.embedded, kb.quick_matches
        kb.match(message, **ASK)
        assert model.embedded == embedded + 1 and kb.quick_matches == quick, message


def test_an_answer_bar_above_the_quick_score_sends_the_message_the_full_way(model: HashModel, tmp_path: Path) -> None:
    kb = _sample(tmp_path / "embeddings.npz")
    for message in SURE[:2]:  # not word for word a question: scored under 1
        score = kb.match(message, **ASK).matches[0].score
        assert QUICK_ANSWER_AT <= score < 1.0
        embedded = model.embedded
        kb.match(message, answer_at=score + 1e-6, suggest_at=0.45)
        assert model.embedded == embedded + 1, message
    assert kb.quick_matches == 2


def test_a_knowledge_base_of_many_questions_builds_without_a_quick_path(
        model: HashModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(matcher_module, "QUICK_MAX_QUESTIONS", 10)  # the sample FAQ has more
    kb = _sample(tmp_path / "embeddings.npz")
    embedded = model.embedded
    result = kb.match(SURE[0], **ASK)
    assert model.embedded == embedded + 1 and kb.quick_matches == 0  # the full way
    assert result.decision is Decision.ANSWER
    with np.load(build_cache_path(tmp_path / "embeddings.npz"), allow_pickle=False) as data:
        assert "quick_bias" not in data.files


def test_a_loaded_build_takes_the_quick_path_as_the_trained_one(model: HashModel, tmp_path: Path) -> None:
    cache = tmp_path / "embeddings.npz"
    trained = _sample(cache)
    loaded = _sample(cache)
    assert loaded._matcher.loaded  # type: ignore[attr-defined]
    for message in (*SURE, *UNSURE, *MESSAGES):
        first, second = trained.match(message, **ASK), loaded.match(message, **ASK)
        assert [(m.entry_id, round(m.score, 9)) for m in first.matches] == \
            [(m.entry_id, round(m.score, 9)) for m in second.matches], message
    assert trained.quick_matches == loaded.quick_matches > 0


@pytest.mark.parametrize("member, value", [
    ("quick_vector_weights", np.zeros((3, 4), dtype=np.float32)),  # another word-vector width
    ("quick_bias", np.zeros(2)),  # biases for another number of entries
    ("quick_bias", np.full(1, np.nan)),
])
def test_a_build_file_whose_quick_path_does_not_fit_is_rebuilt(
        model: HashModel, tmp_path: Path, member: str, value: np.ndarray) -> None:
    cache = tmp_path / "embeddings.npz"
    _sample(cache)
    path = build_cache_path(cache)
    _rewrite(path, **{member: value})
    kb = _sample(cache)
    assert not kb._matcher.loaded  # type: ignore[attr-defined]
    assert kb.match(SURE[0], **ASK).decision is Decision.ANSWER
    with np.load(path, allow_pickle=False) as data:  # the rebuilt file is whole again
        assert data["quick_bias"].shape == (len(kb.entries),)


def test_a_build_file_with_half_a_quick_path_is_no_build(model: HashModel, tmp_path: Path) -> None:
    cache = tmp_path / "embeddings.npz"
    _sample(cache)
    path = build_cache_path(cache)
    with np.load(path, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files if name != "quick_bias"}
    with open(path, "wb") as file:
        np.savez(file, **arrays)  # type: ignore[arg-type]
    with np.load(path, allow_pickle=False) as data:
        key = bytes(data["key"])
    assert BuildCache(path).read(key) is None
