"""The `helpline faq check|ask|eval|lint|gaps` commands: thin shells over the faq package that turn errors
into exit codes."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from faq import (
    CasesError,
    Decision,
    GapQuestion,
    KnowledgeBase,
    KnowledgeBaseError,
    evaluate,
    find_gaps,
    lint,
    load_knowledge_base,
    read_cases,
)
from faq.encoder import default_cache_path
from faq.lint import GIVEN_AT
from faq.matcher import matcher_factory
from faq.semantic import SemanticModelError
from router.events import GAP_EVENTS

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
        report = evaluate(kb, loaded, answer_at=answer_at, suggest_at=suggest_at).to_dict()
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
    width = max(len(key) for key in report)
    for key, value in report.items():
        print(f"{key:<{width}}  {_format(value)}", file=out)
    if confusions:
        print("confusions (count, right entry <- entry ranked first instead):", file=out)
        for confusion in confusions:
            print(f"  {confusion['count']:>5}  {confusion['expected']} <- {confusion['given']}", file=out)
    else:
        print("confusions: none", file=out)
    return OK


def cmd_faq_lint(kb_dir: Path, languages: Sequence[str], out: TextIO, as_json: bool = False,
                 suggest_at: float = GIVEN_AT) -> int:
    """Warn about entries that fight, near-duplicate questions, thin entries and missing translations.
    A fight is a question another entry would be offered for: first, with a score of `suggest_at` or more.

    Exit 0 when the knowledge base loads (warnings or not), 1 when it does not (every problem listed).
    """
    try:
        kb = load_knowledge_base(Path(kb_dir), languages)
    except KnowledgeBaseError as exc:
        if as_json:
            errors = [{"file": str(p.file), "line": p.line, "message": p.message} for p in exc.problems]
            json.dump({"errors": errors, "warnings": []}, out, ensure_ascii=False)
            out.write("\n")
        else:
            _print_problems(exc.problems, out)
        return FAILED
    warnings = lint(kb, given_at=suggest_at)
    if as_json:
        json.dump({"errors": [], "warnings": [
            {"kind": w.kind, "entry_id": w.entry_id, "file": str(w.file), "line": w.line, "message": w.message}
            for w in warnings
        ]}, out, ensure_ascii=False)
        out.write("\n")
        return OK
    for warning in warnings:
        print(warning, file=out)
    entries = len({w.entry_id for w in warnings})
    if warnings:
        print(f"{len(warnings)} warning{'s' if len(warnings) != 1 else ''} in {entries} of "
              f"{len(kb.entries)} entries", file=out)
    else:
        print(f"{kb_dir}: no warnings, {len(kb.entries)} entries", file=out)
    return OK


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
    now = time.time() if now is None else now
    start = f"{max(0, int((now - since_seconds) * 1000))}-0"
    questions: list[GapQuestion] = []
    while True:
        page = await redis.xrange(events_key, min=start, max="+", count=_PAGE)
        for entry_id, fields in page:
            question = _gap_question(_text(entry_id), {_text(k): _text(v) for k, v in fields.items()})
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


def cmd_faq_gaps(
    questions: Sequence[GapQuestion], kb: KnowledgeBase | None, as_json: bool, out: TextIO, since: str | None = None
) -> int:
    """Print what customers asked that the FAQ did not settle, as clusters of one need, biggest first."""
    clusters = find_gaps(questions, kb)
    if as_json:
        json.dump({"since": since, "questions": len(questions), "clusters": [c.to_dict() for c in clusters]},
                  out, ensure_ascii=False)
        out.write("\n")
        return OK
    span = f" in the last {since}" if since else ""
    if not questions:
        print(f"no unanswered questions{span}", file=out)
        return OK
    print(f"{len(questions)} unanswered question{'s' if len(questions) != 1 else ''}{span}, "
          f"{len(clusters)} need{'s' if len(clusters) != 1 else ''}, biggest first:", file=out)
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
    out: TextIO, err: TextIO,
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
    try:
        kb: KnowledgeBase | None = load_knowledge_base(Path(kb_dir), languages)
    except KnowledgeBaseError as exc:
        print("the knowledge base does not load, so no closest entries are shown;", file=err)
        _print_problems(exc.problems, err)
        kb = None
    return cmd_faq_gaps(questions, kb, as_json, out, since=since)


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
