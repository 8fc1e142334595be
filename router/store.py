"""Stored records (conversation, case) and the transaction that writes one message's effects.

Reads happen under WATCH; writes are buffered and go out in one MULTI/EXEC together with the
"done" marker of the inbox entry. So a worker that dies half-way leaves nothing behind, and a
redelivered entry whose effects were written is recognised and changes nothing.

Or, given `rounds` (router/rounds.py), optimistically: reads are fingerprinted instead of watched and
the commit is one script that checks the fingerprints and writes (router/optimistic.py); the reads
and commits of the entries handled side by side then share round trips.
"""

from __future__ import annotations

import inspect
import json
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from redis.asyncio.client import Pipeline
from redis.exceptions import ResponseError, WatchError
from redis.typing import EncodableT

from router import metrics
from router.commands import set_command, xadd_command
from router.events import Event
from router.keys import FIRST_CASE_NUMBER, Keys
from router.optimistic import CHECK_AND_WRITE, check_and_write, is_missing_script
from router.pending import Pending, pending_from_json, pending_to_json
from router.rounds import Command, Rounds

if TYPE_CHECKING:
    # At run time router.messages (a dozen dataclasses, ~8 ms) is imported by the transaction methods that
    # write messages: reading cases (`helpline queue`, `case show`) never needs it.
    from router.messages import DeskEvent, HistoryLine, OutboundMessage

EVENTS_MAX_LENGTH = 1_000_000
TRANSCRIPT_MAX_LENGTH = 10_000
DONE_TTL_SECONDS = 14 * 24 * 3600
RESULT_TTL_SECONDS = 600
SURVEY_TTL_SECONDS = 400 * 24 * 3600  # a round's answers outlive every late answer and a year of reports
HIGH_PRIORITY = 1
NORMAL_PRIORITY = 0
_PRIORITY_WEIGHT_MS = 10**13  # larger than any wait time: priority always sorts first
PRIORITY_WEIGHT_MS = _PRIORITY_WEIGHT_MS  # public: /metrics reads queue scores back into wait times
_T = TypeVar("_T")
StreamFields = dict[EncodableT, EncodableT]  # what redis-py's xadd takes


async def reply(value: Awaitable[_T] | _T) -> _T:
    """The answer of a redis-py command, typed: its hints say "awaitable or not" for sync and async clients."""
    return await value if inspect.isawaitable(value) else value


class CaseStatus(StrEnum):
    QUEUED = "queued"
    ASSIGNED = "assigned"
    RESOLVED = "resolved"
    CLOSED = "closed"

    @property
    def is_open(self) -> bool:
        """Waiting for or with an agent."""
        return self in (CaseStatus.QUEUED, CaseStatus.ASSIGNED)


@dataclass(frozen=True, slots=True)
class Conversation:
    id: str
    channel: str
    address: str
    customer_id: str = ""
    customer_name: str = ""
    language: str = ""
    case: int | None = None  # the case this conversation is in, until it closes
    pending: Pending | None = None  # what the bot asked and waits for
    created_at: float = 0.0
    updated_at: float = 0.0

    @classmethod
    def from_hash(cls, conversation_id: str, data: dict[str, str]) -> Conversation:
        return cls(
            id=conversation_id, channel=data.get("channel", ""), address=data.get("address", ""),
            customer_id=data.get("customer_id", ""), customer_name=data.get("customer_name", ""),
            language=data.get("language", ""), case=int(data["case"]) if data.get("case") else None,
            pending=pending_from_json(data.get("pending", "")),
            created_at=float(data.get("created_at") or 0), updated_at=float(data.get("updated_at") or 0),
        )

    def to_hash(self) -> dict[str, str]:
        return {
            "channel": self.channel, "address": self.address, "customer_id": self.customer_id,
            "customer_name": self.customer_name, "language": self.language,
            "case": "" if self.case is None else str(self.case),
            "pending": pending_to_json(self.pending),
            "created_at": repr(self.created_at), "updated_at": repr(self.updated_at),
        }


@dataclass(frozen=True, slots=True)
class Case:
    number: int
    conversation: str
    status: CaseStatus
    team: str
    channel: str = ""
    customer_name: str = ""
    language: str = ""
    priority: int = NORMAL_PRIORITY
    reason: str = ""  # why it was opened: requested, complaint, no_match, not_helpful, none_of_these, attachment
    subject: str = ""
    agent: str = ""
    agent_name: str = ""
    last_agent: str = ""
    last_agent_name: str = ""
    created_at: float = 0.0
    queued_at: float = 0.0
    claimed_at: float = 0.0
    first_response_at: float = 0.0
    resolved_at: float = 0.0
    closed_at: float = 0.0
    csat: int = 0
    reopened: int = 0
    acknowledged: int = 0  # 1 once the customer was told their waiting message reached the case
    sla_warned_at: float = 0.0  # when the queue was warned the first-response target is near (router/sla.py)
    escalated_at: float = 0.0  # when it was moved on past the SLA's second limit

    @classmethod
    def from_hash(cls, data: dict[str, str]) -> Case:
        values: dict[str, Any] = {}
        for spec in fields(cls):
            if spec.name not in data:
                continue
            raw = data[spec.name]
            if spec.name == "status":
                values[spec.name] = CaseStatus(raw)
            elif spec.type == "int":
                values[spec.name] = int(raw or 0)
            elif spec.type == "float":
                values[spec.name] = float(raw or 0)
            else:
                values[spec.name] = raw
        return cls(**values)

    def to_hash(self) -> dict[str, str]:
        return {spec.name: str(getattr(self, spec.name)) if spec.type != "float" else repr(getattr(self, spec.name))
                for spec in fields(self)}

    def queue_score(self) -> float:
        """Lower is served first: priority, then how long the customer has waited."""
        return self.queued_at * 1000 - self.priority * _PRIORITY_WEIGHT_MS

    def with_changes(self, **changes: Any) -> Case:
        return replace(self, **changes)


# Reserves a case number for one inbox entry: a retried entry gets the same number, not a new one.
_RESERVE_CASE_NUMBER = """
local existing = redis.call('GET', KEYS[1])
if existing then return tonumber(existing) end
if redis.call('EXISTS', KEYS[2]) == 0 then redis.call('SET', KEYS[2], ARGV[1]) end
local number = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], number, 'EX', ARGV[2])
return number
"""


def _increment(key: str, field: str, amount: float) -> Callable[[Pipeline], Any]:
    # A histogram's sum is a float field: HINCRBY on "12.5" would fail the whole transaction.
    if field.split("|", 1)[0].endswith("_sum"):
        return lambda p: p.hincrbyfloat(key, field, amount)
    return lambda p: p.hincrby(key, field, int(amount))


class Finish(Protocol):
    """What finishing the inbox entry writes (its XACK, its lane), added to the entry's MULTI/EXEC."""

    def add_to(self, pipe: Pipeline) -> None: ...


class Transaction:
    """One inbox entry's reads (under WATCH) and writes (buffered, then one MULTI/EXEC)."""

    def __init__(self, pipe: Pipeline | None, keys: Keys, entry_id: str, now: float,
                 rounds: Rounds | None = None) -> None:
        """With `pipe` (a transaction pipeline): WATCH and MULTI/EXEC; with `rounds` instead: optimistic."""
        if (pipe is None) == (rounds is None):
            raise ValueError("a transaction needs either a pipeline or rounds")
        self._pipe = pipe
        self.rounds = rounds
        self._seen: dict[str, bytes | None] = {}  # optimistic: the DUMP of each key read, before its read
        self.keys = keys
        self.entry_id = entry_id
        self.now = now
        self._writes: list[Callable[[Pipeline], Any]] = []
        self._prefetched: dict[str, str | None] = {}  # watched and read in the first round trip
        self._prefetched_hashes: dict[str, Any] = {}  # HGETALL replies, likewise
        self._conversations: dict[str, Conversation] = {}  # the last state saved of each: one HSET at commit
        self._waits: dict[str, list[Any]] = {}  # a team's recent waits read ahead (open_case_reads)
        self.finish: Finish | None = None  # the inbox entry's XACK, written by `commit` with the effects
        self._sent = 0
        self._desk_sent = 0
        self._logged: dict[str, list[HistoryLine]] = {}
        self._case_status: dict[int, str] = {}  # as stored: what helpline_cases{state} moves from
        self._touched: set[str] = set()  # conversations whose last-change time this transaction sets

    @property
    def pipe(self) -> Pipeline:
        if self._pipe is None:
            raise RuntimeError("an optimistic transaction has no pipeline: read through its methods")
        return self._pipe

    # -- reads -----------------------------------------------------------------------------
    async def watch(self, *keys: str) -> None:
        await self.watch_and_read(keys, [])

    async def watch_and_read(self, watch: Sequence[str], commands: Sequence[Command]) -> list[Any]:
        """WATCH `watch` (optimistically: fingerprint them), then send `commands`, in one round trip;
        their replies, in order."""
        if self.rounds is None:
            return await self._watch_and_read_on_pipe(watch, commands)
        fresh = [key for key in dict.fromkeys(watch) if key not in self._seen]
        replies = await self.rounds.send([*(("DUMP", key) for key in fresh), *commands], raw=range(len(fresh)))
        for answer in replies:
            if isinstance(answer, ResponseError):
                raise answer
        # The first DUMP of a key counts: read before any read of it, as a WATCH is set before.
        self.seen(dict(zip(fresh, replies)))
        return replies[len(fresh):]

    def seen(self, dumps: Mapping[str, bytes | None]) -> None:
        """Record the fingerprints of keys read (optimistic mode): the commit checks them."""
        for key, dump in dumps.items():
            self._seen.setdefault(key, dump)

    async def exists(self, key: str) -> bool:
        """EXISTS `key`, under WATCH."""
        [answer] = await self.watch_and_read([key], [("EXISTS", key)])
        return bool(answer)

    async def hget(self, key: str, field: str) -> str | None:
        """HGET `key` `field`, under WATCH (of the whole hash)."""
        [answer] = await self.watch_and_read([key], [("HGET", key, field)])
        return None if answer is None else str(answer)

    async def _watch_and_read_on_pipe(self, watch: Sequence[str], commands: Sequence[Command]) -> list[Any]:
        """WATCH `watch`, then send `commands`, all in one round trip; their replies, in order.

        redis-py sends each read under WATCH on its own; here they go out in one write on the
        pipeline's connection, which stays watching until the MULTI/EXEC (or reset) as usual.
        """
        pipe = self.pipe
        if pipe.connection is None:
            pipe.connection = await pipe.connection_pool.get_connection()
        connection = pipe.connection
        batch: list[Command] = [("WATCH", *watch), *commands] if watch else list(commands)
        try:
            await connection.send_packed_command(connection.pack_commands(batch))
            pipe.watching = pipe.watching or bool(watch)
            replies = [await connection.read_response(disable_decoding=False) for _ in batch]
        except BaseException:
            await connection.disconnect()  # replies may be left unread: the connection is not reusable
            raise
        for answer in replies:
            if isinstance(answer, ResponseError):
                raise answer
        return replies[1:] if watch else replies

    async def begin(self, get: Sequence[str] = (), hashes: Sequence[str] = (),
                    also: Sequence[Command] = ()) -> tuple[bool, list[Any]]:
        """Watch the done marker and the keys `get` and `hashes`, read them (GET, HGETALL) and send `also`
        (idempotent commands outside the transaction), in one round trip: (already done, `also`'s replies)."""
        done_key = self.keys.done(self.entry_id)
        keys = [key for key in dict.fromkeys(get) if key != done_key]
        maps = [key for key in dict.fromkeys(hashes) if key not in keys and key != done_key]
        replies = await self.watch_and_read([done_key, *keys, *maps], [
            ("EXISTS", done_key), *(("GET", key) for key in keys), *(("HGETALL", key) for key in maps), *also])
        self._prefetched.update(zip(keys, replies[1:1 + len(keys)]))
        self._prefetched_hashes.update(zip(maps, replies[1 + len(keys):1 + len(keys) + len(maps)]))
        return bool(replies[0]), replies[1 + len(keys) + len(maps):]

    async def get(self, key: str) -> str | None:
        """GET `key` under WATCH (read in the first round trip when `begin` had it)."""
        if key in self._prefetched:
            return self._prefetched[key]
        [value] = await self.watch_and_read([key], [("GET", key)])
        return None if value is None else str(value)

    async def already_done(self) -> bool:
        done, _ = await self.begin()
        return done

    async def conversation(self, conversation_id: str) -> Conversation | None:
        key = self.keys.conversation(conversation_id)
        if key in self._prefetched_hashes:
            return conversation_from_reply(conversation_id, self._prefetched_hashes[key])
        [data] = await self.watch_and_read([key], [("HGETALL", key)])
        return conversation_from_reply(conversation_id, data)

    async def conversation_at(self, address_key: str, guess: str | None) -> Conversation | None:
        """The conversation `address_key` points to; `guess` (an id it pointed to before) is read in the
        same round trip, so a known conversation costs one trip, not two."""
        if guess is None or address_key in self._prefetched or self.keys.conversation(guess) in self._prefetched_hashes:
            conversation_id = await self.get(address_key)
            return await self.conversation(conversation_id) if conversation_id else None
        key = self.keys.conversation(guess)
        conversation_id, data = await self.watch_and_read([address_key, key], [("GET", address_key),
                                                                                ("HGETALL", key)])
        self._prefetched[address_key] = conversation_id
        if conversation_id == guess:
            return conversation_from_reply(guess, data)
        return await self.conversation(conversation_id) if conversation_id else None

    async def case(self, number: int) -> Case | None:
        key = self.keys.case(number)
        [answer] = await self.watch_and_read([key], [("HGETALL", key)])
        data = _as_mapping(answer)
        if not data:
            return None
        case = Case.from_hash(data)
        self._case_status.setdefault(number, str(case.status.value))
        return case

    async def survey(self, case: int, round_: int) -> dict[str, str]:
        """What the customer answered so far for the case's round (read under WATCH: one answer each)."""
        key = self.keys.survey(case, round_)
        [answer] = await self.watch_and_read([key], [("HGETALL", key)])
        return _as_mapping(answer)

    async def queue_position(self, team: str, score: float) -> int:
        """1-based place a case with `score` would have (cases ahead of it, plus one)."""
        [ahead] = await self.watch_and_read([], [("ZCOUNT", self.keys.queue(team), "-inf", f"({score}")])
        return int(ahead) + 1

    async def recent_waits(self, team: str) -> list[float]:
        """The waits of the team's last claimed cases (not watched: an estimate may be a moment old)."""
        values = self._waits.pop(team, None)
        if values is None:
            [values] = await self.watch_and_read([], [("LRANGE", self.keys.waits(team), 0, -1)])
        waits = []
        for value in values:
            try:
                seconds = float(value)
            except (TypeError, ValueError):
                continue  # an odd entry spoils one figure, not the estimate
            if math.isfinite(seconds) and seconds >= 0:
                waits.append(seconds)
        return waits

    async def reserve_case_number(self) -> int:
        # Runs outside MULTI on purpose: numbers must be unique even when two workers race.
        [number] = await self.watch_and_read([], [
            ("EVAL", _RESERVE_CASE_NUMBER, 2, self.keys.case_for_message(self.entry_id), self.keys.case_counter,
             FIRST_CASE_NUMBER - 1, DONE_TTL_SECONDS)])
        return int(number)

    async def open_case_reads(self, team: str, score: float) -> tuple[int, int]:
        """`reserve_case_number` and `queue_position` in one round trip (the team's recent waits, which the
        customer's estimate needs next, are read with them): (case number, place in the queue)."""
        number, ahead, waits = await self.watch_and_read([], [
            ("EVAL", _RESERVE_CASE_NUMBER, 2, self.keys.case_for_message(self.entry_id), self.keys.case_counter,
             FIRST_CASE_NUMBER - 1, DONE_TTL_SECONDS),
            ("ZCOUNT", self.keys.queue(team), "-inf", f"({score}"), ("LRANGE", self.keys.waits(team), 0, -1)])
        self._waits[team] = list(waits)
        return int(number), int(ahead) + 1

    # -- buffered writes -------------------------------------------------------------------
    def save_conversation(self, conversation: Conversation) -> None:
        # Saved several times in one turn (found, then answered): only the last state is written, once.
        first = conversation.id not in self._conversations
        self._conversations[conversation.id] = conversation
        if first:
            key, saved = self.keys.conversation(conversation.id), self._conversations
            self._writes.append(lambda p: p.hset(key, mapping=saved[conversation.id].to_hash()))
        self._touch(conversation.id)

    def _touch(self, conversation_id: str) -> None:
        """The conversation changed now: the retention sweep counts its idle time from here, and its check
        (router/retention.py) sees this write, so a conversation is never removed under a message."""
        if conversation_id not in self._touched:
            self._touched.add(conversation_id)
            key, now = self.keys.conversations, self.now
            self._writes.append(lambda p: p.zadd(key, {conversation_id: now}))

    def save_case(self, case: Case) -> None:
        key = self.keys.case(case.number)
        self._writes.append(lambda p: p.hset(key, mapping=case.to_hash()))
        status = str(case.status.value)
        self._count(metrics.state_change(self._case_status.get(case.number), status))
        self._case_status[case.number] = status

    def _count(self, increments: list[tuple[str, float]]) -> None:
        """Prometheus figures (router/metrics.py), written with this transaction: counted once."""
        for field, amount in increments:
            self._writes.append(_increment(self.keys.metrics, field, amount))

    def set(self, key: str, value: str, ex: int | None = None) -> None:
        command = set_command(key, value, ex)
        self._writes.append(lambda p: p.execute_command(*command))

    def enqueue(self, case: Case) -> None:
        queue, teams, number, score = self.keys.queue(case.team), self.keys.teams_seen, case.number, case.queue_score()
        self._writes.append(lambda p: p.zadd(queue, {str(number): score}))
        self._writes.append(lambda p: p.sadd(teams, case.team))

    def dequeue(self, team: str, number: int) -> None:
        queue = self.keys.queue(team)
        self._writes.append(lambda p: p.zrem(queue, str(number)))

    def record_wait(self, team: str, seconds: float, keep: int) -> None:
        """Remember how long a claimed case waited; only the last `keep` are kept."""
        key, value = self.keys.waits(team), f"{max(0.0, seconds):.3f}"
        self._writes.append(lambda p: p.lpush(key, value))
        self._writes.append(lambda p: p.ltrim(key, 0, keep - 1))

    def awaiting_rating(self, case: Case, waiting: bool) -> None:
        """Keep the set of resolved cases the closing sweep looks at up to date."""
        key, member = self.keys.resolved, str(case.number)
        if waiting:
            self._writes.append(lambda p: p.zadd(key, {member: case.resolved_at}))
        else:
            self._writes.append(lambda p: p.zrem(key, member))

    def closed_index(self, case: Case, closed: bool) -> None:
        """Keep the set of closed cases whose customer text the retention sweep removes in time up to date."""
        key, member = self.keys.closed, str(case.number)
        if closed:
            self._writes.append(lambda p: p.zadd(key, {member: case.closed_at}))
        else:
            self._writes.append(lambda p: p.zrem(key, member))

    def record_survey(self, case: int, round_: int, **answers: int | float) -> None:
        key, values = self.keys.survey(case, round_), {name: str(value) for name, value in answers.items()}
        self._writes.append(lambda p: p.hset(key, mapping=values))
        self._writes.append(lambda p: p.expire(key, SURVEY_TTL_SECONDS))

    def agent_open_cases(self, agent_id: str, delta: int) -> None:
        if agent_id:
            key = self.keys.agent(agent_id)
            self._writes.append(lambda p: p.hincrby(key, "open_cases", delta))

    def log(self, conversation_id: str, role: str, text: str, **extra: Any) -> None:
        """Append to the conversation transcript (customer, bot, agent, note, system)."""
        from router.messages import HistoryLine

        entry: StreamFields = {"role": role, "text": text, "at": repr(self.now), "entry": self.entry_id}
        entry.update({k: str(v) for k, v in extra.items() if v not in (None, "")})
        key = self.keys.transcript(conversation_id)
        command = xadd_command(key, entry, TRANSCRIPT_MAX_LENGTH)
        self._writes.append(lambda p: p.execute_command(*command))
        self._touch(conversation_id)
        self._logged.setdefault(conversation_id, []).append(HistoryLine(role, text, self.now))

    def event(self, name: Event, /, **fields_: Any) -> None:
        """Append to the events stream that KPIs and audits are computed from.

        A `question` (the customer's words) goes to the `questions` stream instead, under a reference the
        event carries: a stream entry cannot be changed, and the retention sweep trims that stream by time
        while the events, which the reports count, stay (router/retention.py)."""
        entry: StreamFields = {"type": str(name), "at": repr(self.now), "entry": self.entry_id}
        question = str(fields_.pop("question", None) or "")
        entry.update({k: str(v) for k, v in fields_.items() if v not in (None, "")})
        key = self.keys.events
        if question:
            from router.messages import new_id

            ref = new_id()
            entry["question_ref"] = ref
            asked: StreamFields = {"ref": ref, "question": question, "at": repr(self.now)}
            questions = self.keys.questions
            asking = xadd_command(questions, asked, EVENTS_MAX_LENGTH)
            self._writes.append(lambda p: p.execute_command(*asking))
        command = xadd_command(key, entry, EVENTS_MAX_LENGTH)
        self._writes.append(lambda p: p.execute_command(*command))
        self._count(metrics.increments(str(name), {str(k): str(v) for k, v in entry.items()}))

    def send_outbound(self, message: OutboundMessage) -> None:
        # In the conversation's lane: every sender process sends one conversation's messages in order.
        from router.lanes import append_args  # router.lanes builds on this module
        from router.messages import to_json

        arguments = append_args(self.keys.outbox(message.channel), message.conversation or message.address,
                                {"data": to_json(message)})
        self._writes.append(lambda p: p.eval(*arguments))

    def send_desk(self, event: DeskEvent) -> None:
        from router.messages import to_json

        key = self.keys.desk
        data = to_json(event)
        # No MAXLEN: a backlog the desk has not shown yet must not be cut; its worker trims what it finished.
        self._writes.append(lambda p: p.xadd(key, {"data": data}))

    async def history(self, conversation_id: str, limit: int = 20) -> tuple[HistoryLine, ...]:
        """The last `limit` transcript lines, those written by this transaction included."""
        from router.messages import HistoryLine

        [entries] = await self.watch_and_read([], [("XREVRANGE", self.keys.transcript(conversation_id), "+", "-",
                                                     "COUNT", limit)])
        stored = [HistoryLine(fields.get("role", ""), fields.get("text", ""), float(fields.get("at") or 0))
                  for fields in (_as_mapping(raw) for _, raw in reversed(entries))]
        return tuple((stored + self._logged.get(conversation_id, []))[-limit:])

    def next_desk_id(self) -> str:
        self._desk_sent += 1
        return f"{self.entry_id}.d{self._desk_sent}"

    def next_outbound_id(self) -> str:
        # Derived from the inbox entry: a retried decision produces the same ids as the first try.
        self._sent += 1
        return f"{self.entry_id}.{self._sent}"

    def result(self, action_id: str, outcome: dict[str, Any]) -> None:
        key = self.keys.result(action_id)
        data = json.dumps(outcome, ensure_ascii=False)
        self._writes.append(lambda p: p.rpush(key, data))
        self._writes.append(lambda p: p.expire(key, RESULT_TTL_SECONDS))

    async def commit(self) -> None:
        """Write everything at once (with `finish` set: the entry's XACK too); raises WatchError when something
        read has changed meanwhile."""
        if self.rounds is not None:
            await self._commit_optimistically(self.rounds)
            return
        self.pipe.multi()
        for write in self._writes:
            write(self.pipe)
        # The marker holds how many messages went out, so a waiting terminal knows when it has them all.
        self.pipe.execute_command(*set_command(self.keys.done(self.entry_id), str(self._sent), DONE_TTL_SECONDS))
        if self.finish is not None:
            self.finish.add_to(self.pipe)
        await self.pipe.execute()

    def commit_command(self, recorder: Pipeline) -> Command:
        """The optimistic commit: one EVALSHA that checks what was read and writes everything (`recorder`, a
        pipeline never executed, only buffers the writes)."""
        for write in self._writes:
            write(recorder)
        recorder.execute_command(*set_command(self.keys.done(self.entry_id), str(self._sent), DONE_TTL_SECONDS))
        if self.finish is not None:
            self.finish.add_to(recorder)
        return check_and_write(self._seen, recorder.command_stack)

    async def _commit_optimistically(self, rounds: Rounds) -> None:
        command = self.commit_command(rounds.redis.pipeline(transaction=False))
        # The script is loaded with the first commit of a client, and again after a Redis that forgot it.
        load = [] if rounds.scripts_loaded else [("SCRIPT", "LOAD", CHECK_AND_WRITE)]
        *_, answer = await rounds.send([*load, command])
        rounds.scripts_loaded = True
        if is_missing_script(answer):
            *_, answer = await rounds.send([("SCRIPT", "LOAD", CHECK_AND_WRITE), command])
        if isinstance(answer, ResponseError):
            raise answer
        if isinstance(answer, list):  # written, but one of its commands failed (as EXEC would report it)
            raise ResponseError(f"inbox entry {self.entry_id}: a write failed: {answer[1]}")
        if int(answer) != 1:
            raise WatchError(f"inbox entry {self.entry_id}: something it read has changed")


def _as_mapping(data: Any) -> dict[str, str]:
    """An HGETALL (or stream entry) reply as a dict: RESP2 gives a flat list of fields and values."""
    if isinstance(data, list):
        return dict(zip(data[::2], data[1::2]))
    return dict(data) if isinstance(data, Mapping) else {}


def conversation_from_reply(conversation_id: str, data: Any) -> Conversation | None:
    """A conversation from an HGETALL reply (a dict, or RESP2's flat list of fields and values)."""
    if isinstance(data, list):
        data = dict(zip(data[::2], data[1::2]))
    if not isinstance(data, Mapping) or not data:
        return None
    return Conversation.from_hash(conversation_id, dict(data))
