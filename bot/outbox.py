"""The outbox sender of one channel: each outbound message sent once, as far as Redis and the platform allow.

Per message:
1. One script checks the sent mark and takes a lease on the message (`hl:sending:<channel>:<id>`,
   refreshed while the send runs). A message already marked is skipped; one leased by another live
   sender is left to it. So a reclaimed entry is never sent while its first sender still works on it.
2. The send retries temporary failures (429 with Retry-After, 5xx, timeouts) with back-off until
   `channels.<x>.retry_for` seconds after the entry was queued (default one hour), then dead-letters.
3. Right after the platform accepted it, the sent mark (with the platform's id) and the delivery
   report go out in one transaction. If Redis is down then, the mark is retried until it is written
   and the message is remembered as sent in this process meanwhile: a Redis failure never resends.

Before each retry the lease is taken again: a sender whose lease lapsed (a process stalled longer
than the lease) leaves the message to whoever took it over instead of sending it too.

The script of step 1 and the transaction of step 3 go through the client's rounds (router/rounds.py): the
messages sent side by side share round trips and one connection, with the router's commands too, instead of
each taking a pooled connection of its own (a burst grew the pool by 40) and paying redis-py's per-command
work. The transaction stays a MULTI/EXEC: its commands go out together, nothing else between them.

What can still repeat a send: a `kill -9` between the platform's answer and the mark (one Redis
round trip), a lease that expired during a Redis outage longer than the lease, a process stalled
for longer than the lease in the middle of a request, and a request that timed out after the
platform had in fact accepted it (no platform we send to takes an idempotency key).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from router.commands import set_command, xadd_command
from router.dead_letters import RETRIED_AT_FIELD, dead_letter_fields
from router.keys import Keys
from router.messages import DeliveryReport, DeskEvent, OutboundMessage, from_json, inbox_fields
from router.rounds import Command, rounds_for
from router.store import reply
from router.worker import EntryFinish, LeavePending

if TYPE_CHECKING:
    from channels.base import Channel, Desk, SendOutcome

Sendable = OutboundMessage | DeskEvent  # what a sender sends once: both carry an `id`, the idempotency key

log = logging.getLogger(__name__)

SENT_MARK_TTL_SECONDS = 14 * 24 * 3600
DEFAULT_RETRY_FOR_SECONDS = 3600.0
STOP_PATIENCE_SECONDS = 30.0  # how long a stopping sender keeps trying to write a sent mark
ALERT_EVERY_SECONDS = 300.0  # at most one dead-letter alert per channel this often (an outage makes many)

# KEYS[1] sent mark, KEYS[2] lease; ARGV[1] owner, ARGV[2] lease ms.
_TAKE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 'sent' end
local holder = redis.call('GET', KEYS[2])
if holder and holder ~= ARGV[1] then return 'busy' end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
return 'ours'
"""
_KEEP = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0"
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


class OutboxSender:
    """The handler of a `hl:outbox:<channel>` worker."""

    def __init__(self, redis: Redis, keys: Keys, channel: Channel, owner: str, *,
                 retry_for: float = DEFAULT_RETRY_FOR_SECONDS, lease_seconds: float = 60.0,
                 stopping: asyncio.Event | None = None,
                 alert: Callable[[str], Awaitable[None]] | None = None) -> None:
        self.redis = redis
        self.keys = keys
        self.channel = channel
        self.owner = owner
        self.retry_for = retry_for
        self.lease_ms = int(lease_seconds * 1000)
        self.stopping = stopping if stopping is not None else asyncio.Event()
        self.alert = alert
        self._unmarked: dict[str, str] = {}  # message id → platform id: sent, mark not yet written
        self._last_alert = 0.0
        self._unalerted = 0

    @property
    def stream(self) -> str:
        return self.keys.outbox(self.channel.name)

    @property
    def mark_space(self) -> str:
        """The namespace of the sent marks and leases (`hl:sent:<space>:<id>`)."""
        return self.channel.name

    def _parse(self, fields: Mapping[str, str]) -> Sendable:
        return from_json(OutboundMessage, fields.get("data", ""))

    async def _deliver(self, message: Sendable) -> str | None:
        assert isinstance(message, OutboundMessage)
        return await self.channel.deliver(message)

    def _reports(self, message: Sendable, outcome: SendOutcome) -> list[dict[str, str]]:
        """Inbox entries written with the mark: a failure, and an agent's delivery, go back to the router."""
        assert isinstance(message, OutboundMessage)
        if not outcome.delivered or message.author == "agent":
            return [inbox_fields(self._report(message, outcome))]
        return []

    async def __call__(self, entry_id: str, fields: Mapping[str, str]) -> None:
        await self.finishing(entry_id, fields, None)

    async def finishing(self, entry_id: str, fields: Mapping[str, str], finish: EntryFinish | None) -> bool:
        """Send one entry; its `finish` (XACK, off its lane) goes in the sent mark's transaction: one round trip
        less per message, and no moment where it is marked but still pending. True when it went so; False
        when the worker must acknowledge it (already sent before)."""
        message = self._parse(fields)
        sent_key = self.keys.sent(self.mark_space, message.id)
        lease_key = self.keys.sending(self.mark_space, message.id)
        if message.id in self._unmarked:
            await self._finish(message, entry_id, fields, self._delivered(self._unmarked[message.id]), finish)
            return finish is not None
        taken = await self._in_round(("EVAL", _TAKE, 2, sent_key, lease_key, self.owner, self.lease_ms))
        if taken == "sent":
            return False  # sent (or failed for good) before a crash kept us from acknowledging: never twice
        if taken == "busy":
            raise LeavePending(f"{message.id} is being sent by another sender")
        outcome = await self._send(message, sent_key, lease_key, self._queued_at(entry_id, fields))
        if outcome.delivered:
            self._unmarked[message.id] = outcome.platform_id or "1"
        elif not outcome.close_conversation and outcome.reason.startswith("gave up"):
            outcome = replace(outcome, reason=f"{outcome.reason} (channels.{self.channel.name}.retry_for is "
                                              f"{self.retry_for:g}s from when it was queued)")
        await self._finish(message, entry_id, fields, outcome, finish)
        return finish is not None

    async def _send(self, message: Sendable, sent_key: str, lease_key: str, queued_at: float) -> SendOutcome:
        from channels.base import RetryPolicy, send_with_retries

        left = max(queued_at + self.retry_for - time.time(), 0.0)
        policy = RetryPolicy(attempts=None, max_delay=60.0, max_retry_after=left, retry_for=left)
        keeper = asyncio.create_task(self._keep_lease(lease_key))
        finished = False
        tries = 0

        async def attempt() -> str | None:
            nonlocal tries
            tries += 1
            if tries > 1:  # a retry: the lease may have lapsed meanwhile (a stalled process) and be another's
                await self._still_ours(message, sent_key, lease_key)
            return await self._deliver(message)

        try:
            outcome = await send_with_retries(attempt, policy, sleep=self._sleep,
                                              what=f"{self.mark_space} message {message.id}")
            finished = True
            return outcome
        finally:
            keeper.cancel()
            if not finished:  # stopping mid-retry: let the next sender have it at once
                try:
                    await reply(self.redis.eval(_RELEASE, 1, lease_key, self.owner))
                except (RedisConnectionError, RedisTimeoutError, OSError):
                    pass  # it expires by itself

    async def _still_ours(self, message: Sendable, sent_key: str, lease_key: str) -> None:
        """Before a retry: take the lease again, or leave the message to whoever holds it (or sent it)."""
        try:
            taken = await reply(self.redis.eval(_TAKE, 2, sent_key, lease_key, self.owner, self.lease_ms))
        except (RedisConnectionError, RedisTimeoutError, OSError):
            return  # Redis is down: nobody can take the lease over meanwhile either
        if taken != "ours":
            log.warning("%s message %s: its lease lapsed while retrying and %s; leaving it", self.mark_space,
                        message.id, "it was sent meanwhile" if taken == "sent" else "another sender has it")
            raise LeavePending(f"{message.id}: {taken} after a lapsed lease")

    async def _sleep(self, seconds: float) -> None:
        """A retry's wait, cut short when the service stops: the entry is then left for the next sender."""
        try:
            await asyncio.wait_for(self.stopping.wait(), timeout=seconds)
        except asyncio.TimeoutError:
            return
        raise LeavePending("stopping while a send waits to retry")

    async def _keep_lease(self, lease_key: str) -> None:
        while True:
            await asyncio.sleep(self.lease_ms / 1000 / 3)
            try:
                await reply(self.redis.eval(_KEEP, 1, lease_key, self.owner, self.lease_ms))
            except (RedisConnectionError, RedisTimeoutError, OSError):
                pass  # Redis is down: the others cannot take it over either

    async def _finish(self, message: Sendable, entry_id: str, fields: Mapping[str, str],
                      outcome: SendOutcome, finish: EntryFinish | None = None) -> None:
        """Mark the message sent (or failed, dead-lettered), report it and finish its entry, in one transaction."""
        sent_key = self.keys.sent(self.mark_space, message.id)
        lease_key = self.keys.sending(self.mark_space, message.id)
        pause, started = 0.1, time.monotonic()
        while True:
            try:
                commands = [set_command(sent_key, (outcome.platform_id or "1") if outcome.delivered else "failed",
                                        SENT_MARK_TTL_SECONDS), ("DEL", lease_key)]
                if not outcome.delivered:
                    commands.append(xadd_command(self.keys.dead_letters,
                                                 dead_letter_fields(self.stream, entry_id, fields, outcome.reason)))
                commands += (xadd_command(self.keys.inbox, report) for report in self._reports(message, outcome))
                if finish is not None:
                    commands += finish.commands()
                await self._transaction_in_round(commands)
                break
            except (RedisConnectionError, RedisTimeoutError, OSError) as error:
                if not outcome.delivered:
                    raise  # nothing was sent: trying the whole entry again is harmless
                # Sent, and the mark is not written: keep trying, never send it again meanwhile.
                log.warning("%s message %s was sent; writing its mark failed (%s), trying again in %.1fs",
                            self.mark_space, message.id, error, pause)
                if self.stopping.is_set() and time.monotonic() - started > STOP_PATIENCE_SECONDS:
                    raise LeavePending(f"{message.id} was sent; stopping before its mark could be written") from error
                await asyncio.sleep(pause)
                pause = min(pause * 2, 5.0)
        self._unmarked.pop(message.id, None)
        if not outcome.delivered:
            await self._alert_dead_letter(message, outcome.reason)

    async def _in_round(self, command: Command) -> Any:
        """One command's reply, sent in the client's next round; an error reply is raised."""
        [answer] = await rounds_for(self.redis).send([command])
        if isinstance(answer, ResponseError):
            raise answer
        return answer

    async def _transaction_in_round(self, commands: Sequence[Command]) -> list[Any]:
        """`commands` in one MULTI/EXEC, sent in the client's next round; raises the first error, as redis-py's
        transaction pipeline does (a command refused when queued makes the EXEC abort: nothing is written)."""
        *queued, written = await rounds_for(self.redis).send([("MULTI",), *commands, ("EXEC",)])
        for answer in queued:
            if isinstance(answer, ResponseError):
                raise answer
        if isinstance(written, ResponseError):
            raise written
        for index, answer in enumerate(written):
            if isinstance(answer, ResponseError):
                raise ResponseError(f"command #{index + 1} ({commands[index][0]!r}) of the transaction: {answer}")
        return list(written)

    def _report(self, message: OutboundMessage, outcome: SendOutcome) -> DeliveryReport:
        return DeliveryReport(
            id=f"{message.id}.report", message_id=message.id, channel=self.channel.name,
            conversation=message.conversation, case=message.case, delivered=outcome.delivered,
            reason=outcome.reason, platform_id=outcome.platform_id, close_conversation=outcome.close_conversation,
            author=message.author, source_ref=message.source_ref, at=time.time())

    @staticmethod
    def _delivered(platform_id: str) -> SendOutcome:
        from channels.base import SendOutcome

        return SendOutcome(True, 1, platform_id=platform_id if platform_id != "1" else "")

    @staticmethod
    def _queued_at(entry_id: str, fields: Mapping[str, str]) -> float:
        """When the entry joined the outbox (its id's clock), or was put back from the dead letters."""
        try:
            queued = int(entry_id.partition("-")[0]) / 1000
        except ValueError:
            queued = time.time()
        try:
            return max(queued, float(fields.get(RETRIED_AT_FIELD) or 0))
        except ValueError:
            return queued

    async def _alert_dead_letter(self, message: Sendable, reason: str) -> None:
        if self.alert is None:
            return
        self._unalerted += 1
        now = time.monotonic()
        if now - self._last_alert < ALERT_EVERY_SECONDS:
            return
        count, self._unalerted, self._last_alert = self._unalerted, 0, now
        what = f"message {message.id}" if count == 1 else f"{count} messages, the last {message.id}"
        await self.alert(f"{self.mark_space}: {what} could not be delivered ({reason[:200]}); "
                         "see `helpline dead-letters list`")



class DeskSender(OutboxSender):
    """The handler of the `hl:outbox:desk` worker: each DeskEvent shown to the agents' desk once, with the
    same lease, retries for `retry_for` and sent mark as a customer message (marks under `desk`).

    A failure goes to the dead letters and the admins; nothing is reported to the router (the desk is
    the agents' own view; a notice that could not be shown changes nothing in the case)."""

    def __init__(self, redis: Redis, keys: Keys, desk: Desk, owner: str, **options: object) -> None:
        super().__init__(redis, keys, desk, owner, **options)  # type: ignore[arg-type]
        self.desk = desk

    @property
    def stream(self) -> str:
        return self.keys.desk

    @property
    def mark_space(self) -> str:
        return "desk"

    def _parse(self, fields: Mapping[str, str]) -> Sendable:
        return from_json(DeskEvent, fields.get("data", ""))

    async def _deliver(self, message: Sendable) -> str | None:
        assert isinstance(message, DeskEvent)
        await self.desk.show(message)
        return None

    def _reports(self, message: Sendable, outcome: SendOutcome) -> list[dict[str, str]]:
        return []
