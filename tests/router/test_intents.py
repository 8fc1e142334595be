"""What customers say to the bot itself, in four languages, typed carelessly: and what it must not misread."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from router.intents import (
    Intents,
    SmallTalk,
    VocabularyError,
    choice_in,
    load_vocabularies,
    option_named,
)

LANGUAGES = ["en", "el", "lv", "hu"]
VOCABULARY = Path(__file__).resolve().parents[2] / "router" / "vocabulary"


@pytest.fixture(scope="module")
def intents() -> Intents:
    return Intents(load_vocabularies(LANGUAGES))


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_language_has_every_list(language: str) -> None:
    english = yaml.safe_load((VOCABULARY / "en.yaml").read_text(encoding="utf-8"))
    other = yaml.safe_load((VOCABULARY / f"{language}.yaml").read_text(encoding="utf-8"))
    assert set(other) == set(english)
    assert set(other["rating"]) == {1, 2, 3, 4, 5}


SMALL_TALK = [
    ("hello", SmallTalk.GREETING, "en"), ("Hi there!", SmallTalk.GREETING, "en"),
    ("good morning", SmallTalk.GREETING, "en"), ("helo", SmallTalk.GREETING, None),
    ("γεια σας", SmallTalk.GREETING, "el"), ("Γειά σας!", SmallTalk.GREETING, "el"),
    ("geia sas", SmallTalk.GREETING, "el"), ("kalimera", SmallTalk.GREETING, "el"),
    ("sveiki", SmallTalk.GREETING, "lv"), ("labdien!", SmallTalk.GREETING, "lv"),
    ("jó napot", SmallTalk.GREETING, "hu"), ("jo napot", SmallTalk.GREETING, "hu"), ("szia", SmallTalk.GREETING, "hu"),
    ("thank you so much!", SmallTalk.THANKS, "en"), ("thanks a lot!", SmallTalk.THANKS, "en"),
    ("thnaks", SmallTalk.THANKS, "en"), ("ευχαριστώ πολύ!", SmallTalk.THANKS, "el"),
    ("ευχαριστω", SmallTalk.THANKS, "el"), ("efxaristw poly", SmallTalk.THANKS, "el"),
    ("eyxaristo", SmallTalk.THANKS, "el"), ("paldies liels", SmallTalk.THANKS, "lv"),
    ("paldies", SmallTalk.THANKS, "lv"), ("köszönöm szépen", SmallTalk.THANKS, "hu"),
    ("koszonom szepen", SmallTalk.THANKS, "hu"), ("köszi", SmallTalk.THANKS, "hu"),
    ("bye!", SmallTalk.GOODBYE, "en"), ("αντίο", SmallTalk.GOODBYE, "el"), ("uz redzēšanos", SmallTalk.GOODBYE, "lv"),
    ("viszontlátásra", SmallTalk.GOODBYE, "hu"),
    ("ok", SmallTalk.ACK, None), ("great", SmallTalk.ACK, "en"), ("👍", SmallTalk.ACK, None),
    ("👍👍", SmallTalk.ACK, None), ("εντάξει", SmallTalk.ACK, "el"), ("labi", SmallTalk.ACK, "lv"),
    ("rendben", SmallTalk.ACK, "hu"),
]


@pytest.mark.parametrize(("text", "kind", "language"), SMALL_TALK)
def test_small_talk_and_its_language(intents: Intents, text: str, kind: SmallTalk, language: str | None) -> None:
    reading = intents.read(text)
    assert reading.small_talk == kind, text
    if language is not None:
        assert reading.language == language, text


PERSON = ["I want to talk to a human", "can I speak to someone please", "humna please", "agent", "real person!",
          "θέλω να μιλήσω με κάποιον άνθρωπο", "thelo na milisw me kapoion anthrwpo",
          "thelo na miliso me kapoion anthropo", "θελω εκπροσωπο", "gribu runāt ar cilvēku",
          "gribu runat ar cilveku", "operators", "szeretnék egy ügyintézővel beszélni",
          "szeretnek egy ugyintezovel beszelni", "/human"]


@pytest.mark.parametrize("text", PERSON)
def test_asking_for_a_person(intents: Intents, text: str) -> None:
    assert intents.read(text).wants_person, text


COMPLAINTS = ["this is unacceptable, I want to file a complaint", "I want to complain", "θέλω να κάνω παράπονο",
              "parapono", "απαράδεκτο", "man ir sūdzība", "man ir sudziba", "panaszt szeretnék tenni",
              "panaszt szeretnek tenni", "ez elfogadhatatlan"]


@pytest.mark.parametrize("text", COMPLAINTS)
def test_complaints(intents: Intents, text: str) -> None:
    assert intents.read(text).complaint, text


@pytest.mark.parametrize("text", ["any news on my case?", "what's the status of my ticket", "υπάρχουν νέα για το αίτημά μου;",
                                  "kādas ziņas par manu pieteikumu?", "van valami hír az ügyemről?"])
def test_asking_about_ones_case(intents: Intents, text: str) -> None:
    assert intents.read(text).asks_case_status, text


@pytest.mark.parametrize("text", ["that solved it, thanks", "problem solved", "λύθηκε, ευχαριστώ", "tas atrisināja, paldies",
                                  "ez megoldotta, köszönöm"])
def test_solved(intents: Intents, text: str) -> None:
    assert intents.read(text).solved, text


@pytest.mark.parametrize("text", ["it is not solved", "still not solved", "δεν λύθηκε", "nav atrisināts", "nem oldódott meg",
                                  "is it solved yet?", "Λύθηκε το αίτημά μου;", "Megoldódott már?",
                                  "Vai mana problēma jau ir atrisināta?"])
def test_not_solved_is_not_solved(intents: Intents, text: str) -> None:
    assert not intents.read(text).solved, text


@pytest.mark.parametrize(("text", "yes"), [("yes", True), ("Yes please", True), ("yep!", True), ("ναι", True),
                                          ("nai", True), ("jā", True), ("ja", True), ("igen", True), ("no", False),
                                          ("no, not really", False), ("όχι", False), ("oxi", False), ("nē", False),
                                          ("nem", False)])
def test_yes_and_no(intents: Intents, text: str, yes: bool) -> None:
    reading = intents.read(text)
    assert (reading.yes, reading.no) == (yes, not yes), text


@pytest.mark.parametrize(("text", "rating"), [("5", 5), ("5/5", 5), ("4 stars", 4), ("⭐⭐⭐⭐⭐", 5), ("⭐⭐⭐", 3),
                                             ("excellent", 5), ("εξαιρετικά", 5), ("lieliski", 5), ("kiváló", 5),
                                             ("kivalo", 5), ("terrible", 1), ("not bad", 3), ("very good", 4),
                                             ("great", None), ("perfect, thanks", None), ("labi", None), ("ok", None)])
def test_ratings(intents: Intents, text: str, rating: int | None) -> None:
    # An acknowledgement ("great", "labi") after the prompt is not five stars: CSAT holds what customers meant.
    assert intents.read(text).rating == rating, text


# Questions for the FAQ, which none of the above must swallow.
QUESTIONS = ["can another person collect my parcel?", "Where is my parcel?", "How long is shipping to Germany?",
             "how do I change my password", "Πού είναι το δέμα μου;", "pou einai to dema mou",
             "Cik ilgi notiek piegāde?", "Mennyi idő alatt érkezik meg a csomag?", "do you ship to Latvia",
             "hello, where is my parcel?", "thanks, but how do I return an item?", "ok so what about refunds",
             "Szeretném tudni az ügyintézés menetét"]


@pytest.mark.parametrize("text", QUESTIONS)
def test_questions_are_left_to_the_faq(intents: Intents, text: str) -> None:
    reading = intents.read(text)
    assert reading.small_talk is None and not reading.wants_person and not reading.complaint, text
    assert not reading.yes and not reading.no and not reading.solved and reading.rating is None, text


@given(st.text(max_size=300))
@settings(max_examples=300, deadline=None)
def test_any_text_is_read_without_error(text: str) -> None:
    reading = _INTENTS.read(text)
    assert reading.rating is None or 1 <= reading.rating <= 5
    assert not (reading.wordless and reading.small_talk is not None)


_INTENTS = Intents(load_vocabularies(LANGUAGES))


def test_numbers_and_option_words_pick_a_choice() -> None:
    labels = ["Do you offer gift wrapping?", "How long does delivery take?", "Can I pay by card?"]
    assert choice_in("2", 3) == 2 and choice_in("2.", 3) == 2 and choice_in("#3", 3) == 3
    assert choice_in("4", 3) is None and choice_in("two", 3) is None
    assert option_named("gift wrapping", labels) == 0
    assert option_named("pay by card", labels) == 2
    assert option_named("delivery time", labels) == 1
    assert option_named("something else entirely", labels) is None


@given(st.text(max_size=200), st.lists(st.text(max_size=80), max_size=4))
@settings(max_examples=200, deadline=None)
def test_option_named_is_an_index_or_none(text: str, labels: list[str]) -> None:
    picked = option_named(text, labels)
    assert picked is None or 0 <= picked < len(labels)


def test_a_broken_vocabulary_names_its_file(tmp_path: Path) -> None:
    (tmp_path / "en.yaml").write_text("greeting: [hello\n", encoding="utf-8")
    with pytest.raises(VocabularyError, match="en.yaml"):
        load_vocabularies(["en"], path=tmp_path)
    (tmp_path / "en.yaml").write_text("greting: [hello]\n", encoding="utf-8")
    with pytest.raises(VocabularyError, match="unknown list 'greting'"):
        load_vocabularies(["en"], path=tmp_path)
    (tmp_path / "en.yaml").write_text("yes: [yes, sure]\n", encoding="utf-8")
    with pytest.raises(VocabularyError, match="quote yes"):
        load_vocabularies(["en"], path=tmp_path)


def test_an_operators_extra_words_count(tmp_path: Path) -> None:
    (tmp_path / "en.yaml").write_text("person: [agent]\n", encoding="utf-8")
    intents = Intents(load_vocabularies(["en", "el"], {"en": {"person_phrases": ["a wizard please"]}}, path=tmp_path))
    assert intents.read("I would like a wizard please").wants_person
    assert intents.read("agent").wants_person
