"""The FAQ knowledge base: YAML loading and validation, normalisation, language detection,
matching, live reload and evaluation. Imports nothing else of Helpline's.

The names below are loaded on first use (PEP 562): `from faq import normalize` or
`from faq.model import Decision` must not pull in the matcher with scikit-learn and scipy, which
take a second or more to import, so that the agents' commands stay quick.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what type checkers and editors see; at run time `__getattr__` loads these
    from .errors import CasesError, KnowledgeBaseError, Problem
    from .evaluate import Case, Confusion, EvalReport, evaluate, read_cases
    from .gaps import GapCluster, GapQuestion, find_gaps
    from .kb import KnowledgeBase, load_knowledge_base
    from .langdetect import detect_language
    from .lint import LintWarning, lint
    from .live import LiveKnowledgeBase
    from .matcher import Matcher, MatcherFactory, TfidfMatcher
    from .model import Decision, Entry, Match, MatchResult
    from .normalize import normalize

# Each public name and the submodule that defines it.
_SUBMODULE_OF: dict[str, str] = {
    "CasesError": "errors", "KnowledgeBaseError": "errors", "Problem": "errors",
    "Case": "evaluate", "Confusion": "evaluate", "EvalReport": "evaluate", "evaluate": "evaluate",
    "read_cases": "evaluate",
    "GapCluster": "gaps", "GapQuestion": "gaps", "find_gaps": "gaps",
    "KnowledgeBase": "kb", "load_knowledge_base": "kb",
    "detect_language": "langdetect",
    "LintWarning": "lint", "lint": "lint",
    "LiveKnowledgeBase": "live",
    "Matcher": "matcher", "MatcherFactory": "matcher", "TfidfMatcher": "matcher",
    "Decision": "model", "Entry": "model", "Match": "model", "MatchResult": "model",
    "normalize": "normalize",
}

__all__ = [
    "Case",
    "CasesError",
    "Confusion",
    "Decision",
    "Entry",
    "EvalReport",
    "GapCluster",
    "GapQuestion",
    "KnowledgeBase",
    "KnowledgeBaseError",
    "LintWarning",
    "LiveKnowledgeBase",
    "Match",
    "MatchResult",
    "Matcher",
    "MatcherFactory",
    "Problem",
    "TfidfMatcher",
    "detect_language",
    "evaluate",
    "find_gaps",
    "lint",
    "load_knowledge_base",
    "normalize",
    "read_cases",
]


def __getattr__(name: str) -> Any:
    """Import the submodule that defines `name` the first time somebody asks for it."""
    submodule = _SUBMODULE_OF.get(name)
    if submodule is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{submodule}", __name__), name)
    globals()[name] = value  # found directly from now on
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Package(types.ModuleType):
    """Keeps `faq.evaluate`, `faq.lint` and `faq.normalize` the functions, as an eager import would.

    Once a submodule has loaded, the import system sets it as an attribute of its package. Three
    functions share their module's name, so without this `from faq import normalize`, asked after
    any other faq module had imported `faq.normalize`, would give the module, not the function.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and _SUBMODULE_OF.get(name) == name \
                and value.__name__ == f"{__name__}.{name}":
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
