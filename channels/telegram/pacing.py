"""Telegram's send pacing: about one message a second per chat, about 30 a second overall.

Each send reserves the next free slot of its chat and of the whole bot before it sleeps, so a
busy chat waits for its own slots while other chats keep sending.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class Pacer:
    """Spaces sends per chat and over the whole bot; waiting costs no lock."""

    def __init__(self, chat_interval: float = 1.0, group_interval: float = 3.0, global_rate: float = 30.0,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.chat_interval = chat_interval
        self.group_interval = group_interval
        self.global_interval = 1.0 / global_rate
        self._clock = clock
        self._sleep = sleep
        self._next_for_chat: dict[str, float] = {}
        self._next_global = 0.0

    async def wait(self, chat: str, group: bool = False) -> None:
        """Return when a message to `chat` may go out."""
        now = self._clock()
        interval = self.group_interval if group else self.chat_interval
        slot = max(now, self._next_for_chat.get(chat, 0.0))
        self._next_for_chat[chat] = slot + interval
        if slot > now:
            await self._sleep(slot - now)
            now = self._clock()
        slot = max(now, self._next_global)
        self._next_global = slot + self.global_interval
        if slot > now:
            await self._sleep(slot - now)
        self._forget_idle_chats(now)

    def hold(self, chat: str, seconds: float) -> None:
        """Telegram said to wait (429): nothing more to this chat before then."""
        until = self._clock() + seconds
        self._next_for_chat[chat] = max(self._next_for_chat.get(chat, 0.0), until)

    def _forget_idle_chats(self, now: float) -> None:
        # Keeps memory bounded by the chats active in the last few seconds.
        if len(self._next_for_chat) > 1024:
            for chat in [chat for chat, slot in self._next_for_chat.items() if slot < now]:
                del self._next_for_chat[chat]
