"""What Helpline costs Redis: CPU and commands per message for each flow, bytes per conversation, case, event.

Usage: python bench/redis_cost.py [--conversations 2000] [--workers 2] [--appendonly] [--stream-node-max-bytes B]

A private redis-server (unix socket; no persistence unless --appendonly, so the figures are Redis's work and
not the disk's) and the real code paths in this process: customers' messages appended in their conversation's
lane the way a channel receiver does, `helpline`'s router workers (StreamWorker.run, lanes, batching, heartbeats) working
them off, the console channel's outbox sender delivering the answers, and agent actions submitted the way the
desk does (agent hash + XADD, the result popped). For N conversations, one after the other:

- `faq-new`: a FAQ question in a new conversation (answered outright);
- `faq-existing`: a second FAQ question in each of those conversations;
- `handoff`: a request for a person in each (a case opens and is queued);
- `claim`, `reply`, `resolve`: an agent claims each case, replies, resolves it (the survey goes out).

Each flow is split in stages, each measured alone with Redis's own counters before and after:
`receive` (the receiver's append, or the desk's submission and result), `route` (the router workers),
`send` (the outbox sender). It prints per message of the flow: Redis CPU (`INFO cpu` used_cpu_sys +
used_cpu_user), commands (`INFO commandstats`, the largest by name), and Redis memory (`INFO memory`
used_memory less the clients' buffers); then the bytes per key family (`MEMORY USAGE` on samples, with their TTL), the marginal
bytes per transcript line and per event, and the ceilings they imply: messages/s one Redis core carries
per flow, conversations per GB. CPU per message is the steady figure on a shared machine; wall clock is not.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script from anywhere without installing

from redis.asyncio import Redis  # noqa: E402
from redis.exceptions import ResponseError  # noqa: E402

from bench.load import faq_questions  # noqa: E402
from bot.app import Helpline  # noqa: E402
from bot.settings import Settings  # noqa: E402
from router.keys import INBOX_GROUP, OUTBOX_GROUP  # noqa: E402
from router.lanes import append as append_to_lane  # noqa: E402
from router.messages import ActionKind, AgentAction, InboundMessage, Sender, inbox_fields, new_id  # noqa: E402
from router.store import reply  # noqa: E402
from tests.redis_server import PrivateRedis  # noqa: E402

PREFIX = "hl:"
FAQ_TEXT = "How long does delivery take?"
SECOND_FAQ_TEXT = "can i still send it back after 3 weeks"
HANDOFF_TEXT = "I want to talk to a human"
REPLY_TEXT = "Hello, I am looking at your order now; it left our warehouse yesterday and arrives on Friday."
AGENT = ("maria", "Maria")
BUSY_SHARE = 0.7  # a Redis core run hotter than this has no room for bursts, reclaims and sweeps
SAMPLES_PER_FAMILY = 50
LONG_QUESTIONS = 200


# ------------------------------------------------------------------------------------------ parsing


def cpu_seconds(info: Mapping[str, Any]) -> float:
    """Redis's CPU time so far, main process (user + system), from a parsed `INFO cpu`."""
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


def data_memory(info: Mapping[str, Any]) -> int:
    """Bytes of Redis memory the data takes, from a parsed `INFO memory`: used_memory less the clients'
    buffers (each connection's query and output buffers: tens of KB, and a worker opens several)."""
    clients = int(info.get("mem_clients_normal", 0)) + int(info.get("mem_clients_slaves", 0))
    return int(info["used_memory"]) - clients


def command_calls(info: Mapping[str, Any]) -> dict[str, int]:
    """Calls per command from a parsed `INFO commandstats` (`cmdstat_xadd` → `xadd`; subcommands
    `cmdstat_client|setname` → `client|setname`)."""
    calls: dict[str, int] = {}
    for name, value in info.items():
        if name.startswith("cmdstat_") and isinstance(value, Mapping) and "calls" in value:
            calls[name.removeprefix("cmdstat_")] = int(value["calls"])
    return calls


def command_deltas(before: Mapping[str, int], after: Mapping[str, int],
                   skip: Iterable[str] = ("info",)) -> dict[str, int]:
    """Calls of each command between two `command_calls`, leaving out `skip` and those not called."""
    left_out = set(skip)
    return {name: calls - before.get(name, 0) for name, calls in after.items()
            if name not in left_out and calls > before.get(name, 0)}


_CASE_NUMBER = re.compile(r"^case:\d+$")
_SURVEY = re.compile(r"^survey:\d+:\d+$")
_PER_ID = ("done", "result", "case:by-msg", "console")  # `<family>:<one id>`
_PER_CHANNEL_ID = ("addr", "seen", "sent", "sending", "flood")  # `<family>:<channel>:<id>`


def key_family(key: str, prefix: str = PREFIX) -> str:
    """The family of a Helpline key with its ids replaced by `*`: `hl:conv:{abc}:log` → `conv:{*}:log`.

    Keys are built in router/keys.py; ids may hold anything (addresses are the platform's), so the family
    is told by the parts the code writes, never by the id's content. A key outside the prefix is `(other)`.
    """
    if not key.startswith(prefix):
        return "(other)"
    rest = key[len(prefix):]
    if rest.startswith("conv:{"):
        return "conv:{*}:log" if rest.endswith("}:log") else "conv:{*}"
    for stream in ("inbox", "outbox:"):
        if rest.startswith(stream) and ":lane:" in rest:
            return rest.split(":lane:", 1)[0] + ":lane:*"
    if _CASE_NUMBER.match(rest):
        return "case:*"
    if _SURVEY.match(rest):
        return "survey:*:*"
    for family in _PER_ID:
        if rest.startswith(family + ":"):
            return family + ":*"
    for family in _PER_CHANNEL_ID:
        if rest.startswith(family + ":"):
            channel = rest[len(family) + 1:].split(":", 1)[0]
            suffix = ":warned" if family == "flood" and rest.endswith(":warned") else ""
            return f"{family}:{channel}:*{suffix}"
    for family in ("agent", "queue", "waits"):
        if rest.startswith(family + ":"):
            return family + ":*"
    return rest


# ------------------------------------------------------------------------------------------ figures


@dataclass
class Cost:
    """What one stage of one flow cost Redis."""

    flow: str
    stage: str
    messages: int
    cpu: float
    memory: int
    commands: dict[str, int] = field(default_factory=dict)

    @property
    def cpu_us(self) -> float:
        return self.cpu * 1e6 / self.messages

    @property
    def commands_per_message(self) -> float:
        return sum(self.commands.values()) / self.messages

    @property
    def bytes_per_message(self) -> float:
        return self.memory / self.messages


class Bench:
    def __init__(self, url: str, conversations: int, workers: int) -> None:
        self.url = url
        self.count = conversations
        self.workers = workers
        settings = Settings.model_validate({
            "redis": {"url": url, "prefix": PREFIX},
            "faq": {"path": str(REPO / "config" / "faq")},
            "teams": {"support": {}, "billing": {}},
            "router": {"messages_path": str(REPO / "config" / "messages"), "workers": workers},
        })
        self.helpline = Helpline(settings, redis=Redis.from_url(url, decode_responses=True))
        self.control = Redis.from_url(url, decode_responses=True)  # the bench's own: between stages only
        self.keys = self.helpline.keys
        self.customers = [f"c{index}" for index in range(conversations)]
        self.cases: list[int] = []
        self.costs: list[Cost] = []
        self.snapshots: dict[str, dict[str, tuple[int, int]]] = {}  # after flow → family → (keys, bytes)
        self.dead_letters = 0
        self.events_after: dict[str, int] = {}  # hl:events length after each flow
        self.persistence = "no persistence"
        self.refused: dict[str, int] = {}  # agent actions the router refused, by flow and reason
        self.first_transcript = 0  # bytes of one transcript with its first two lines
        self.long_transcript = (0, 0)  # lines, bytes of one long transcript

    async def measured(self, flow: str, stage: str, messages: int, work: Callable[[], Awaitable[None]]) -> Cost:
        before_cpu = cpu_seconds(await self.control.info("cpu"))
        before_calls = command_calls(await self.control.info("commandstats"))
        before_memory = data_memory(await self.control.info("memory"))
        await work()
        after_cpu = cpu_seconds(await self.control.info("cpu"))
        after_calls = command_calls(await self.control.info("commandstats"))
        after_memory = data_memory(await self.control.info("memory"))
        # The two INFOs between the counters are the bench's: left out of the calls, a few µs in the CPU.
        cost = Cost(flow, stage, messages, after_cpu - before_cpu, after_memory - before_memory,
                    command_deltas(before_calls, after_calls, skip=("info",)))
        self.costs.append(cost)
        return cost

    # -- stages ----------------------------------------------------------------------------
    async def post(self, text: str) -> None:
        """One customer message per conversation, as a receiver appends it (a platform id: dedupe on)."""
        for customer in self.customers:
            message = InboundMessage(id=new_id(), channel="console", address=customer,
                                     sender=Sender(customer, customer.upper()), text=text,
                                     platform_id=new_id(), received_at=time.time())
            await append_to_lane(self.helpline.redis, self.keys.inbox, f"console:{customer}", inbox_fields(message))

    async def submit(self, kind: ActionKind, text: str = "") -> list[str]:
        """One agent action per case, as the desk submits it (bot/agent_desk.py DeskService.act)."""
        ids = []
        for number in self.cases:
            action = AgentAction(id=new_id(), kind=kind, case=number, agent=AGENT[0], agent_name=AGENT[1],
                                 text=text, at=time.time())
            async with self.helpline.redis.pipeline(transaction=True) as pipe:
                pipe.hset(self.keys.agent(action.agent), "name", action.agent_name)
                pipe.hsetnx(self.keys.agent(action.agent), "status", "available")
                pipe.xadd(self.keys.inbox, inbox_fields(action))
                await pipe.execute()
            ids.append(action.id)
        return ids

    async def take_results(self, flow: str, ids: list[str]) -> None:
        """The desk waits for each action's outcome (BLPOP): here all are there already."""
        for action_id in ids:
            popped = await reply(self.helpline.redis.blpop([self.keys.result(action_id)], timeout=1))
            outcome = json.loads(popped[1]) if popped else {"ok": False, "message": "no result"}
            if not outcome.get("ok"):
                key = f"{flow}: {str(outcome.get('message', ''))[:80]}"
                self.refused[key] = self.refused.get(key, 0) + 1

    async def work_off(self, workers: list[Any], entries: int) -> None:
        stop = asyncio.Event()
        tasks = [asyncio.create_task(worker.run(stop)) for worker in workers]
        deadline = time.monotonic() + 300
        # Counted in this process, not polled in Redis: the bench adds no commands to the stage.
        while sum(worker.processed for worker in workers) < entries:
            if time.monotonic() > deadline or any(task.done() for task in tasks):
                stop.set()
                await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 60)
                raise RuntimeError(f"only {sum(w.processed for w in workers)} of {entries} entries were handled")
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 60)

    async def unread(self, stream: str, group: str) -> int:
        """Entries of `stream` its `group` has not read yet (all of them before the group exists). Read
        between stages by the bench's own client: senders post delivery reports to the inbox, so what a
        stage has to work off is counted, not assumed."""
        try:
            groups = await self.control.xinfo_groups(stream)
        except ResponseError:
            return 0  # no stream yet
        last = next((str(found["last-delivered-id"]) for found in groups if found["name"] == group), "")
        if not last:
            return int(await self.control.xlen(stream))
        return len(await self.control.xrange(stream, min=f"({last}", max="+"))

    async def route(self, flow: str, stage: str = "route") -> None:
        """The router workers work off what waits in the inbox."""
        entries = await self.unread(self.keys.inbox, INBOX_GROUP)
        workers = self.helpline.router_workers(self.workers, tag=f"cost-{flow}-{stage}-", block_ms=200)
        await self.measured(flow, stage, self.count, lambda: self.work_off(workers, entries))

    async def send(self, flow: str) -> None:
        """The console sender sends what waits in its outbox; the router then works off the delivery
        reports it posted for agents' messages (stage `reports`), so each flow pays for its own."""
        outbound = await self.unread(self.keys.outbox("console"), OUTBOX_GROUP)
        sender = self.helpline.console_sender(block_ms=200)
        await self.measured(flow, "send", self.count, lambda: self.work_off([sender], outbound))
        # The terminals read their sessions' lists; a real channel has none: not counted as Helpline's memory.
        sessions = [key async for key in self.control.scan_iter(match=f"{PREFIX}console:*", count=1000)]
        for start in range(0, len(sessions), 500):
            await self.control.delete(*sessions[start:start + 500])
        if await self.unread(self.keys.inbox, INBOX_GROUP):
            await self.route(flow, "reports")

    async def customer_flow(self, flow: str, text: str) -> None:
        await self.measured(flow, "receive", self.count, lambda: self.post(text))
        await self.route(flow)
        await self.send(flow)
        await self.snapshot(flow)

    async def agent_flow(self, flow: str, kind: ActionKind, text: str = "") -> None:
        ids: list[str] = []

        async def submit() -> None:
            ids.extend(await self.submit(kind, text))

        await self.measured(flow, "receive", self.count, submit)
        await self.route(flow)
        await self.measured(flow, "receive", self.count, lambda: self.take_results(flow, ids))
        await self.send(flow)
        await self.snapshot(flow)

    async def find_cases(self) -> None:
        numbers = []
        for customer in self.customers:
            conversation = await self.control.get(self.keys.address("console", customer))
            case = await reply(self.control.hget(self.keys.conversation(str(conversation)), "case"))
            if not case:
                raise RuntimeError(f"no case opened for {customer}")
            numbers.append(int(case))
        self.cases = numbers

    # -- memory ----------------------------------------------------------------------------
    async def snapshot(self, after: str) -> None:
        """Keys and bytes per family: every key counted, MEMORY USAGE of up to SAMPLES_PER_FAMILY each,
        scaled to the family's count."""
        families: dict[str, list[str]] = {}
        async for key in self.control.scan_iter(match=f"{PREFIX}*", count=1000):
            families.setdefault(key_family(key), []).append(key)
        sizes: dict[str, tuple[int, int]] = {}
        for family, keys in families.items():
            sample = sorted(keys)[:: max(1, len(keys) // SAMPLES_PER_FAMILY)][:SAMPLES_PER_FAMILY]
            usage = [int(await self.control.memory_usage(key, samples=0) or 0) for key in sample]
            sizes[family] = (len(keys), int(statistics.fmean(usage) * len(keys)))
        self.snapshots[after] = sizes
        self.events_after[after] = int(await self.control.xlen(self.keys.events))

    async def ttls(self) -> dict[str, str]:
        """Each family's TTL as one of its keys has it now (`none`: kept until removed)."""
        found: dict[str, str] = {}
        async for key in self.control.scan_iter(match=f"{PREFIX}*", count=1000):
            family = key_family(key)
            if family not in found:
                ttl = int(await self.control.ttl(key))
                found[family] = "none" if ttl < 0 else f"{ttl / 86400:.1f} d" if ttl >= 86400 else f"{ttl} s"
        return found

    async def stream_entry_bytes(self, stream: str) -> tuple[int, float]:
        length = int(await self.control.xlen(stream))
        usage = int(await self.control.memory_usage(stream, samples=0) or 0)
        return length, usage / length if length else 0.0

    async def long_conversation(self) -> None:
        """One conversation asks LONG_QUESTIONS more FAQ questions, a minute apart by their received time
        (the flood limit counts by it), so the bytes a transcript line costs once nodes fill are seen."""
        customer = self.customers[0]
        texts = faq_questions()
        start = time.time() - 61 * LONG_QUESTIONS
        for index in range(LONG_QUESTIONS):
            message = InboundMessage(id=new_id(), channel="console", address=customer,
                                     sender=Sender(customer, customer.upper()), text=texts[index % len(texts)],
                                     platform_id=new_id(), received_at=start + 61 * index)
            await append_to_lane(self.helpline.redis, self.keys.inbox, f"console:{customer}", inbox_fields(message))
        workers = self.helpline.router_workers(1, tag="cost-long-", block_ms=200)
        await self.work_off(workers, await self.unread(self.keys.inbox, INBOX_GROUP))
        log = self.keys.transcript(str(await self.control.get(self.keys.address("console", customer))))
        self.long_transcript = (int(await self.control.xlen(log)),
                                int(await self.control.memory_usage(log, samples=0) or 0))

    async def run(self) -> None:
        self.helpline.knowledge_base  # noqa: B018 - loaded before anything is measured
        await self.customer_flow("faq-new", FAQ_TEXT)
        log = self.keys.transcript(str(await self.control.get(self.keys.address("console", self.customers[-1]))))
        self.first_transcript = int(await self.control.memory_usage(log, samples=0) or 0)
        await self.customer_flow("faq-existing", SECOND_FAQ_TEXT)
        await self.customer_flow("handoff", HANDOFF_TEXT)
        await self.find_cases()
        await self.agent_flow("claim", ActionKind.CLAIM)
        await self.agent_flow("reply", ActionKind.REPLY, REPLY_TEXT)
        await self.agent_flow("resolve", ActionKind.RESOLVE)
        await self.long_conversation()

    async def close(self) -> None:
        await self.helpline.close()
        await self.control.aclose()


# ------------------------------------------------------------------------------------------ report


def flow_totals(costs: list[Cost]) -> dict[str, Cost]:
    totals: dict[str, Cost] = {}
    for cost in costs:
        total = totals.setdefault(cost.flow, Cost(cost.flow, "all", cost.messages, 0.0, 0))
        total.cpu += cost.cpu
        total.memory += cost.memory
        for name, calls in cost.commands.items():
            total.commands[name] = total.commands.get(name, 0) + calls
    return totals


def ceiling(cpu_us: float) -> float:
    """Messages per second one Redis core carries at BUSY_SHARE busy."""
    return BUSY_SHARE * 1e6 / cpu_us if cpu_us > 0 else float("inf")


def report(bench: Bench, ttls: Mapping[str, str], streams: Mapping[str, tuple[int, float]]) -> None:
    n = bench.count
    print(f"\n{n} conversations, {bench.workers} router workers, private redis-server over a unix socket, "
          f"{bench.persistence} ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})")
    print("\nper message of the flow (receive: the receiver's append or the desk's submit + result; "
          "route: router workers; send: outbox sender; reports: router workers on the sender's delivery reports)")
    print(f"{'flow':>13} {'stage':>8} {'Redis CPU µs':>12} {'cmds':>6} {'memory B':>9}   top commands")
    totals = flow_totals(bench.costs)
    for flow, total in totals.items():
        stages: dict[str, Cost] = {}
        for cost in bench.costs:
            if cost.flow == flow:  # the agent flows measure `receive` twice (submit, result): summed
                merged = stages.setdefault(cost.stage, Cost(flow, cost.stage, cost.messages, 0.0, 0))
                merged.cpu += cost.cpu
                merged.memory += cost.memory
                for name, calls in cost.commands.items():
                    merged.commands[name] = merged.commands.get(name, 0) + calls
        for cost in [*stages.values(), total]:
            top = sorted(cost.commands.items(), key=lambda item: -item[1])[:6]
            print(f"{flow:>13} {cost.stage:>8} {cost.cpu_us:>12.0f} {cost.commands_per_message:>6.1f} "
                  f"{cost.bytes_per_message:>9.0f}   " + " ".join(f"{name}={calls / n:.1f}" for name, calls in top))
    print("\nevents written to hl:events per message: " + "  ".join(
        f"{flow} {(length - previous) / n:.1f}" for (flow, length), previous
        in zip(bench.events_after.items(), [0, *bench.events_after.values()])))
    print(f"\nceiling: messages/s one Redis core carries at {BUSY_SHARE:.0%} busy (whole path: receive+route+send)")
    for flow, total in totals.items():
        route = next(cost for cost in bench.costs if cost.flow == flow and cost.stage == "route")
        print(f"{flow:>13}: {ceiling(total.cpu_us):>7.0f}/s   (router workers' share alone: {ceiling(route.cpu_us):.0f}/s)")

    print(f"dead letters: {bench.dead_letters}")
    for reason, count in bench.refused.items():
        print(f"REFUSED or unanswered agent actions, {reason}: {count}")
    last = list(bench.snapshots)[-1]
    print(f"\nRedis memory by key family after `{last}` (MEMORY USAGE of up to {SAMPLES_PER_FAMILY} samples each, "
          "scaled; TTL as one key has it now)")
    print(f"{'family':>28} {'keys':>7} {'bytes each':>10} {'total KB':>9}  TTL")
    for family, (keys, size) in sorted(bench.snapshots[last].items(), key=lambda item: -item[1][1]):
        print(f"{family:>28} {keys:>7} {size / keys:>10.0f} {size / 1024:>9.0f}  {ttls.get(family, '?')}")
    for stream, (length, per_entry) in streams.items():
        print(f"{stream:>28}: {length} entries, {per_entry:.0f} B each (whole stream / length)")

    first = bench.snapshots["faq-new"]
    lines, usage = bench.long_transcript
    print(f"\none conversation's transcript after {LONG_QUESTIONS} more FAQ questions: {lines} lines, {usage} B, "
          f"{usage / lines:.0f} B a line (a stream's first node is allocated whole: "
          f"{bench.first_transcript} B with 2 lines)")
    conversation = sum(first[family][1] for family in ("conv:{*}", "conv:{*}:log", "addr:console:*", "conversations")
                       if family in first)
    print(f"\na conversation after one FAQ answer: {conversation / n:.0f} B kept until removed "
          f"(conv hash, transcript, addr, its member of the retention index); with the 14-day marks (done, seen, sent): "
          f"{sum(size for family, (_, size) in first.items() if family in ('done:*', 'seen:console:*', 'sent:console:*')) / n:.0f} B more")
    print("Redis data memory (used_memory less clients' buffers) growth per conversation, whole faq-new flow: "
          f"{totals['faq-new'].bytes_per_message:.0f} B")
    print(f"→ conversations per GB at one FAQ answer each, marks expired: {2**30 / (conversation / n):,.0f}")


async def main_async(conversations: int, workers: int, stream_node_max_bytes: int, appendonly: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="hl-rediscost-") as folder:
        with PrivateRedis(Path(folder) / "redis", durable=False) as server:
            bench = Bench(server.url, conversations, workers)
            if appendonly:  # as production runs it: every write also goes to the append-only file
                await bench.control.config_set("appendfsync", "everysec")
                await bench.control.config_set("appendonly", "yes")
                while int((await bench.control.info("persistence"))["aof_rewrite_in_progress"]):
                    await asyncio.sleep(0.05)
            bench.persistence = "appendonly yes, appendfsync everysec" if appendonly else "no persistence"
            if stream_node_max_bytes:
                await bench.control.config_set("stream-node-max-bytes", stream_node_max_bytes)
            try:
                await bench.run()
                ttls = await bench.ttls()
                bench.dead_letters = int(await bench.control.xlen(bench.keys.dead_letters))
                streams = {name: await bench.stream_entry_bytes(bench.keys.prefix + name)
                           for name in ("events", "inbox", "outbox:console")}
                report(bench, ttls, streams)
            finally:
                await bench.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--conversations", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2, help="router workers in this process (the default install's)")
    parser.add_argument("--stream-node-max-bytes", type=int, default=0,
                        help="set Redis's stream-node-max-bytes (default 4096): a new stream node is preallocated at "
                             "min(this, 4096) bytes")
    parser.add_argument("--appendonly", action="store_true", help="appendonly yes, appendfsync everysec (as in production)")
    args = parser.parse_args()
    asyncio.run(main_async(args.conversations, args.workers, args.stream_node_max_bytes, args.appendonly))


if __name__ == "__main__":
    main()
