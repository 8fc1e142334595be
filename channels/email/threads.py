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

The thread records (`thread`, `conv`, `refs`, `case`, `options`) hold the customer's address, name and
subject: they follow `retention.conversation_days` as the router's conversation does, expiring that long
plus THREAD_MARGIN_SECONDS after the thread's last mail in or out (each refreshes them all), and are kept
for good when the retention is 0 or null. The margin, because the router's conversation lasts a retention
after its last change, which may come after the last mail: a claim, a note, the closing of a resolved
case `router.reopen_days` (7) later; a reply within that time still joins its thread. Not covered: a case
left open with no mail either way for longer than the retention plus the margin (the router keeps its
conversation): an agent's reply to it is reported undelivered ("no e-mail thread"), and the customer's
next mail starts a new conversation.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from channels.options import MAX_OPTION_REPLY_CHARS, pick_option
from router.messages import QuickReply

THREAD_MARGIN_SECONDS = 14 * 24 * 3600  # beyond the retention (see above)
# Message-IDs handled, no customer text: they must outlast a resync of the mailbox, not the conversation.
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

    def __init__(self, redis: Any, key: Callable[[str], str], retention_days: float | None = None) -> None:
        self.redis = redis
        self.key = key
        # Seconds the thread records last after the thread's last mail; None: for good (retention 0 or null).
        self.ttl = (int(retention_days * 86400) + THREAD_MARGIN_SECONDS
                    if retention_days and retention_days > 0 else None)

    def _keep(self, pipe: Any, key: str) -> None:
        if self.ttl is None:
            pipe.persist(key)  # a record written under a retention, kept now that everything is
        else:
            pipe.expire(key, self.ttl)

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
        """Record `message_id` as part of the thread `root`; a new root starts its conversation record.
        Every record of the thread is kept for another retention (see the module docstring)."""
        conv = self.key(f"email:conv:{root}")
        refs = self.key(f"email:refs:{root}")
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(self.key(f"email:thread:{message_id}"), root, ex=self.ttl)
            if message_id == root:
                pipe.hsetnx(conv, "subject", subject)
                pipe.hsetnx(conv, "customer", customer)
                pipe.hsetnx(conv, "customer_name", customer_name)
            pipe.lrem(refs, 0, message_id)
            pipe.rpush(refs, message_id)
            pipe.ltrim(refs, -MAX_REFERENCES, -1)
            pipe.lrange(refs, 0, -1)
            pipe.hget(conv, "case")
            for key in (conv, refs, self.key(f"email:options:{root}")):
                self._keep(pipe, key)
            *_, known, case, _conv, _refs, _options = await pipe.execute()
        # The thread's earlier Message-IDs (the ones a reply names) and its case tag last as long.
        async with self.redis.pipeline(transaction=False) as pipe:
            for other in {root, *known}:
                if other != message_id:
                    self._keep(pipe, self.key(f"email:thread:{other}"))
            if case:
                self._keep(pipe, self.key(f"email:case:{case}"))
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
            pipe.set(self.key(f"email:case:{case}"), json.dumps({"root": root, "customer": customer}), ex=self.ttl)
            pipe.hset(self.key(f"email:conv:{root}"), "case", str(case))
            await pipe.execute()

    async def set_options(self, root: str, options: tuple[QuickReply, ...]) -> None:
        key = self.key(f"email:options:{root}")
        if options:
            await self.redis.set(key, json.dumps([[o.value, o.label] for o in options]), ex=self.ttl)
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
