"""The FAQ knowledge base: YAML loading and validation, normalisation, language detection,
matching, live reload and evaluation. Imports nothing else of Helpline's."""

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
