"""The `helpline faq check|ask|eval|lint|gaps` commands: thin shells over the faq package that turn errors into exit codes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from faq import CasesError, Decision, KnowledgeBaseError, evaluate, lint, load_knowledge_base, read_cases

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


def cmd_faq_ask(
    text: str,
    kb_dir: Path,
    languages: Sequence[str],
    lang: str | None,
    as_json: bool,
    answer_at: float,
    suggest_at: float,
    out: TextIO,
) -> int:
    """Show what the bot would do with one message: decision, language, top matches, and the answer."""
    try:
        kb = load_knowledge_base(Path(kb_dir), languages)
    except KnowledgeBaseError as exc:
        _print_problems(exc.problems, out)
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
) -> int:
    """Evaluate the knowledge base on labelled cases; print the report as JSON or as a table."""
    try:
        kb = load_knowledge_base(Path(kb_dir), languages)
        loaded = read_cases(Path(cases))
        report = evaluate(kb, loaded, answer_at=answer_at, suggest_at=suggest_at).to_dict()
    except (KnowledgeBaseError, CasesError) as exc:
        _print_problems(exc.problems, out)
        return FAILED
    except ValueError as exc:
        print(f"error: {exc}", file=out)
        return FAILED
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


def cmd_faq_lint(kb_dir: Path, languages: Sequence[str], out: TextIO, as_json: bool = False) -> int:
    """Warn about entries that fight, near-duplicate questions, thin entries and missing translations.

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
    warnings = lint(kb)
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
