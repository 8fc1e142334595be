"""The `helpline faq check|ask|eval|lint|gaps` commands: thin shells over the faq package that turn errors
into exit codes."""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from faq import (
    CasesError,
    Decision,
    EvalReport,
    GapQuestion,
    KnowledgeBase,
    KnowledgeBaseError,
    evaluate,
    find_gaps,
    load_knowledge_base,
    read_cases,
)
from faq.encoder import default_cache_path
from faq.lint import ANSWER_AT, SUGGEST_AT, lint_report
from faq.matcher import matcher_factory
from faq.semantic import SemanticModelError
from router.events import GAP_EVENTS, Event

HANDOFF_REQUESTED = Event.HANDOFF_REQUESTED.value

OK, FAILED = 0, 1


def cmd_faq_check(kb_dir: Path, languages: Sequence[str], out: TextIO) -> int:
    """Validate the knowledge base; print a one-line summary, or every problem found."""
    try:
        kb = load_knowledge_base(Path(kb_dir), languages)
    except KnowledgeBaseError as exc:
        _print_problems(exc.problems, out)
        return FAILED
    used = sorted({lang for entry in kb.entries.values() for lang in entry.questions} |
                  {lang for entry in kb.entries.values() for lang in entry.answers},
                  key=kb.languages.index)
    print(f"{kb_dir}: ok, {len(kb.entries)} entries, {kb.question_count} questions, "
          f"languages: {', '.join(used)}", file=out)
    return OK


def _load_or_report(kb_dir: Path, languages: Sequence[str], semantic_model: str | None,
                    out: TextIO, sentence_encoder: bool = True,
                    embedding_cache: Path | None = None) -> KnowledgeBase | None:
    """The knowledge base with the configured matcher, or None after printing why it does not load."""
    try:
        factory = matcher_factory(semantic_model, sentence_encoder=sentence_encoder,
                                  embedding_cache=embedding_cache or default_cache_path(Path(kb_dir)))
        return load_knowledge_base(Path(kb_dir), languages, factory)
    except SemanticModelError as exc:
        print(f"error: {exc}", file=out)
    except KnowledgeBaseError as exc:
        _print_problems(exc.problems, out)
    return None


def cmd_faq_ask(
    text: str,
    kb_dir: Path,
    languages: Sequence[str],
    lang: str | None,
    as_json: bool,
    answer_at: float,
    suggest_at: float,
    out: TextIO,
    semantic_model: str | None = None,
    sentence_encoder: bool = True,
    embedding_cache: Path | None = None,
) -> int:
    """Show what the bot would do with one message: decision, language, top matches, and the answer."""
    kb = _load_or_report(kb_dir, languages, semantic_model, out, sentence_encoder, embedding_cache)
    if kb is None:
        return FAILED
    result = kb.match(text, lang, answer_at=answer_at, suggest_at=suggest_at)
    answer = (kb.answer(result.matches[0].entry_id, result.language)
              if result.decision is Decision.ANSWER else None)
    if as_json:
        json.dump({
            "decision": result.decision.value,
            "language": result.language,
            "matches": [{"id": m.entry_id, "score": round(m.score, 4), "team": m.team} for m in result.matches],
            "answer": answer,
        }, out, ensure_ascii=False)
        out.write("\n")
        return OK
    print(f"decision: {result.decision.value}", file=out)
    print(f"language: {result.language}", file=out)
    for match in result.matches:
        team = f"  (team {match.team})" if match.team else ""
        print(f"  {match.score:.3f}  {match.entry_id}{team}", file=out)
    if not result.matches:
        print("  no entry shares anything with this message", file=out)
    if answer is not None:
        print(f"answer:\n{answer}", file=out)
    return OK


def cmd_faq_eval(
    cases: Path,
    kb_dir: Path,
    languages: Sequence[str],
    as_json: bool,
    answer_at: float,
    suggest_at: float,
    out: TextIO,
    semantic_model: str | None = None,
    sentence_encoder: bool = True,
    embedding_cache: Path | None = None,
) -> int:
    """Evaluate the knowledge base on labelled cases; print the report as JSON or as a table."""
    kb = _load_or_report(kb_dir, languages, semantic_model, out, sentence_encoder, embedding_cache)
    if kb is None:
        return FAILED
    try:
        loaded = read_cases(Path(cases))
        evaluation = evaluate(kb, loaded, answer_at=answer_at, suggest_at=suggest_at)
        report = evaluation.to_dict()
    except CasesError as exc:
        _print_problems(exc.problems, out)
        return FAILED
    except ValueError as exc:
        print(f"error: {exc}", file=out)
        return FAILED
    report["matcher"] = kb.describe()  # says when the sentence encoder is missing
    if as_json:
        json.dump(report, out)
        out.write("\n")
        return OK
    confusions = report.pop("confusions")
    report.pop("entries")
    width = max(len(key) for key in report)
    for key, value in report.items():
        print(f"{key:<{width}}  {_format(value)}", file=out)
    if confusions:
        print("confusions (count, right entry <- entry ranked first instead):", file=out)
        for confusion in confusions:
            print(f"  {confusion['count']:>5}  {confusion['expected']} <- {confusion['given']}", file=out)
    else:
        print("confusions: none", file=out)
    _print_entry_reach(evaluation, out)
    return OK


def _print_entry_reach(evaluation: EvalReport, out: TextIO) -> None:
    """Which entries customers fail to reach and which take other entries' questions: what to add or reword."""
    least = evaluation.least_reached()
    if least:
        print("least reached (self-served of the entry's cases; where the rest went):", file=out)
        for entry in least:
            elsewhere = Counter(entry.answered_instead) + Counter(entry.offered_instead)
            went = [f"{other} {count}" for other, count in elsewhere.most_common(3)]
            handed = entry.outcomes.get("handed_off", 0)
            went += [f"a person {handed}"] if handed else []
            print(f"  {entry.self_served:>4}/{entry.messages:<4} {entry.entry_id}: {', '.join(went)}", file=out)
    taking = evaluation.taking_others()
    if taking:
        print("taking others' questions (answered or offered first instead of the right entry):", file=out)
        for entry in taking:
            took = [f"{other or 'out of scope'} {count}" for other, count in list(entry.took.items())[:3]]
            print(f"  {sum(entry.took.values()):>9} {entry.entry_id}: from {', '.join(took)}", file=out)


def cmd_faq_lint(kb_dir: Path, languages: Sequence[str], out: TextIO, as_json: bool = False,
                 suggest_at: float = SUGGEST_AT, answer_at: float = ANSWER_AT) -> int:
    """Warn about entries that fight, near-duplicate questions, thin entries, missing translations and
    entries customers fail to reach, and say how often each entry's own questions, held out, reach it.
    `answer_at` and `suggest_at` are the service's: a fight is a question another entry would be answered with.

    Exit 0 when the knowledge base loads (warnings or not), 1 when it does not (every problem listed).
    """
    try:
        # Lint builds its own matchers, each without the questions it checks: the knowledge base's
        # own matcher would be built for nothing (a second or so on a large one).
        kb = load_knowledge_base(Path(kb_dir), languages, _no_matcher)
    except KnowledgeBaseError as exc:
        if as_json:
            errors = [{"file": str(p.file), "line": p.line, "message": p.message} for p in exc.problems]
            json.dump({"errors": errors, "warnings": []}, out, ensure_ascii=False)
            out.write("\n")
        else:
            _print_problems(exc.problems, out)
        return FAILED
    report = lint_report(kb, answer_at=answer_at, suggest_at=suggest_at)
    warnings = report.warnings
    if as_json:
        json.dump({"errors": [], **report.to_dict()}, out, ensure_ascii=False)
        out.write("\n")
        return OK
    for warning in warnings:
        print(warning, file=out)
    overall = report.overall
    if overall.messages:
        outcomes = overall.outcomes
        share = overall.self_served / overall.messages
        print(f"reach: {overall.self_served} of {overall.messages} questions ({share:.0%}), each left out, find their "
              f"entry: {outcomes.get('answered_right', 0)} answered, {outcomes.get('offered_right', 0)} offered among "
              f"choices; {outcomes.get('answered_wrong', 0)} answered with another entry, "
              f"{outcomes.get('offered_wrong', 0)} offered only others, {outcomes.get('handed_off', 0)} to a person",
              file=out)
        least = [e for e in report.least_reached(_LEAST_REACHED) if e.self_served < e.messages]
        if least:
            print("least reached: " + ", ".join(f"{e.entry_id} {e.self_served}/{e.messages}" for e in least),
                  file=out)
    entries = len({w.entry_id for w in warnings})
    if warnings:
        print(f"{len(warnings)} warning{'s' if len(warnings) != 1 else ''} in {entries} of "
              f"{len(kb.entries)} entries", file=out)
    else:
        print(f"{kb_dir}: no warnings, {len(kb.entries)} entries", file=out)
    return OK


_LEAST_REACHED = 3


class _NoMatcher:
    def rank(self, text: str, limit: int) -> list[tuple[str, float]]:
        return []


def _no_matcher(entries: object) -> _NoMatcher:
    return _NoMatcher()


_SINCE = re.compile(r"(\d+)([mhdw])")
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_PAGE = 1000


def parse_since(text: str) -> float:
    """Seconds in a span written as a whole number and a unit: 30m, 12h, 7d, 2w; ValueError otherwise."""
    match = _SINCE.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None or int(match.group(1)) == 0:
        raise ValueError(f"bad --since {text!r}: write a whole number above 0 and a unit m, h, d or w "
                         f"(minutes, hours, days, weeks), e.g. 30m, 12h, 7d, 2w")
    return float(int(match.group(1)) * _UNIT_SECONDS[match.group(2)])


async def read_gap_questions(
    redis: Any, events_key: str, since_seconds: float, now: float | None = None
) -> list[GapQuestion]:
    """The questions of handoffs, unhelpful answers and rejected suggestions in the events stream since
    `since_seconds` ago, oldest first. Stream ids are millisecond timestamps, so the range starts at one."""
    from router.report.events import read_questions

    now = time.time() if now is None else now
    start = f"{max(0, int((now - since_seconds) * 1000))}-0"
    # The customer's words are in the questions stream (router/store.py, keys.questions next to
    # keys.events), by the events' question_ref; a minute early: written with their event, not before.
    words = await read_questions(redis, events_key.removesuffix("events") + "questions",
                                 f"{max(0, int((now - since_seconds - 60) * 1000))}-0", "+")
    questions: list[GapQuestion] = []
    while True:
        page = await redis.xrange(events_key, min=start, max="+", count=_PAGE)
        for entry_id, fields in page:
            read = {_text(k): _text(v) for k, v in fields.items()}
            if read.get("question_ref") in words:
                read["question"] = words[read["question_ref"]]
            question = _gap_question(_text(entry_id), read)
            if question is not None:
                questions.append(question)
        if len(page) < _PAGE:
            return questions
        start = f"({_text(page[-1][0])}"  # exclusive: the next page starts after the last id read


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _gap_question(entry_id: str, fields: dict[str, str]) -> GapQuestion | None:
    kind = fields.get("type")
    text = (fields.get("question") or "").strip()
    if kind not in GAP_EVENTS or not text:
        return None
    try:
        at = float(fields["at"])
    except (KeyError, ValueError):
        at = int(entry_id.split("-", 1)[0]) / 1000.0  # the stream id is when it was written
    return GapQuestion(text=text, language=fields.get("language") or None, kind=kind, at=at)


class PersonRequests:
    """Tells a request for a person that carries no question ("I want to talk to a human") from one that
    does ("I want a refund for my broken phone, let me talk to someone").

    A text is only a request when the router would read it as one (`Intents.read(...).wants_person`);
    it carries no question when, with every word of the vocabularies' person, talk, filler, small talk,
    yes, no and complaint lists taken out (in any configured language), no word is left that says
    something: three letters or more and, where the shipped word vectors know it, not among the most
    frequent words of its language ("with", "could", "where"). One is enough: "agent for refund" says
    what the FAQ should answer; "real person asap" is the price (urgency is no word list's).
    """

    _LISTS = ("person", "talk", "person_phrases", "filler", "greeting", "thanks", "goodbye", "ack", "yes", "no",
              "complaint")
    _MIN_LETTERS = 3
    _MIN_WEIGHT = 0.45  # word-vector weight a / (a + frequency): "with" 0.10, "could" 0.36, "refund" 0.82

    def __init__(self, languages: Sequence[str],
                 extra_words: Mapping[str, Mapping[str, Sequence[str]]] | None = None) -> None:
        from faq.wordvectors import builtin_word_vectors
        from router.intents import Intents, load_vocabularies, tokens_of

        vocabularies = load_vocabularies(languages, extra_words)
        self._intents = Intents(vocabularies)
        self._tokens_of = tokens_of
        self._words: set[str] = set()
        self._stems: set[str] = set()
        for vocabulary in vocabularies.values():
            for key in self._LISTS:
                for phrase in vocabulary.get(key) or ():  # type: ignore[attr-defined]
                    for raw in str(phrase).split():
                        for token in tokens_of(raw.rstrip("*")):
                            target = self._stems if raw.endswith("*") else self._words
                            target.update((token.plain, token.latin))
        self._vectors = builtin_word_vectors()

    def only_asks_for_person(self, text: str) -> bool:
        """True for a request for a person with (nearly) nothing else in it."""
        if not isinstance(text, str) or not self._intents.read(text).wants_person:
            return False
        return not self.need_words(text)

    def need_words(self, text: str) -> list[str]:
        """The words of `text` that are not about reaching a person, small talk or filler, and say something."""
        left = []
        for token in self._tokens_of(text):
            if len(token.plain) < self._MIN_LETTERS or token.plain in self._words or token.latin in self._words:
                continue
            if any(token.plain.startswith(stem) or token.latin.startswith(stem) for stem in self._stems):
                continue
            vector = self._vectors.word(token.plain) if self._vectors is not None else None
            if self._vectors is not None and (vector is None or float(np.linalg.norm(vector)) < self._MIN_WEIGHT):
                continue  # a frequent word of the language, or digits
            left.append(token.plain)
        return left


def cmd_faq_gaps(
    questions: Sequence[GapQuestion], kb: KnowledgeBase | None, as_json: bool, out: TextIO, since: str | None = None,
    only_asks_for_person: Callable[[str], bool] | None = None,
) -> int:
    """Print what customers asked that the FAQ did not settle, as clusters of one need, biggest first.

    Requests for a person that `only_asks_for_person` says carry no question are left out (and counted):
    "I want to talk to a human" tells the admin nothing to write."""
    left_out = 0
    if only_asks_for_person is not None:
        kept = [q for q in questions if q.kind != HANDOFF_REQUESTED or not only_asks_for_person(q.text)]
        left_out, questions = len(questions) - len(kept), kept
    clusters = find_gaps(questions, kb)
    if as_json:
        json.dump({"since": since, "questions": len(questions), "person_requests_left_out": left_out,
                   "clusters": [c.to_dict() for c in clusters]}, out, ensure_ascii=False)
        out.write("\n")
        return OK
    span = f" in the last {since}" if since else ""
    besides = (f" ({left_out} request{'s' if left_out != 1 else ''} for a person with no question left out)"
               if left_out else "")
    if not questions:
        print(f"no unanswered questions{span}{besides}", file=out)
        return OK
    print(f"{len(questions)} unanswered question{'s' if len(questions) != 1 else ''}{span}, "
          f"{len(clusters)} need{'s' if len(clusters) != 1 else ''}, biggest first{besides}:", file=out)
    for number, cluster in enumerate(clusters, start=1):
        languages = ", ".join(f"{lang} {n}" for lang, n in cluster.languages.items())
        kinds = ", ".join(f"{kind} {n}" for kind, n in cluster.kinds.items())
        print(f"\n{number}. {cluster.size} question{'s' if cluster.size != 1 else ''}  ({languages}; {kinds})",
              file=out)
        for example in cluster.examples:
            print(f"     - {example}", file=out)
        if cluster.closest_entry is not None:
            print(f"   closest entry: {cluster.closest_entry} ({cluster.closest_score:.3f})", file=out)
        elif kb is not None:
            print("   closest entry: none", file=out)
    return OK


async def run_faq_gaps(
    redis: Any, events_key: str, since: str, kb_dir: Path, languages: Sequence[str], as_json: bool,
    out: TextIO, err: TextIO, extra_words: Mapping[str, Mapping[str, Sequence[str]]] | None = None,
) -> int:
    """`helpline faq gaps`: parse --since, read the events, load the knowledge base and print the gaps.

    A knowledge base that does not load is reported on `err` and the gaps are still shown, without
    closest entries: what customers asked does not depend on the FAQ files being valid.
    """
    try:
        seconds = parse_since(since)
    except ValueError as exc:
        print(f"error: {exc}", file=err)
        return FAILED
    questions = await read_gap_questions(redis, events_key, seconds)
    person_requests = PersonRequests(languages, extra_words)
    try:
        kb: KnowledgeBase | None = load_knowledge_base(Path(kb_dir), languages)
    except KnowledgeBaseError as exc:
        print("the knowledge base does not load, so no closest entries are shown;", file=err)
        _print_problems(exc.problems, err)
        kb = None
    return cmd_faq_gaps(questions, kb, as_json, out, since=since,
                        only_asks_for_person=person_requests.only_asks_for_person)


def _format(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _print_problems(problems: Sequence[object], out: TextIO) -> None:
    count = len(problems)
    print(f"{count} problem{'s' if count != 1 else ''}:", file=out)
    for problem in problems:
        print(f"  {problem}", file=out)
