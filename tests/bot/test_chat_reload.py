"""`helpline chat` running its own workers picks up FAQ edits while it runs, as `helpline run` does."""

from __future__ import annotations

import asyncio
import io
import os
import shutil
from pathlib import Path

from bot.app import Helpline
from bot.chat import chat
from tests.conftest import FIXTURE_KB, make_settings

OLD_ANSWER = "Delivery takes 2 to 4 working days."
NEW_ANSWER = "Delivery takes one working day."
WAIT_SECONDS = 20


class FedInput:
    """Standard input for `chat`, written a line at a time while it runs (a pipe, read like a terminal's)."""

    def __init__(self) -> None:
        read_end, write_end = os.pipe()
        self.stdin = os.fdopen(read_end, "r", encoding="utf-8")
        self._writer = os.fdopen(write_end, "w", encoding="utf-8")

    def send(self, line: str) -> None:
        self._writer.write(line + "\n")
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()  # end of input: the chat ends


async def shown(stdout: io.StringIO, text: str, times: int = 1) -> None:
    """Wait until the chat has printed `text` `times` times."""
    async with asyncio.timeout(WAIT_SECONDS):
        while stdout.getvalue().count(text) < times:
            await asyncio.sleep(0.05)


async def test_chat_answers_from_the_edited_faq_and_stops_its_reload(tmp_path: Path, prefix: str, redis) -> None:
    kb = tmp_path / "kb"
    shutil.copytree(FIXTURE_KB, kb)
    settings = make_settings(prefix, kb)
    settings = settings.model_copy(update={"faq": settings.faq.model_copy(update={"reload_seconds": 0.1})})
    helpline = Helpline(settings)
    fed, stdout = FedInput(), io.StringIO()
    session = asyncio.create_task(chat(helpline, "en", None, "Eleni", stdin=fed.stdin, stdout=stdout))
    try:
        fed.send("How long does delivery take?")
        await shown(stdout, OLD_ANSWER)
        loaded = helpline.knowledge_base.current

        shop = kb / "shop.yaml"
        shop.write_text(shop.read_text(encoding="utf-8").replace(OLD_ANSWER, NEW_ANSWER), encoding="utf-8")
        async with asyncio.timeout(WAIT_SECONDS):
            while helpline.knowledge_base.current is loaded:  # the chat's own reload took the edit
                await asyncio.sleep(0.05)

        fed.send("How long does delivery take?")
        await shown(stdout, NEW_ANSWER)
        fed.close()
        assert await asyncio.wait_for(session, WAIT_SECONDS) == 0
    finally:
        fed.close()
        session.cancel()
        await asyncio.gather(session, return_exceptions=True)
        fed.stdin.close()
        await helpline.close()
    others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task() and not task.done()]
    assert others == [], "the chat left tasks running (the FAQ reload?)"
