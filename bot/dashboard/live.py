"""The live state the dashboard shows beside the report: each team's queue with wait times, and the
agents with the cases they hold. Read from the queues (`hl:queue:<team>`) and the case hashes.

The router keeps no index of assigned cases, so they are found by reading the `status` of the most
recent `scan_cases` cases (pipelined pages); a case held longer than that many cases ago is missed
and `truncated` says so.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from redis.asyncio import Redis

from router.keys import FIRST_CASE_NUMBER, Keys
from router.sla import SlaRules
from router.store import Case, CaseStatus

MAX_LISTED_PER_TEAM = 100  # a queue longer than this is counted in full but listed only this far
SCAN_PAGE = 500
DEFAULT_SCAN_CASES = 20_000
MAX_TEXT_CHARS = 200  # customer names and subjects are cut to this for the dashboard


@dataclass(frozen=True, slots=True)
class WaitingCase:
    case: int
    position: int
    waiting_seconds: float
    priority: int
    customer: str
    channel: str
    language: str
    reason: str
    subject: str
    # The first-response SLA: {state: ok | near_breach | breached, target_seconds, left_seconds, paused};
    # None when the team has no SLA (or an agent already answered, as for a released case).
    sla: dict[str, object] | None = None


@dataclass(frozen=True, slots=True)
class TeamQueue:
    team: str
    waiting: int
    oldest_wait_seconds: float | None
    cases: list[WaitingCase] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class HeldCase:
    case: int
    team: str
    held_seconds: float  # since the agent claimed it
    answered: bool  # the customer has had a first agent message
    customer: str
    channel: str
    subject: str


@dataclass(frozen=True, slots=True)
class AgentState:
    agent: str
    name: str
    status: str  # available, away, ... as the agent set it; "" when unknown
    cases: list[HeldCase] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class LiveState:
    at: float
    queues: list[TeamQueue]
    agents: list[AgentState]
    truncated: bool  # older cases than the scanned ones were not looked at for agents

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


async def live_state(redis: Redis, keys: Keys, teams: Iterable[str], *, team: str | None = None,
                     now: float | None = None, scan_cases: int = DEFAULT_SCAN_CASES,
                     sla: SlaRules | None = None) -> LiveState:
    """The queues of `teams` (and any team that ever had a queue) and the agents' open cases; only
    `team`'s when given. Each waiting case carries its SLA state by `sla`'s policies."""
    sla = sla or SlaRules()
    now = time.time() if now is None else now
    if team is not None:
        names = [team]
    else:
        names = sorted(set(teams) | set(await redis.smembers(keys.teams_seen)))  # type: ignore[misc]
    async with redis.pipeline(transaction=False) as pipe:
        for name in names:
            pipe.zcard(keys.queue(name))
            pipe.zrange(keys.queue(name), 0, MAX_LISTED_PER_TEAM - 1)
        answers = await pipe.execute()
    counts: list[int] = answers[0::2]
    listed: list[list[str]] = answers[1::2]
    cases = await _load(redis, keys, [int(n) for numbers in listed for n in numbers if n.isdigit()])
    queues = []
    for name, count, numbers in zip(names, counts, listed):
        waiting = [cases[int(n)] for n in numbers if n.isdigit() and int(n) in cases]
        rows = [WaitingCase(case.number, position, round(max(now - case.queued_at, 0.0), 1), case.priority,
                            _cut(case.customer_name), case.channel, case.language, case.reason, _cut(case.subject),
                            _sla_json(sla, case, now))
                for position, case in enumerate(waiting, start=1)]
        # The head of the queue is served first, not always the one waiting longest (priority first).
        oldest = max((row.waiting_seconds for row in rows), default=None)
        queues.append(TeamQueue(name, int(count), oldest, rows))
    agents, truncated = await _agents(redis, keys, team, now, scan_cases)
    return LiveState(now, queues, agents, truncated)


async def _agents(redis: Redis, keys: Keys, team: str | None, now: float,
                  scan_cases: int) -> tuple[list[AgentState], bool]:
    last = int(await redis.get(keys.case_counter) or FIRST_CASE_NUMBER - 1)
    first = max(FIRST_CASE_NUMBER, last - scan_cases + 1)
    held: list[int] = []
    for start in range(first, last + 1, SCAN_PAGE):
        page = range(start, min(start + SCAN_PAGE, last + 1))
        async with redis.pipeline(transaction=False) as pipe:
            for number in page:
                pipe.hget(keys.case(number), "status")
            statuses: list[str | None] = await pipe.execute()
        held += [number for number, status in zip(page, statuses) if status == CaseStatus.ASSIGNED]
    cases = await _load(redis, keys, held)
    by_agent: dict[str, list[Case]] = {}
    for case in cases.values():
        if case.status == CaseStatus.ASSIGNED and case.agent and (team is None or case.team == team):
            by_agent.setdefault(case.agent, []).append(case)
    async with redis.pipeline(transaction=False) as pipe:
        for agent in by_agent:
            pipe.hmget(keys.agent(agent), ["name", "status"])
        profiles: list[list[str | None]] = await pipe.execute()
    agents = []
    for (agent, mine), (name, status) in zip(by_agent.items(), profiles):
        mine.sort(key=lambda case: case.claimed_at)
        rows = [HeldCase(case.number, case.team, round(max(now - case.claimed_at, 0.0), 1),
                         case.first_response_at > 0, _cut(case.customer_name), case.channel, _cut(case.subject))
                for case in mine]
        agents.append(AgentState(agent, _cut(name or mine[0].agent_name or agent), status or "", rows))
    agents.sort(key=lambda state: (-len(state.cases), state.name))
    return agents, first > FIRST_CASE_NUMBER


async def _load(redis: Redis, keys: Keys, numbers: list[int]) -> dict[int, Case]:
    async with redis.pipeline(transaction=False) as pipe:
        for number in numbers:
            pipe.hgetall(keys.case(number))
        hashes: list[dict[str, str]] = await pipe.execute()
    loaded = {}
    for number, data in zip(numbers, hashes):
        if data:
            try:
                loaded[number] = Case.from_hash(data)
            except (ValueError, TypeError):
                continue  # a hash half-written by hand: the dashboard shows the rest
    return loaded


def _sla_json(rules: SlaRules, case: Case, now: float) -> dict[str, object] | None:
    status = rules.status(case, now)
    return None if status is None else status.to_json()


def _cut(text: str) -> str:
    return text if len(text) <= MAX_TEXT_CHARS else text[:MAX_TEXT_CHARS - 1] + "…"
