"""`helpline chat`: be a customer in the terminal, through the same inbox and outbox as any channel.

Reads one message a line. After each line it waits until the router has handled it and every reply
it produced has arrived, so a script sees the answers in order; messages that come later (an agent
writing) are printed as they arrive, for as long as the chat runs.
"""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO

from bot.app import Helpline, LocalWorkers
from channels.console import ConsoleChat, render
from router.messages import new_id

REPLY_TIMEOUT_SECONDS = 20.0
SERVICE_GRACE_SECONDS = 5.0  # how long a seemingly running service gets before the chat works itself
_POLL_SECONDS = 0.05


async def chat(helpline: Helpline, language: str | None, session: str | None, name: str,
               stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> int:
    """Run a chat session until end of input; returns the exit code."""
    address = session or new_id()
    console = ConsoleChat(helpline.redis, helpline.keys.inbox, helpline.keys.console(address), address,
                          customer_name=name, language_hint=language)
    interactive = stdin.isatty()
    received: set[str] = set()
    arrived = asyncio.Event()

    def show(text: str) -> None:
        stdout.write(text + "\n")
        stdout.flush()

    async def receive_forever() -> None:
        while True:
            message = await console.receive(timeout=1)
            if message is None:
                continue
            received.add(message.id)
            arrived.set()
            show(render(message))

    if session is None:
        show(helpline.texts.render(language or helpline.settings.default_language, "greeting"))
    if interactive:
        show(f"(session {address}; Ctrl-D to leave)")
    async with LocalWorkers(helpline) as local:
        receiver = asyncio.create_task(receive_forever())
        try:
            while True:
                if interactive:
                    stdout.write("> ")
                    stdout.flush()
                line = await asyncio.to_thread(stdin.readline)
                if not line:
                    break
                if not line.strip():
                    continue
                entry_id = await console.say(line.rstrip("\n"))
                if not local.running and await helpline.redis.get(helpline.keys.done(entry_id)) is None:
                    if not await _wait_for_done(helpline, entry_id, SERVICE_GRACE_SECONDS):
                        local.start()  # the service that seemed alive is not answering: do the work here
                if not await _wait_for_replies(helpline, entry_id, received, arrived):
                    show("(no answer yet: is Redis reachable and a worker running? your message is kept)")
        finally:
            receiver.cancel()
            await asyncio.gather(receiver, return_exceptions=True)
    return 0


async def _wait_for_replies(helpline: Helpline, entry_id: str, received: set[str], arrived: asyncio.Event) -> bool:
    """Wait until the router handled the entry and each reply it produced was shown."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + REPLY_TIMEOUT_SECONDS
    if not await _wait_for_done(helpline, entry_id, REPLY_TIMEOUT_SECONDS):
        return False
    sent = await helpline.redis.get(helpline.keys.done(entry_id)) or "0"
    expected = {f"{entry_id}.{number}" for number in range(1, int(sent) + 1)}
    while not expected <= received:
        arrived.clear()
        remaining = deadline - loop.time()
        if remaining <= 0:
            return False
        try:
            await asyncio.wait_for(arrived.wait(), timeout=remaining)
        except asyncio.TimeoutError:
            return False
    return True


async def _wait_for_done(helpline: Helpline, entry_id: str, timeout: float) -> bool:
    """True once the router has written the entry's effects."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while await helpline.redis.get(helpline.keys.done(entry_id)) is None:
        if loop.time() > deadline:
            return False
        await asyncio.sleep(_POLL_SECONDS)
    return True
