"""Conversation threads in Redis: which root each Message-ID belongs to, case tags, the IMAP cursor.

Every key goes through `ChannelContext.key`, so the configured prefix applies:
  email:thread:<message-id> → root Message-ID (every message received and sent)
  email:conv:<root>         → hash: subject, customer, customer_name, case
  email:refs:<root>         → list: the thread's Message-IDs, oldest first (for References)
  email:case:<n>            → JSON {root, customer}: whose case tag `[#n]` is
  email:options:<root>      → JSON list of the last quick-reply options offered
  email:done:<message-id>   → mark: submitted to the inbox (a resync does not submit it again)
  email:cursor              → hash: uidvalidity, uid of the last message handled
  email:autoreply:<address> → set of the bot's answers to one sender in the current window
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from channels.options import MAX_OPTION_REPLY_CHARS, pick_option
from router.messages import QuickReply

THREAD_TTL_SECONDS = 400 * 24 * 3600  # a customer may answer a year-old mail
DONE_TTL_SECONDS = 90 * 24 * 3600
MAX_REFERENCES = 20


@dataclass(frozen=True, slots=True)
class Conversation:
    root: str
    subject: str
    customer: str
    customer_name: str
    case: int | None
    references: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Cursor:
    uidvalidity: int
    uid: int


class ThreadStore:
    """The email channel's own state in Redis (see the module docstring for the keys)."""

    def __init__(self, redis: Any, key: Callable[[str], str]) -> None:
        self.redis = redis
        self.key = key

    async def root_of(self, message_ids: tuple[str, ...]) -> str | None:
        """The thread root of the first of `message_ids` we know."""
        for message_id in message_ids:
            root = await self.redis.get(self.key(f"email:thread:{message_id}"))
            if root:
                return str(root)
        return None

    async def case_owner(self, case: int) -> tuple[str, str] | None:
        """(root, customer address) of case `case`, when a message of ours carried its tag."""
        raw = await self.redis.get(self.key(f"email:case:{case}"))
        if not raw:
            return None
        data = json.loads(raw)
        return str(data["root"]), str(data["customer"])

    async def add(self, message_id: str, root: str, *, subject: str = "", customer: str = "",
                  customer_name: str = "") -> None:
        """Record `message_id` as part of the thread `root`; a new root starts its conversation record."""
        conv = self.key(f"email:conv:{root}")
        refs = self.key(f"email:refs:{root}")
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(self.key(f"email:thread:{message_id}"), root, ex=THREAD_TTL_SECONDS)
            if message_id == root:
                pipe.hsetnx(conv, "subject", subject)
                pipe.hsetnx(conv, "customer", customer)
                pipe.hsetnx(conv, "customer_name", customer_name)
            pipe.expire(conv, THREAD_TTL_SECONDS)
            pipe.lrem(refs, 0, message_id)
            pipe.rpush(refs, message_id)
            pipe.ltrim(refs, -MAX_REFERENCES, -1)
            pipe.expire(refs, THREAD_TTL_SECONDS)
            await pipe.execute()

    async def conversation(self, root: str) -> Conversation | None:
        data = await self.redis.hgetall(self.key(f"email:conv:{root}"))
        if not data or not data.get("customer"):
            return None
        refs = await self.redis.lrange(self.key(f"email:refs:{root}"), 0, -1)
        case = data.get("case")
        return Conversation(root, data.get("subject", ""), data["customer"], data.get("customer_name", ""),
                            int(case) if case else None, tuple(refs))

    async def learn_case(self, case: int, root: str, customer: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(self.key(f"email:case:{case}"), json.dumps({"root": root, "customer": customer}),
                     ex=THREAD_TTL_SECONDS)
            pipe.hset(self.key(f"email:conv:{root}"), "case", str(case))
            await pipe.execute()

    async def set_options(self, root: str, options: tuple[QuickReply, ...]) -> None:
        key = self.key(f"email:options:{root}")
        if options:
            await self.redis.set(key, json.dumps([[o.value, o.label] for o in options]), ex=THREAD_TTL_SECONDS)
        else:
            await self.redis.delete(key)

    async def take_option(self, root: str, text: str) -> str | None:
        """The value of the option `text` picks among the last offered (channels/options.py), then forgotten."""
        if not text.strip() or len(text.strip()) > MAX_OPTION_REPLY_CHARS + 2:
            return None
        raw = await self.redis.get(self.key(f"email:options:{root}"))
        if not raw:
            return None
        picked = pick_option([(str(value), str(label)) for value, label in json.loads(raw)], text)
        if picked is not None:
            await self.redis.delete(self.key(f"email:options:{root}"))
        return picked

    async def is_done(self, message_id: str) -> bool:
        return bool(await self.redis.exists(self.key(f"email:done:{message_id}")))

    async def mark_done(self, message_id: str) -> None:
        await self.redis.set(self.key(f"email:done:{message_id}"), "1", ex=DONE_TTL_SECONDS)

    async def cursor(self) -> Cursor | None:
        data = await self.redis.hgetall(self.key("email:cursor"))
        try:
            return Cursor(int(data["uidvalidity"]), int(data["uid"]))
        except (KeyError, ValueError):
            return None

    async def set_cursor(self, cursor: Cursor) -> None:
        await self.redis.hset(self.key("email:cursor"), mapping={"uidvalidity": cursor.uidvalidity, "uid": cursor.uid})

    async def allow_auto_reply(self, address: str, message_id: str, limit: int, window_seconds: float) -> bool:
        """Count bot answer `message_id` to `address` (a retry counts once); False once the window is used up."""
        key = self.key(f"email:autoreply:{address.lower()}")
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.sismember(key, message_id)
            pipe.scard(key)
            known, count = await pipe.execute()
        if known:
            return True
        if int(count) >= limit:
            return False
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.sadd(key, message_id)
            pipe.expire(key, max(1, int(window_seconds)), nx=True)
            await pipe.execute()
        return True
