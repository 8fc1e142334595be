"""The knowledge base watcher outlives any error in a reload: the last good one serves, later edits load."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from faq import LiveKnowledgeBase, live
from faq.matcher import build_default_matcher
from tests.faq.faq_samples import LANGUAGES, write
from tests.faq.test_faq_live_eval import EDITED, GOOD, bump

OTHER = "entries:\n  - id: hours\n    questions: [When are you open]\n    answer: Ten to four.\n"


async def _until(check: Callable[[], bool]) -> None:
    for _ in range(500):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the watcher did not get there")


async def _watching(live_kb: LiveKnowledgeBase) -> asyncio.Task[None]:
    return asyncio.create_task(live_kb.watch(0.01))


async def _stop(task: asyncio.Task[None]) -> None:
    assert not task.done(), "the watcher died"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_an_unexpected_error_while_loading_does_not_kill_the_watcher(tmp_path: Path) -> None:
    file = write(tmp_path, "kb.yaml", GOOD)
    failing = [False]

    def factory(*args, **kwargs):  # type: ignore[no-untyped-def]
        if failing[0]:
            raise RuntimeError("matcher blew up")
        return build_default_matcher(*args, **kwargs)

    live_kb = LiveKnowledgeBase(tmp_path, LANGUAGES, matcher_factory=factory)
    task = await _watching(live_kb)
    try:
        failing[0] = True
        file.write_text(EDITED, encoding="utf-8")
        bump(file)
        await _until(lambda: bool(live_kb.problems))
        assert "matcher blew up" in str(live_kb.problems[0])
        assert live_kb.current.answer("hours", "en") == "Nine to five."
        failing[0] = False
        file.write_text(OTHER, encoding="utf-8")
        bump(file)
        bump(file)
        await _until(lambda: live_kb.current.answer("hours", "en") == "Ten to four.")
        assert live_kb.problems == []
    finally:
        await _stop(task)


@pytest.mark.parametrize("where", ["signature", "install"])
async def test_an_error_outside_the_load_does_not_kill_the_watcher(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                    where: str) -> None:
    file = write(tmp_path, "kb.yaml", GOOD)
    live_kb = LiveKnowledgeBase(tmp_path, LANGUAGES)
    errors: list[str] = []
    if where == "signature":
        real_signature = live.folder_signature

        def signature(path: Path) -> live.Signature:
            if not errors:
                errors.append("raised")
                raise ValueError("a file name the file system cannot give")
            return real_signature(path)

        monkeypatch.setattr(live, "folder_signature", signature)
    else:
        real_install = LiveKnowledgeBase._install

        def install(self: LiveKnowledgeBase, loaded: object) -> bool:
            if not errors:
                errors.append("raised")
                raise RuntimeError("can't start new thread")
            return real_install(self, loaded)  # type: ignore[arg-type]

        monkeypatch.setattr(LiveKnowledgeBase, "_install", install)
        file.write_text(EDITED, encoding="utf-8")
        bump(file)
    task = await _watching(live_kb)
    try:
        await _until(lambda: bool(errors))
        assert live_kb.current.answer("hours", "en") == "Nine to five."
        file.write_text(OTHER, encoding="utf-8")
        bump(file)
        bump(file)
        bump(file)
        await _until(lambda: live_kb.current.answer("hours", "en") == "Ten to four.")
    finally:
        await _stop(task)
