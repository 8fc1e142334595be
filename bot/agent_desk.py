"""The agent's side from a terminal: the queue, a case and its transcript, and actions on cases.

Actions go through `hl:inbox` like every other input, and the outcome comes back on a result key,
so the terminal and the Slack desk act on cases in exactly the same way.

Nothing here may import the FAQ matcher or a channel SDK: `helpline queue` and `helpline case ...`
must answer in well under a second.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from bot.app import Helpline
from router.keys import FIRST_CASE_NUMBER
from router.store import Case, CaseStatus, Conversation, reply

if TYPE_CHECKING:
    from channels.base import ActionResult
    from router.messages import ActionKind, AgentAction

ACTION_TIMEOUT_SECONDS = 15.0  # how long the Slack desk waits for the service's verdict
SERVICE_GRACE_SECONDS = 5  # how long a seemingly running service gets before the CLI applies an action itself
LATEST_LINE_WINDOW = 10  # transcript entries read per listed case to find the customer's latest message
CASE_SCAN_PAGE = 500  # case hashes read per round trip when looking for an agent's cases


@dataclass(frozen=True)
class ActionOutcome:
    ok: bool
    message: str


@dataclass(frozen=True)
class TranscriptLine:
    text: str
    at: float


def agent_id(name: str) -> str:
    """A stable id for an agent name: lower case, words joined by '-'."""
    return re.sub(r"[^\w.@-]+", "-", name.strip().casefold()).strip("-") or "agent"


async def act(helpline: Helpline, kind: ActionKind, case: int, agent_name: str, text: str = "",
              team: str | None = None, grace: float = SERVICE_GRACE_SECONDS) -> ActionOutcome:
    """Submit an agent action through the inbox and return the router's verdict.

    A running service applies it. When none runs (no worker heartbeat), or the one that seems to
    run does not answer within `grace` seconds (a killed service leaves its heartbeat for a
    few seconds), this process applies exactly this entry itself. It starts no worker: a worker
    reads the whole inbox, and a customer message waiting there would load the FAQ (seconds).
    """
    # Here, not at the top: the listings (`helpline queue`, `case show`) need neither.
    from router.messages import AgentAction, inbox_fields, new_id
    from router.worker import live_workers

    if not agent_name.strip():
        raise ValueError("an agent action needs the agent's name")  # the CLI asks for one before it gets here
    agent = agent_id(agent_name)
    await _register_agent(helpline, agent, agent_name)
    action = AgentAction(id=new_id(), kind=kind, case=case, agent=agent, agent_name=agent_name, text=text,
                         team=team, at=time.time())
    fields = inbox_fields(action)
    served = await live_workers(helpline.redis, helpline.keys) > 0
    entry_id = await helpline.redis.xadd(helpline.keys.inbox, fields)
    result_key = helpline.keys.result(action.id)
    if served:
        popped = await reply(helpline.redis.blpop([result_key], timeout=grace))
        if popped is not None:
            return _outcome(popped[1])
    # Applied with the entry's "done" marker, as a worker would: a worker that reads the entry later
    # skips it, and if the slow service applied it meanwhile, this changes nothing. The verdict is
    # written in the same transaction as the marker, so it is there once `handle` returns.
    await helpline.router.handle(entry_id, fields)
    # cast: redis-py types LPOP for both forms; without a count it answers one string or None.
    verdict = cast("str | None", await reply(helpline.redis.lpop(result_key)))
    if verdict is None:
        return ActionOutcome(False, f"the action on case #{case} was applied but its outcome was taken by "
                                    f"another reader; see `helpline case show {case}`")
    return _outcome(verdict)


def _outcome(verdict: str) -> ActionOutcome:
    outcome = json.loads(verdict)
    return ActionOutcome(bool(outcome.get("ok")), str(outcome.get("message", "")))


async def _register_agent(helpline: Helpline, agent: str, agent_name: str) -> None:
    """Remember the agent's name; a new agent starts out available."""
    async with helpline.redis.pipeline(transaction=True) as pipe:
        pipe.hset(helpline.keys.agent(agent), "name", agent_name)
        pipe.hsetnx(helpline.keys.agent(agent), "status", "available")
        await pipe.execute()


async def load_case(helpline: Helpline, number: int) -> Case | None:
    data = await reply(helpline.redis.hgetall(helpline.keys.case(number)))
    return Case.from_hash(data) if data else None


async def case_details(helpline: Helpline, number: int) -> dict[str, Any] | None:
    """Everything about a case, as the JSON of `helpline case show --json`; `sla` as in `queue_listing`."""
    case = await load_case(helpline, number)
    if case is None:
        return None
    conversation_data = await reply(helpline.redis.hgetall(helpline.keys.conversation(case.conversation)))
    conversation = Conversation.from_hash(case.conversation, conversation_data) if conversation_data else None
    transcript = []
    for _entry_id, fields in await helpline.redis.xrange(helpline.keys.transcript(case.conversation)):
        item: dict[str, Any] = {"role": fields.get("role", ""), "text": fields.get("text", ""),
                                "at": float(fields.get("at", 0) or 0)}
        for optional in ("agent", "sender", "options", "attachments"):
            if fields.get(optional):
                item[optional] = fields[optional]
        transcript.append(item)
    now = time.time()
    waiting = None
    if case.status == "queued":
        rank = await helpline.redis.zrank(helpline.keys.queue(case.team), str(case.number))
        waiting = {"position": None if rank is None else rank + 1, "seconds": round(now - case.queued_at, 1)}
    return {
        "case": case.number,
        "status": case.status,
        "team": case.team,
        "agent": case.agent_name or case.agent or None,
        "last_agent": case.last_agent_name or case.last_agent or None,
        "priority": case.priority,
        "reason": case.reason,
        "subject": case.subject,
        "channel": case.channel,
        "customer": case.customer_name,
        "address": conversation.address if conversation else None,
        "language": case.language,
        "csat": case.csat or None,
        "reopened": case.reopened,
        "queue": waiting,
        "sla": None if (status := helpline.sla_rules.status(case, now)) is None else status.to_json(),
        "times": {name: (value or None) for name, value in (
            ("created", case.created_at), ("queued", case.queued_at), ("claimed", case.claimed_at),
            ("first_response", case.first_response_at), ("resolved", case.resolved_at), ("closed", case.closed_at))},
        "transcript": transcript,
    }


async def queue_listing(helpline: Helpline, team: str | None = None,
                        now: float | None = None) -> dict[str, list[dict[str, Any]]]:
    """Waiting cases per team, first to be served first, as the JSON of `helpline queue --json`; `sla`
    is the first-response SLA state (router/sla.py SlaStatus.to_json), null when the team has none."""
    if team:
        teams = [team]
    else:
        teams = sorted(set(helpline.settings.teams) | set(await reply(helpline.redis.smembers(helpline.keys.teams_seen))))
    async with helpline.redis.pipeline(transaction=False) as pipe:
        for name in teams:
            pipe.zrange(helpline.keys.queue(name), 0, -1)
        queues: list[list[str]] = await pipe.execute()
    cases = await _load_cases(helpline, [int(number) for numbers in queues for number in numbers])
    latest = await latest_customer_lines(helpline, [case.conversation for case in cases.values()])
    now = time.time() if now is None else now
    listing: dict[str, list[dict[str, Any]]] = {}
    for name, numbers in zip(teams, queues):
        listing[name] = []
        for position, number in enumerate(numbers, start=1):
            case = cases.get(int(number))
            if case is None:
                continue
            status = helpline.sla_rules.status(case, now)
            listing[name].append({"position": position, "waiting_seconds": round(now - case.queued_at, 1),
                                  **_summary(case, latest.get(case.conversation)),
                                  "sla": None if status is None else status.to_json()})
    return listing


async def claimed_cases(helpline: Helpline, agent_name: str) -> list[dict[str, Any]]:
    """The cases assigned to an agent, longest held first, as the JSON of `helpline queue --mine --json`."""
    agent = agent_id(agent_name)
    numbers = await _numbers_assigned_to(helpline, agent)
    cases = await _load_cases(helpline, numbers)
    # Read again in full: a case released between the scan and now is not the agent's any more.
    mine = sorted((case for case in cases.values() if case.status == CaseStatus.ASSIGNED and case.agent == agent),
                  key=lambda case: case.claimed_at)
    latest = await latest_customer_lines(helpline, [case.conversation for case in mine])
    now = time.time()
    return [{"team": case.team, "claimed_seconds": round(now - case.claimed_at, 1),
             **_summary(case, latest.get(case.conversation))} for case in mine]


def _summary(case: Case, latest: TranscriptLine | None) -> dict[str, Any]:
    """What a listing shows of a case: who, where, why, and what the customer said last."""
    return {"case": case.number, "customer": case.customer_name, "channel": case.channel, "language": case.language,
            "priority": case.priority, "reason": case.reason, "subject": case.subject,
            "latest_message": latest.text if latest else None, "latest_message_at": latest.at if latest else None}


async def _load_cases(helpline: Helpline, numbers: Sequence[int]) -> dict[int, Case]:
    """The cases by number, read in one round trip; numbers without a case are left out."""
    async with helpline.redis.pipeline(transaction=False) as pipe:
        for number in numbers:
            pipe.hgetall(helpline.keys.case(number))
        hashes: list[dict[str, str]] = await pipe.execute()
    return {number: Case.from_hash(data) for number, data in zip(numbers, hashes) if data}


async def _numbers_assigned_to(helpline: Helpline, agent: str) -> list[int]:
    """Numbers of the cases assigned to `agent` (an agent id).

    The router keeps no index of an agent's cases, and this command must not make it write one, so
    this reads the `agent` and `status` fields of every case from FIRST_CASE_NUMBER up to the case
    counter, a page of pipelined HMGETs per round trip. That is fine for tens of thousands of cases;
    beyond that a set of each agent's open cases, kept by the router, would be the way.
    """
    last = int(await helpline.redis.get(helpline.keys.case_counter) or FIRST_CASE_NUMBER - 1)
    assigned = []
    for first in range(FIRST_CASE_NUMBER, last + 1, CASE_SCAN_PAGE):
        page = range(first, min(first + CASE_SCAN_PAGE, last + 1))
        async with helpline.redis.pipeline(transaction=False) as pipe:
            for number in page:
                pipe.hmget(helpline.keys.case(number), ["agent", "status"])
            rows: list[list[str | None]] = await pipe.execute()
        assigned += [number for number, (holder, status) in zip(page, rows)
                     if holder == agent and status == CaseStatus.ASSIGNED]
    return assigned


async def latest_customer_lines(helpline: Helpline, conversations: Sequence[str]) -> dict[str, TranscriptLine]:
    """The last thing each conversation's customer wrote (conversations where they wrote nothing are left out).

    The newest LATEST_LINE_WINDOW transcript entries of every conversation come in one round trip;
    the rare conversation whose customer is not among them (a long exchange of agents and notes)
    is read further back on its own.
    """
    conversations = list(dict.fromkeys(conversations))
    async with helpline.redis.pipeline(transaction=False) as pipe:
        for conversation in conversations:
            pipe.xrevrange(helpline.keys.transcript(conversation), count=LATEST_LINE_WINDOW)
        windows: list[list[tuple[str, dict[str, str]]]] = await pipe.execute()
    latest: dict[str, TranscriptLine] = {}
    for conversation, entries in zip(conversations, windows):
        line = _first_customer_line(entries)
        if line is None and len(entries) == LATEST_LINE_WINDOW:
            line = await _customer_line_before(helpline, conversation, entries[-1][0])
        if line is not None:
            latest[conversation] = line
    return latest


async def _customer_line_before(helpline: Helpline, conversation: str, entry_id: str) -> TranscriptLine | None:
    """Page back through the transcript from `entry_id` (exclusive) to the customer's last line."""
    while True:
        entries = await helpline.redis.xrevrange(helpline.keys.transcript(conversation), max=f"({entry_id}",
                                                 count=LATEST_LINE_WINDOW * 10)
        line = _first_customer_line(entries)
        if line is not None or not entries:
            return line
        entry_id = entries[-1][0]


def _first_customer_line(entries: Sequence[tuple[str, dict[str, str]]]) -> TranscriptLine | None:
    """The first customer entry with something in it, of entries newest first."""
    for _entry_id, fields in entries:
        if fields.get("role") != "customer":
            continue
        text = fields.get("text", "") or (f"[{fields['attachments']}]" if fields.get("attachments") else "")
        if text:
            return TranscriptLine(text, float(fields.get("at") or 0))
    return None


def format_duration(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600:02d}h"


def sla_text(sla: Mapping[str, Any] | None) -> str:
    """A waiting case's first-response SLA in a listing: `SLA ok, 12m00s left`, `SLA breached 3m00s ago`."""
    from router.sla import describe

    return describe(sla, format_duration)


class CoreDesk:
    """The DeskBackend the service gives an agents' desk channel."""

    def __init__(self, helpline: Helpline) -> None:
        self.helpline = helpline

    async def act(self, action: AgentAction, timeout: float = ACTION_TIMEOUT_SECONDS,
                  submitted: asyncio.Event | None = None) -> ActionResult:
        from channels.base import ActionResult  # channels.base brings aiohttp: only the service's desk gets here
        from router.messages import inbox_fields

        async with self.helpline.redis.pipeline(transaction=True) as pipe:
            if action.agent:
                pipe.hset(self.helpline.keys.agent(action.agent), "name", action.agent_name or action.agent)
                pipe.hsetnx(self.helpline.keys.agent(action.agent), "status", "available")
            pipe.xadd(self.helpline.keys.inbox, inbox_fields(action))
            await pipe.execute()
        if submitted is not None:
            submitted.set()
        popped = await reply(self.helpline.redis.blpop([self.helpline.keys.result(action.id)], timeout=timeout))
        if popped is None:
            return ActionResult(False, f"no answer within {timeout:.0f}s; the action is queued and will be applied")
        outcome = json.loads(popped[1])
        return ActionResult(bool(outcome.get("ok")), str(outcome.get("message", "")))

    async def queue(self, team: str | None = None) -> dict[str, list[dict[str, Any]]]:
        return await queue_listing(self.helpline, team)

    async def case(self, number: int) -> dict[str, Any] | None:
        return await case_details(self.helpline, number)

    async def set_agent_status(self, agent: str, name: str, status: str) -> None:
        if status not in ("available", "away"):
            raise ValueError(f"unknown agent status {status!r}")
        await reply(self.helpline.redis.hset(self.helpline.keys.agent(agent), mapping={"name": name, "status": status}))
