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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.app import Helpline
from router.messages import ActionKind, AgentAction, inbox_fields, new_id
from router.store import Case, Conversation
from router.worker import live_workers

if TYPE_CHECKING:
    from channels.base import ActionResult

ACTION_TIMEOUT_SECONDS = 15.0  # how long the Slack desk waits for the service's verdict
SERVICE_GRACE_SECONDS = 5  # how long a seemingly running service gets before the CLI applies an action itself


@dataclass(frozen=True)
class ActionOutcome:
    ok: bool
    message: str


def agent_id(name: str) -> str:
    """A stable id for an agent name: lower case, words joined by '-'."""
    return re.sub(r"[^\w.@-]+", "-", name.strip().casefold()).strip("-") or "agent"


async def act(helpline: Helpline, kind: ActionKind, case: int, agent_name: str = "", text: str = "",
              team: str | None = None, grace: float = SERVICE_GRACE_SECONDS) -> ActionOutcome:
    """Submit an agent action through the inbox and return the router's verdict.

    A running service applies it. When none runs (no worker heartbeat), or the one that seems to
    run does not answer within `grace` seconds (a killed service leaves its heartbeat for a
    few seconds), this process applies exactly this entry itself. It starts no worker: a worker
    reads the whole inbox, and a customer message waiting there would load the FAQ (seconds).
    """
    agent = agent_id(agent_name) if agent_name else ""
    if agent:
        await _register_agent(helpline, agent, agent_name)
    action = AgentAction(id=new_id(), kind=kind, case=case, agent=agent, agent_name=agent_name, text=text,
                         team=team, at=time.time())
    fields = inbox_fields(action)
    served = await live_workers(helpline.redis, helpline.keys) > 0
    entry_id = await helpline.redis.xadd(helpline.keys.inbox, fields)
    result_key = helpline.keys.result(action.id)
    if served:
        reply = await helpline.redis.blpop([result_key], timeout=grace)
        if reply is not None:
            return _outcome(reply[1])
    # Applied with the entry's "done" marker, as a worker would: a worker that reads the entry later
    # skips it, and if the slow service applied it meanwhile, this changes nothing. The verdict is
    # written in the same transaction as the marker, so it is there once `handle` returns.
    await helpline.router.handle(entry_id, fields)
    verdict = await helpline.redis.lpop(result_key)
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
    data = await helpline.redis.hgetall(helpline.keys.case(number))
    return Case.from_hash(data) if data else None


async def case_details(helpline: Helpline, number: int) -> dict[str, Any] | None:
    """Everything about a case, as the JSON of `helpline case show --json`."""
    case = await load_case(helpline, number)
    if case is None:
        return None
    conversation_data = await helpline.redis.hgetall(helpline.keys.conversation(case.conversation))
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
        "times": {name: (value or None) for name, value in (
            ("created", case.created_at), ("queued", case.queued_at), ("claimed", case.claimed_at),
            ("first_response", case.first_response_at), ("resolved", case.resolved_at), ("closed", case.closed_at))},
        "transcript": transcript,
    }


async def queue_listing(helpline: Helpline, team: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """Waiting cases per team, first to be served first, as the JSON of `helpline queue --json`."""
    if team:
        teams = [team]
    else:
        teams = sorted(set(helpline.settings.teams) | set(await helpline.redis.smembers(helpline.keys.teams_seen)))
    now = time.time()
    listing: dict[str, list[dict[str, Any]]] = {}
    for name in teams:
        numbers = await helpline.redis.zrange(helpline.keys.queue(name), 0, -1)
        cases = []
        for position, number in enumerate(numbers, start=1):
            case = await load_case(helpline, int(number))
            if case is None:
                continue
            cases.append({"case": case.number, "position": position, "waiting_seconds": round(now - case.queued_at, 1),
                          "customer": case.customer_name, "channel": case.channel, "language": case.language,
                          "priority": case.priority, "reason": case.reason, "subject": case.subject})
        listing[name] = cases
    return listing


def format_duration(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600:02d}h"


class CoreDesk:
    """The DeskBackend the service gives an agents' desk channel."""

    def __init__(self, helpline: Helpline) -> None:
        self.helpline = helpline

    async def act(self, action: AgentAction, timeout: float = ACTION_TIMEOUT_SECONDS,
                  submitted: asyncio.Event | None = None) -> ActionResult:
        from channels.base import ActionResult  # channels.base brings aiohttp: only the service's desk gets here

        async with self.helpline.redis.pipeline(transaction=True) as pipe:
            if action.agent:
                pipe.hset(self.helpline.keys.agent(action.agent), "name", action.agent_name or action.agent)
                pipe.hsetnx(self.helpline.keys.agent(action.agent), "status", "available")
            pipe.xadd(self.helpline.keys.inbox, inbox_fields(action))
            await pipe.execute()
        if submitted is not None:
            submitted.set()
        reply = await self.helpline.redis.blpop([self.helpline.keys.result(action.id)], timeout=timeout)
        if reply is None:
            return ActionResult(False, f"no answer within {timeout:.0f}s; the action is queued and will be applied")
        outcome = json.loads(reply[1])
        return ActionResult(bool(outcome.get("ok")), str(outcome.get("message", "")))

    async def queue(self, team: str | None = None) -> dict[str, list[dict[str, Any]]]:
        return await queue_listing(self.helpline, team)

    async def case(self, number: int) -> dict[str, Any] | None:
        return await case_details(self.helpline, number)

    async def set_agent_status(self, agent: str, name: str, status: str) -> None:
        if status not in ("available", "away"):
            raise ValueError(f"unknown agent status {status!r}")
        await self.helpline.redis.hset(self.helpline.keys.agent(agent), mapping={"name": name, "status": status})
