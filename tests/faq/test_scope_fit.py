"""Each knowledge base's own bar for offering choices (faq/scope_fit.py): the scope curve moved by how
the knowledge base's questions score held out.

The sentence model is the hash stand-in of the build-cache tests (the real one is measured by the quality
gate): what is tested here is the rule, where its figures come from, and that builds keep them."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pytest

import faq.matcher as matcher_module
import faq.scope_fit as scope_fit
from faq import load_knowledge_base
from faq.buildcache import build_cache_path
from faq.encoder import E5Encoder
from faq.lint import lint
from faq.matcher import ClassifierMatcher, matcher_factory
from faq.model import Entry
from faq.scope import SENTENCE_SCOPE
from tests.faq.faq_samples import LANGUAGES
from tests.faq.test_faq_build_cache import SAMPLE_FAQ, HashModel, _rewrite


@pytest.fixture
def model(monkeypatch: pytest.MonkeyPatch) -> HashModel:
    model = HashModel()
    monkeypatch.setattr(matcher_module, "load_encoder", lambda: E5Encoder(model, "test"))
    return model


def test_the_lowest_tenth_is_moved_to_the_reference() -> None:
    logits = [scope_fit.REFERENCE_TAIL - 1.0] * 10 + [5.0] * 90  # the lowest tenth sits 1 below
    assert scope_fit.offset_for(logits) == pytest.approx(1.0)
    # Questions that score like the reference's, or better, leave the curve as fitted: never stricter.
    assert scope_fit.offset_for([scope_fit.REFERENCE_TAIL] * 10 + [5.0] * 90) == pytest.approx(0.0)
    assert scope_fit.offset_for([9.0] * 100) == 0.0
    # However low they score, the bar moves by at most MAX_OFFSET: out-of-scope traffic is unknown.
    assert scope_fit.offset_for([-20.0] * 100) == scope_fit.MAX_OFFSET


def test_too_few_held_out_scores_leave_the_curve_as_fitted() -> None:
    assert scope_fit.offset_for([-5.0] * (scope_fit.FIT_MIN_QUESTIONS // 2 - 1)) == 0.0
    assert scope_fit.offset_for([]) == 0.0


def _entries(questions: int) -> dict[str, Entry]:
    kb = load_knowledge_base(SAMPLE_FAQ, LANGUAGES)
    entries, left = {}, questions
    for entry_id, entry in kb.entries.items():
        english = entry.questions.get("en", ())[:max(0, left)]
        if english:
            entries[entry_id] = Entry(entry.id, entry.team, entry.tags, {"en": tuple(english)}, entry.answers, entry.file, entry.line)
            left -= len(english)
    return entries


def test_a_small_or_large_knowledge_base_is_never_held_out(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[int] = []

    def build_without(part: Mapping[str, Entry]) -> ClassifierMatcher:
        built.append(len(part))
        raise AssertionError("no fold should be built")

    assert scope_fit.fitted_offset(_entries(scope_fit.FIT_MIN_QUESTIONS - 1), build_without) == 0.0
    monkeypatch.setattr(scope_fit, "FIT_MAX_QUESTIONS", 150)
    assert scope_fit.fitted_offset(_entries(151), build_without) == 0.0
    assert built == []


def test_a_build_fits_its_offset_from_held_out_questions_without_embedding_them(
        model: HashModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[float]] = []
    real = scope_fit.held_out_logits

    def spy(entries, build_without):  # type: ignore[no-untyped-def]
        embedded = model.embedded
        logits = real(entries, build_without)
        # Every held-out question is a question the build embedded: its cached vector is taken. Only
        # the few that the message's respelling writes otherwise (accents put back) are embedded.
        assert model.embedded - embedded <= 0.05 * len(logits)
        seen.append(logits)
        return logits

    monkeypatch.setattr(scope_fit, "held_out_logits", spy)
    kb = load_knowledge_base(SAMPLE_FAQ, LANGUAGES, matcher_factory(sentence_encoder=True, embedding_cache=tmp_path / "e.npz"))
    matcher = kb._matcher
    assert isinstance(matcher, ClassifierMatcher) and matcher.scope is not None
    assert len(seen) == 1 and len(seen[0]) >= scope_fit.FIT_MIN_QUESTIONS
    expected = scope_fit.offset_for(seen[0])
    assert matcher.scope_offset == pytest.approx(expected)
    assert matcher.scope.offset == pytest.approx(SENTENCE_SCOPE.offset + expected)
    # What a held-out question scores is what the service's scope score says of it.
    text = next(iter(kb.entries.values())).questions["en"][0]
    logit = matcher.scope_logit(text + " please", "en")
    _, in_scope = matcher.rank_in_scope(text + " please", 5, "en")
    assert logit is not None and in_scope == pytest.approx(1 / (1 + np.exp(-logit)))


def test_a_loaded_build_keeps_its_offset_and_a_broken_one_is_rebuilt(model: HashModel, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scope_fit, "offset_for", lambda logits: 1.25)  # a move the hash stand-in would not give
    cache = tmp_path / "e.npz"
    trained = load_knowledge_base(SAMPLE_FAQ, LANGUAGES, matcher_factory(sentence_encoder=True, embedding_cache=cache))
    assert trained._matcher.scope_offset == 1.25  # type: ignore[attr-defined]
    monkeypatch.setattr(scope_fit, "held_out_logits", lambda *a: pytest.fail("a loaded build is not held out again"))
    loaded = load_knowledge_base(SAMPLE_FAQ, LANGUAGES, matcher_factory(sentence_encoder=True, embedding_cache=cache))
    assert loaded._matcher.loaded and loaded._matcher.scope_offset == 1.25  # type: ignore[attr-defined]
    assert loaded._matcher.scope.offset == pytest.approx(SENTENCE_SCOPE.offset + 1.25)  # type: ignore[attr-defined]
    # A file whose offset is no finite number is no build: trained again (and held out again).
    _rewrite(build_cache_path(cache), scope_offset=np.asarray(np.nan))
    fits: list[int] = []
    monkeypatch.setattr(scope_fit, "held_out_logits", lambda *a: fits.append(1) or [0.0] * 100)
    rebuilt = load_knowledge_base(SAMPLE_FAQ, LANGUAGES, matcher_factory(sentence_encoder=True, embedding_cache=cache))
    assert not rebuilt._matcher.loaded and fits == [1]  # type: ignore[attr-defined]
    assert rebuilt._matcher.scope_offset == 1.25  # type: ignore[attr-defined]


def test_lint_folds_decide_with_the_whole_knowledge_bases_bar(model: HashModel, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scope_fit, "offset_for", lambda logits: 1.5)
    factory = matcher_factory(sentence_encoder=True, embedding_cache=tmp_path / "e.npz")
    kb = load_knowledge_base(SAMPLE_FAQ, LANGUAGES, factory)
    fits: list[int] = []
    monkeypatch.setattr(scope_fit, "held_out_logits", lambda entries, build: fits.append(1) or [])
    offsets: list[float] = []
    real_init = ClassifierMatcher.__init__

    def init(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        real_init(self, *args, **kwargs)
        offsets.append(self.scope_offset)

    monkeypatch.setattr(ClassifierMatcher, "__init__", init)
    lint(kb, factory, answer_at=0.82, suggest_at=0.45)
    assert fits == [] and offsets and set(offsets) == {1.5}
