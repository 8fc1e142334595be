"""Data retention: conversations idle longer than `retention.conversation_days` are removed (their hash,
transcript, address and index entry), and closed cases lose the customer's words they keep (subject,
customer name) as long after they closed, and the customer's questions the events refer to (the `questions`
stream) go as long after they were asked; the case hashes and the `events` stream stay, for the reports.

Every router transaction that writes a conversation or its transcript also sets the conversation's
score in `hl:conversations` to its time (router/store.py), so the score is the conversation's last
change. Each removal is one script that checks, atomically, that the score is still old and that no
case is open, then deletes. A message racing the sweep is so handled either before (its commit moved
the score: the script keeps the conversation) or after (its transaction read the conversation, which
the script then changed, so its commit fails its check and it reads again: the address leads nowhere
and the message starts a fresh conversation). Never half: a commit and the script are each atomic.

The sweep does not go through the inbox as the closing and SLA sweeps do: a removal says and sends
nothing, so it needs none of the router's decisions, and one inbox entry per expiring conversation
would load the workers with as many entries as conversations start; the script is the router's own
guard (check what the decision rests on, write in one step), run by Redis.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from router.events import Event
from router.keys import FIRST_CASE_NUMBER, Keys
from router.store import EVENTS_MAX_LENGTH, reply

BATCH = 500  # conversations (or cases) looked at per round trip
MAX_BATCHES = 20  # per sweep: a backlog (a first sweep) goes in steps, between which customers are served
_SCAN_COUNT = 1000

log = logging.getLogger(__name__)

# KEYS: 1 conversation hash, 2 transcript, 3 `conversations` index, 4 address key, 5 case hash, 6 events.
# ARGV: 1 conversation id, 2 cutoff (seconds), 3 now, 4 the case number the sweep read ('' for none),
# 5 whether KEYS[4] is the conversation's address key ('1') or a stand-in, 6 events MAXLEN, 7 the event's name.
# 1: removed; 0: nothing to do (removed already, or changed since the cutoff); 2: kept, a case is open.
FORGET = """
local score = redis.call('ZSCORE', KEYS[3], ARGV[1])
if not score then return 0 end
if tonumber(score) > tonumber(ARGV[2]) then return 0 end
local stored = redis.call('HMGET', KEYS[1], 'channel', 'case')
local case = stored[2] or ''
if case ~= ARGV[4] then return 0 end
if case ~= '' then
  local status = redis.call('HGET', KEYS[5], 'status')
  if status and status ~= 'closed' then
    redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
    return 2
  end
end
if ARGV[5] == '1' and redis.call('GET', KEYS[4]) == ARGV[1] then redis.call('DEL', KEYS[4]) end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('XADD', KEYS[6], 'MAXLEN', '~', ARGV[6], '*', 'type', ARGV[7], 'at', ARGV[3],
           'entry', 'retention', 'conversation', ARGV[1], 'channel', stored[1] or '')
return 1
"""

# KEYS: 1 case hash, 2 `closed` index. ARGV: 1 case number, 2 cutoff.
# 1: its customer text removed; 0: nothing to do (done already, reopened, or closed again since).
SCRUB_CASE = """
local score = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not score then return 0 end
local stored = redis.call('HMGET', KEYS[1], 'status', 'closed_at')
if stored[1] ~= 'closed' then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 0
end
local closed_at = tonumber(stored[2] or '0') or 0
if closed_at > tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[2], closed_at, ARGV[1])
  return 0
end
redis.call('HSET', KEYS[1], 'subject', '', 'customer_name', '')
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
"""


@dataclass(frozen=True, slots=True)
class Swept:
    removed: int = 0  # conversations removed
    kept_open: int = 0  # idle ones kept because a case of theirs is open
    cases_scrubbed: int = 0  # closed cases whose customer text went
    questions_removed: int = 0  # the events' questions (the `questions` stream) older than the retention


def keeps_forever(days: float | None) -> bool:
    """`retention.conversation_days` 0 or null: nothing is removed."""
    return not days or days <= 0


async def sweep_retention(redis: Redis, keys: Keys, days: float | None, now: float | None = None,
                          batch: int = BATCH, max_batches: int = MAX_BATCHES) -> Swept:
    """Remove the conversations idle for more than `days` and the customer text of cases closed as long
    ago; safe to run from any number of services at once (each removal is checked and done atomically)."""
    if keeps_forever(days):
        return Swept()
    assert days is not None
    now = time.time() if now is None else now
    cutoff = now - days * 86400
    await index_existing(redis, keys)
    forget, scrub = redis.register_script(FORGET), redis.register_script(SCRUB_CASE)
    removed = kept = scrubbed = 0
    for _ in range(max_batches):
        ids = [str(i) for i in await redis.zrangebyscore(keys.conversations, "-inf", cutoff, start=0, num=batch)]
        if not ids:
            break
        async with redis.pipeline(transaction=False) as pipe:
            for conversation_id in ids:
                pipe.hmget(keys.conversation(conversation_id), ["channel", "address", "case"])
            stored = await pipe.execute()
        async with redis.pipeline(transaction=False) as pipe:
            for conversation_id, (channel, address, case) in zip(ids, stored):
                known_address = bool(channel and address)
                address_key = keys.address(channel, address) if known_address else keys.transcript(conversation_id)
                # A case field that is no number names no case that could be open (a stand-in key then).
                case_key = keys.case(int(case)) if case and case.isdigit() else keys.conversation(conversation_id)
                await forget(keys=[keys.conversation(conversation_id), keys.transcript(conversation_id),
                                   keys.conversations, address_key, case_key, keys.events],
                             args=[conversation_id, repr(cutoff), repr(now), case or "",
                                   "1" if known_address else "0", EVENTS_MAX_LENGTH, str(Event.CONVERSATION_REMOVED)],
                             client=pipe)
            outcomes = [int(outcome) for outcome in await pipe.execute()]
        removed += outcomes.count(1)
        kept += outcomes.count(2)
        if len(ids) < batch:
            break
    for _ in range(max_batches):
        numbers = [str(n) for n in await redis.zrangebyscore(keys.closed, "-inf", cutoff, start=0, num=batch)]
        if not numbers:
            break
        async with redis.pipeline(transaction=False) as pipe:
            for number in numbers:
                await scrub(keys=[keys.case(int(number)), keys.closed], args=[number, repr(cutoff)], client=pipe)
            scrubbed += sum(int(outcome) for outcome in await pipe.execute())
        if len(numbers) < batch:
            break
    # The customer's words of the events (router/store.py keeps them out of `events`, whose entries cannot
    # be changed): older than the retention, whatever became of their conversation. The events stay.
    questions = int(await redis.xtrim(keys.questions, minid=f"{int(cutoff * 1000)}-0", approximate=False))
    if removed or kept or scrubbed or questions:
        # Counts only: which conversations went is in the events (conversation_removed), never their content.
        log.info("retention (%g days): removed %d idle conversations, kept %d with an open case, removed the "
                 "customer text of %d closed cases and %d questions of the events", days, removed, kept, scrubbed,
                 questions)
    return Swept(removed, kept, scrubbed, questions)


async def index_existing(redis: Redis, keys: Keys) -> bool:
    """Once per installation: index the conversations and closed cases stored before the retention sweep
    existed (every transaction indexes what it writes since). True when it indexed now."""
    if await redis.exists(keys.retention_indexed):
        return False
    conversations = 0
    # Hashes and transcripts both (a transcript may have lost its hash); ids read from the key names.
    pattern = _glob_escape(keys.conversation("")[:-1]) + "*"
    head = len(keys.conversation("")) - 1
    batch: dict[str, str] = {}
    async for raw in redis.scan_iter(match=pattern, count=_SCAN_COUNT):
        key = str(raw)
        rest = key[head:]
        conversation_id = rest[:-len("}:log")] if rest.endswith("}:log") else rest[:-1]
        if rest.endswith("}") or rest.endswith("}:log"):
            batch[conversation_id] = keys.conversation(conversation_id)
        if len(batch) >= BATCH:
            conversations += await _index_conversations(redis, keys, batch)
            batch = {}
    conversations += await _index_conversations(redis, keys, batch)
    cases = await _index_closed_cases(redis, keys)
    await redis.set(keys.retention_indexed, repr(time.time()))
    if conversations or cases:
        log.info("retention: indexed %d stored conversations and %d closed cases", conversations, cases)
    return True


async def _index_conversations(redis: Redis, keys: Keys, batch: dict[str, str]) -> int:
    if not batch:
        return 0
    async with redis.pipeline(transaction=False) as pipe:
        for key in batch.values():
            pipe.hmget(key, ["updated_at", "created_at"])
        stored = await pipe.execute()
    scores: dict[Any, float] = {}
    for conversation_id, (updated_at, created_at) in zip(batch, stored):
        scores[conversation_id] = _number(updated_at) or _number(created_at)  # a transcript alone: 0, due
    # GT: a transaction that indexed the conversation meanwhile wrote a later time, which stays.
    await redis.zadd(keys.conversations, scores, gt=True)
    return len(scores)


async def _index_closed_cases(redis: Redis, keys: Keys) -> int:
    last = int(await redis.get(keys.case_counter) or 0)
    indexed = 0
    for start in range(FIRST_CASE_NUMBER, last + 1, BATCH):
        numbers = range(start, min(start + BATCH, last + 1))
        async with redis.pipeline(transaction=False) as pipe:
            for number in numbers:
                pipe.hmget(keys.case(number), ["status", "closed_at"])
            stored = await pipe.execute()
        closed = {str(number): _number(closed_at) for number, (status, closed_at) in zip(numbers, stored)
                  if status == "closed"}
        if closed:
            # NX: a case closed again meanwhile has its own, later, time; one reopened meanwhile is
            # dropped from the index by the scrub, which checks the status again.
            await reply(redis.zadd(keys.closed, closed, nx=True))
            indexed += len(closed)
    return indexed


def _number(value: Any) -> float:
    try:
        return float(value or 0)
    except (TypeError, ValueError):
        return 0.0


def _glob_escape(text: str) -> str:
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)

