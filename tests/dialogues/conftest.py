"""The dialogues' shared knowledge base: config/faq, loaded once per test session."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import REPO


@pytest.fixture(scope="session")
def shipped_knowledge_base() -> Any:
    """The shipped sample shop's FAQ (config/faq); loading takes about a second, so every dialogue shares it."""
    from faq import LiveKnowledgeBase
    from faq.matcher import matcher_factory

    return LiveKnowledgeBase(REPO / "config" / "faq", ("en", "el", "lv", "hu"), matcher_factory(None))
