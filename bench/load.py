"""Load figures through the whole path: customers on a loopback Telegram Bot API → `helpline run --workers N`
(the receiver in the parent, the router workers and the Telegram senders in N child processes) → a private
Redis → back.

Usage: python bench/load.py [--quick] [--processes 1 2] [--paths faq handoff mix] [--rates 100 500 1000]
                            [--seconds 10] [--burst 2000] [--profile FILE]

For the FAQ path (questions the bot answers outright, three per conversation), the handoff path (a new
conversation asking for a person: a case opens) and a mix (greetings, FAQ questions, thanks, unclear
messages, requests for a person, complaints), with 1 and 2 worker processes, it prints:
- throughput: a burst of messages all at once, answered per second from the first push to the last answer;
- latency at fixed offered loads, paced (not all at once), from the push to the answer reaching the peer;
- CPU time per message of the worker processes (routing and sending) and of the parent (receiving),
  from /proc/<pid>/stat before and after;
- Redis commands per message (INFO commandstats: every command is one round trip unless pipelined,
  so this is an upper bound of round trips), with the largest per command;
- RSS of a worker process; start to the first message answered; `helpline queue` wall and CPU time.
With --profile FILE one more worker process (routing and sending, as the children of `helpline run --workers N`)
runs under cProfile (from the moment it is ready, so start-up is left out) beside the service's during a FAQ
burst; its top functions print. Its clock is the event loop thread's CPU time (time.thread_time): what holds
up the loop, unmoved by other processes on a shared machine; work in other threads (matching) is left out.
The machine may be shared: CPU per message is the steady figure, wall-clock rates swing.

RSS is shown for the parent too, and split: anon is the process's own, file the pages of mapped files (the
libraries, the sentence model, the word vectors), shared by every process that maps them. Start to the first
answer also says the CPU time it took. `--rates` with no value leaves the paced loads out (with `--burst 60`:
a quick look at start-up, memory and `helpline queue`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import heapq
import math
import os
import pstats
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script from anywhere without installing

import redis as sync_redis  # noqa: E402
import yaml  # noqa: E402

from tests.faults.harness import stop_process  # noqa: E402
from tests.redis_server import PrivateRedis  # noqa: E402
from tests.telegram.fake_bot_api import TOKEN, FakeBotApi, text_update  # noqa: E402

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PREFIX = "hl:"
FAQ = REPO / "config" / "faq"
HANDOFF = "I want to talk to a human"


def faq_questions(folder: Path = FAQ) -> list[str]:
    """The first English question of every shipped FAQ entry: each is answered outright."""
    questions = []
    for path in sorted(folder.glob("*.yaml")):
        for entry in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("entries", []):
            english = (entry.get("questions") or {}).get("en") or []
            if english:
                questions.append(str(english[0]))
    return questions


def scripts(path: str, questions: Sequence[str]) -> list[list[str]]:
    """What the conversations of one path say, one list per conversation (cycled)."""
    q = list(questions)
    if path == "faq":
        return [[q[i % len(q)], q[(i + 7) % len(q)], q[(i + 13) % len(q)]] for i in range(len(q))]
    if path == "handoff":
        return [[HANDOFF]]
    return [  # mix: the bot answers most, some are unsure or want a person
        ["Hello", q[0], "thanks"],
        [q[3], q[11]],
        ["the thing with the blue sticker does not do what it said", HANDOFF],
        [q[5], HANDOFF],
        ["my parcel arrived broken and the box was wet"],
        [q[8], "thank you, bye"],
    ]


class BenchBotApi(FakeBotApi):
    """The loopback Bot API that tells the bench when a message reaches a chat.

    Telegram answers in a private chat carry no reference to the customer's message, so the bench keeps one
    message per chat outstanding (a customer waits for the answer before writing again): the first answer
    to reach the chat after a message was sent is that message's answer.
    """

    def __init__(self) -> None:
        super().__init__()
        self.on_reply: Callable[[int, float], None] = lambda chat, at: None
        self.replies = 0

    async def _sendMessage(self, params: dict[str, Any]) -> Any:
        response = await super()._sendMessage(params)
        if params.get("ok") and isinstance(params.get("chat_id"), int):
            self.replies += 1
            self.on_reply(params["chat_id"], time.monotonic())
        return response

    async def _api(self, request: Any) -> Any:
        response = await super()._api(request)
        if len(self.calls) > 1000:  # the base class keeps every call: bounded here, the figures need none
            del self.calls[:-100]
        return response


# ------------------------------------------------------------------------------------------ processes


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """A process's resident memory in MB: VmRSS, or one of its parts (RssAnon: private, RssFile: pages of
    mapped files such as the libraries and the sentence model, shared with every process mapping them)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return 0.0


def rss_text(pid: int) -> str:
    return f"{rss_mb(pid):.0f} MB (anon {rss_mb(pid, 'RssAnon'):.0f}, file {rss_mb(pid, 'RssFile'):.0f})"


def write_config(folder: Path, redis_url: str, peer_url: str) -> Path:
    config = {
        "redis": {"url": redis_url, "prefix": PREFIX},
        "languages": ["en", "el", "lv", "hu"],
        "faq": {"path": str(FAQ), "reload_seconds": 60},
        "teams": {"support": {"name": "Support"}, "billing": {"name": "Billing"}},
        "router": {"messages_path": str(REPO / "config" / "messages"), "workers": 2},
        "channels": {"console": {"enabled": False},
                     "telegram": {"enabled": True, "token": TOKEN, "api_base_url": peer_url, "poll_timeout": 1,
                                  "chat_interval": 0, "group_interval": 0, "global_rate": 100000,
                                  "stop_grace_seconds": 2}},
        "http": {"enabled": False},
        "logging": {"level": "WARNING"},
    }
    path = folder / "helpline.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def helpline_command(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "bot.cli", *args, "--config", str(config)]


async def spawn(command: list[str], log: Path) -> asyncio.subprocess.Process:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with open(log, "ab") as output:
        return await asyncio.create_subprocess_exec(*command, cwd=REPO, env=env, stdin=asyncio.subprocess.DEVNULL,
                                                    stdout=output, stderr=output)




def worker_pids(client: sync_redis.Redis) -> set[int]:
    """The pids in the router workers' heartbeats (names are host:pid:tag)."""
    names: list[str] = client.zrange(f"{PREFIX}workers", 0, -1)  # type: ignore[assignment]  # a sync client
    return {int(name.split(":")[-2]) for name in names}


async def wait_for(condition: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out: {what}")
        await asyncio.sleep(0.05)


# ------------------------------------------------------------------------------------------ figures


@dataclass
class Load:
    """One measured stretch: what was sent, what came back, what it cost."""

    path: str
    offered: str
    sent: int
    answered: int
    seconds: float
    latencies: list[float]
    worker_cpu: float
    front_cpu: float
    commands: dict[str, int] = field(default_factory=dict)
    saturated: bool = False  # the paced load stopped early: more than MAX_OUTSTANDING waited for an answer

    def quantile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * q))]

    @property
    def per_second(self) -> float:
        return self.answered / self.seconds if self.seconds else 0.0

    def commands_per_message(self) -> float:
        return sum(self.commands.values()) / max(1, self.sent)


MAX_OUTSTANDING = 500  # messages waiting for their answers at which a paced load counts as saturated
THINK_SECONDS = 0.5  # a customer reads the answer before writing again


class Conversations:
    """The customers of one load: each follows its script, one message outstanding at a time."""

    def __init__(self, plan: list[list[str]], new_chat: Callable[[], int]) -> None:
        self.plan = plan
        self.new_chat = new_chat
        self.started = 0
        self.sent = 0
        self.waiting: dict[int, tuple[float, list[str], int]] = {}  # chat → (sent at, script, step)
        self.scripts: dict[int, tuple[list[str], int]] = {}  # chat → (script, step) of its next message
        self.ready: list[tuple[float, int]] = []  # heap of (when the next message may go, chat)
        self.latencies: list[float] = []
        self.last_answer = 0.0
        self.last_change = time.monotonic()

    def replied(self, chat: int, at: float) -> None:
        waiting = self.waiting.get(chat)
        self.last_change = at
        if waiting is None or at <= waiting[0]:
            return  # a second message of the same answer, or one of an earlier load
        sent_at, script, step = self.waiting.pop(chat)
        self.latencies.append(at - sent_at)
        self.last_answer = max(self.last_answer, at)
        if step + 1 < len(script):
            self.scripts[chat] = (script, step + 1)
            heapq.heappush(self.ready, (at + THINK_SECONDS, chat))

    def _fresh(self) -> tuple[int, str]:
        script = self.plan[self.started % len(self.plan)]
        self.started += 1
        chat = self.new_chat()
        self.scripts[chat] = (script, 0)
        return chat, script[0]

    def next_message(self, now: float) -> tuple[int, str]:
        """A follow-up whose customer has read the answer, else a new conversation."""
        if self.ready and self.ready[0][0] <= now:
            _, chat = heapq.heappop(self.ready)
            script, step = self.scripts[chat]
            return chat, script[step]
        return self._fresh()

    def next_round(self, limit: int) -> list[tuple[int, str]]:
        """Every answered conversation's next message; when none is left, enough new conversations for `limit`."""
        due: list[tuple[int, str]] = []
        while self.ready and len(due) < limit:
            _, chat = heapq.heappop(self.ready)
            script, step = self.scripts[chat]
            due.append((chat, script[step]))
        if not due:
            average = sum(len(script) for script in self.plan) / len(self.plan)
            due = [self._fresh() for _ in range(min(limit, max(1, math.ceil(limit / average))))]
        return due

    def pushed(self, messages: list[tuple[int, str]], at: float) -> None:
        for chat, _ in messages:
            script, step = self.scripts.pop(chat)
            self.waiting[chat] = (at, script, step)
        self.sent += len(messages)
        self.last_change = time.monotonic()

    async def settled(self, seconds: float) -> None:
        """Until every message is answered, or nothing reached the peer for 3 s (some get no answer), or `seconds`."""
        deadline = time.monotonic() + seconds
        while self.waiting and time.monotonic() < deadline and time.monotonic() - self.last_change < 3.0:
            await asyncio.sleep(0.02)
        self.waiting.clear()  # unanswered: a late answer must not count for the next message


class Bench:
    """One installation under test: private Redis, loopback Bot API, `helpline run --workers N`."""

    def __init__(self, folder: Path, processes: int, questions: Sequence[str]) -> None:
        self.folder = folder
        self.processes = processes
        self.questions = questions
        self.redis = PrivateRedis(folder / "redis", durable=False)
        self.peer = BenchBotApi()
        self.front: asyncio.subprocess.Process | None = None
        self.extra: list[asyncio.subprocess.Process] = []
        self.client: sync_redis.Redis | None = None
        self.next_update = 1
        self.next_chat = 100_000

    async def __aenter__(self) -> Bench:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.redis.start()
        self.client = sync_redis.Redis(unix_socket_path=self.redis.socket, decode_responses=True)
        await self.peer.start()
        self.config = write_config(self.folder, self.redis.url, self.peer.url)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for process in [*self.extra, *([self.front] if self.front else [])]:
            await stop_process(process)
        if self.client is not None:
            self.client.close()
        self.redis.stop()
        await self.peer.close()

    async def start_front(self) -> None:
        self.front = await spawn(helpline_command(self.config, "run", "--workers", str(self.processes)),
                                 self.folder / "helpline.log")
        await wait_for(lambda: len(self.workers()) >= self.processes, 120, "worker processes up")
        await wait_for(lambda: self.peer.calls_of("getUpdates") or self.peer.confirmed_offset, 60, "receiver up")

    def workers(self) -> set[int]:
        assert self.client is not None
        front = self.front.pid if self.front else -1
        return {pid for pid in worker_pids(self.client) if pid != front}

    def cpu(self, pids: set[int]) -> float:
        return sum(cpu_seconds(pid) for pid in pids)

    def commandstats(self) -> dict[str, int]:
        assert self.client is not None
        stats: dict[str, dict[str, Any]] = self.client.info("commandstats")  # type: ignore[assignment]
        return {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}

    async def drive(self, path: str, count: int, rate: float | None, settle: float) -> Load:
        """Send `count` messages of `path`'s conversations, paced at `rate` a second (or in rounds all at once:
        every conversation's next message together), and wait for the answers."""
        conversation = Conversations(scripts(path, self.questions), self.new_chat)
        self.peer.on_reply = conversation.replied
        workers = self.workers()
        front = {self.front.pid} if self.front else set()
        cpu_before, front_before, stats_before = self.cpu(workers), self.cpu(front), self.commandstats()
        saturated = False
        busy = 0.0  # seconds from a round's (or the paced run's) first push to its last answer
        if rate is None:
            while conversation.sent < count:
                began = time.monotonic()
                due = conversation.next_round(count - conversation.sent)
                await self.peer.push(*(self.update(chat, text) for chat, text in due))
                conversation.pushed(due, began)
                await conversation.settled(settle)
                busy += max(conversation.last_answer, began) - began
                await asyncio.sleep(0.3)  # follow-ups of the answers (e.g. "did this help?") arrive before the next
        else:
            began = next_at = time.monotonic()
            while conversation.sent < count:
                if len(conversation.waiting) > MAX_OUTSTANDING:
                    saturated = True  # far behind already: more would only lengthen the drain
                    break
                chat, text = conversation.next_message(time.monotonic())
                await self.peer.push(self.update(chat, text))
                conversation.pushed([(chat, text)], time.monotonic())
                next_at += 1.0 / rate
                delay = next_at - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            await conversation.settled(settle)
            busy = max(conversation.last_answer, began) - began
        await self.idle(settle)  # what is left of this load must not queue before the next one
        stats_after = self.commandstats()
        commands = {name: calls - stats_before.get(name, 0) for name, calls in stats_after.items()
                    if name != "info" and calls - stats_before.get(name, 0) > 0}
        return Load(path, "burst" if rate is None else f"{rate:g}/s", conversation.sent, len(conversation.latencies),
                    busy, conversation.latencies, self.cpu(workers) - cpu_before, self.cpu(front) - front_before,
                    commands, saturated)

    async def idle(self, seconds: float) -> None:
        """Until the inbox and the outbox hold nothing unread or unacknowledged (at most `seconds`)."""
        assert self.client is not None
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            groups: list[dict[str, Any]] = []
            for stream in (f"{PREFIX}inbox", f"{PREFIX}outbox:telegram"):
                with contextlib.suppress(sync_redis.ResponseError):
                    groups += self.client.xinfo_groups(stream)  # type: ignore[arg-type]
            if all(group["pending"] == 0 and not group.get("lag") for group in groups):
                return
            await asyncio.sleep(0.1)

    def update(self, chat: int, text: str) -> dict[str, Any]:
        update_id = self.next_update
        self.next_update += 1
        return text_update(update_id, text, chat_id=chat, message_id=update_id)

    def new_chat(self) -> int:
        self.next_chat += 1
        return self.next_chat


# ------------------------------------------------------------------------------------------ the run


def ms(seconds: float) -> str:
    return "—" if seconds != seconds else f"{seconds * 1000:.0f}"


def print_loads(title: str, loads: list[tuple[int, Load]]) -> None:
    print(f"\n### {title}\n")
    print("| processes | path | offered | sent | answered | answered/s | p50 ms | p99 ms | max ms "
          "| worker CPU ms/msg | parent CPU ms/msg | Redis commands/msg |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for processes, load in loads:
        offered = f"{load.offered} (saturated)" if load.saturated else load.offered
        print(f"| {processes} | {load.path} | {offered} | {load.sent} | {load.answered} | {load.per_second:.0f} "
              f"| {ms(load.quantile(0.5))} | {ms(load.quantile(0.99))} | {ms(max(load.latencies, default=float('nan')))} "
              f"| {load.worker_cpu * 1000 / max(1, load.sent):.2f} | {load.front_cpu * 1000 / max(1, load.sent):.2f} "
              f"| {load.commands_per_message():.1f} |")


def print_commands(loads: list[tuple[int, Load]]) -> None:
    print("\n### Redis commands per message (burst, 1 process), largest first\n")
    for processes, load in loads:
        if processes != min(p for p, _ in loads) or load.offered != "burst":
            continue
        parts = sorted(load.commands.items(), key=lambda item: -item[1])
        print(f"- {load.path}: " + ", ".join(f"{name} {calls / max(1, load.sent):.2f}" for name, calls in parts[:14]))


async def start_to_first_answer(folder: Path, questions: Sequence[str]) -> tuple[float, float, float, float]:
    """`helpline run` (one process) started with a question waiting: seconds to its answer, wall and the
    process's CPU (the steady figure on a shared machine); and `helpline queue`, wall and CPU."""
    async with Bench(folder, 1, questions) as bench:
        answers: list[tuple[float, float]] = []

        def answered(chat: int, at: float) -> None:
            if not answers and bench.front is not None:
                answers.append((at, cpu_seconds(bench.front.pid)))

        bench.peer.on_reply = answered
        await bench.peer.push(text_update(1, questions[0], chat_id=4242, message_id=1))
        began = time.monotonic()
        bench.front = await spawn(helpline_command(bench.config, "run"), folder / "helpline.log")
        await wait_for(lambda: answers, 120, "the first answer")
        first, first_cpu = answers[0][0] - began, answers[0][1]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        began = time.monotonic()
        queue = await spawn(helpline_command(bench.config, "queue"), folder / "queue.log")
        await queue.wait()
        wall = time.monotonic() - began
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return first, first_cpu, wall, cpu


async def profile_worker(folder: Path, questions: Sequence[str], count: int, output: Path) -> None:
    """One `helpline worker` under cProfile beside the service's own worker process, during a FAQ burst."""
    async with Bench(folder, 1, questions) as bench:
        await bench.start_front()
        profiled = await spawn([sys.executable, str(Path(__file__).resolve()), "--as-worker", str(bench.config),
                                "--profile", str(output)], folder / "profiled.log")
        bench.extra.append(profiled)
        await wait_for(lambda: profiled.pid in bench.workers(), 120, "the profiled worker up")
        await bench.drive("faq", 30, None, 30)  # warm
        await bench.drive("faq", count, None, 120)
        await stop_process(profiled)  # cProfile writes the file as the worker exits
    for sort in ("cumulative", "tottime"):
        print(f"\n### cProfile of one worker process, FAQ burst, top 25 by {sort}\n\n```")
        stats = pstats.Stats(str(output), stream=sys.stdout)
        stats.strip_dirs().sort_stats(sort).print_stats(25)
        print("```")


async def profiled_worker(config: Path, output: Path) -> int:
    """`helpline worker --role all` profiled from the moment it is ready (its start-up is another figure): the stats go
    to `output` when it stops on SIGTERM."""
    from bot.app import serve_workers
    from bot.settings import load_settings

    ready = asyncio.Event()
    profiler = cProfile.Profile(time.thread_time)
    service = asyncio.create_task(serve_workers(load_settings(str(config)), ready, role="all", sending_processes=2))
    await ready.wait()
    profiler.enable()
    try:
        await service
    finally:
        profiler.disable()
        profiler.dump_stats(str(output))
    return 0


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run: 2 s per load, 300-message bursts")
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--paths", nargs="+", default=["faq", "handoff", "mix"], choices=["faq", "handoff", "mix"])
    parser.add_argument("--rates", type=float, nargs="*", default=[100, 500, 1000])
    parser.add_argument("--seconds", type=float, help="length of each paced load (default 10, quick 2; at most 20)")
    parser.add_argument("--burst", type=int, help="messages of a throughput burst (default 2000, quick 300)")
    parser.add_argument("--profile", type=Path, metavar="FILE", help="also profile one worker process (FAQ burst)")
    parser.add_argument("--folder", type=Path, help="keep logs here (default: a temporary folder)")
    parser.add_argument("--as-worker", type=Path, metavar="CONFIG", help=argparse.SUPPRESS)  # the profiled worker
    args = parser.parse_args()
    if args.as_worker:
        return await profiled_worker(args.as_worker, args.profile)
    seconds = min(20.0, args.seconds or (2.0 if args.quick else 10.0))
    burst = args.burst or (300 if args.quick else 2000)
    settle = 20.0 if args.quick else 60.0
    questions = faq_questions()
    say = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    bursts: list[tuple[int, Load]] = []
    paced: list[tuple[int, Load]] = []
    rss: dict[int, list[str]] = {}  # processes → the workers' RSS, then the parent's
    with tempfile.TemporaryDirectory(prefix="helpline-load-") as temporary:
        folder = args.folder or Path(temporary)
        for processes in args.processes:
            async with Bench(folder / f"p{processes}", processes, questions) as bench:
                await bench.start_front()
                say(f"{processes} worker processes up")
                await bench.drive("faq", 60, None, settle)  # warm: first matches, connections
                for path in args.paths:
                    load = await bench.drive(path, burst, None, settle)
                    bursts.append((processes, load))
                    say(f"{processes}p {path} burst: {load.answered}/{load.sent} in {load.seconds:.1f}s")
                    for rate in args.rates:
                        load = await bench.drive(path, int(rate * seconds), rate, settle)
                        paced.append((processes, load))
                        say(f"{processes}p {path} {rate:g}/s: p99 {ms(load.quantile(0.99))} ms, "
                            f"{load.answered}/{load.sent}")
                assert bench.front is not None
                rss[processes] = [*(rss_text(pid) for pid in sorted(bench.workers())), rss_text(bench.front.pid)]
        first, first_cpu, queue_wall, queue_cpu = await start_to_first_answer(folder / "start", questions)
        print(f"# bench/load.py{' --quick' if args.quick else ''}: {seconds:g} s per paced load, bursts of {burst}, "
              f"{os.cpu_count()} CPUs")
        print_loads("Throughput: a burst all at once", bursts)
        print_loads("Latency at fixed offered loads (paced)", paced)
        print_commands(bursts)
        print("\n### Other figures\n")
        print("| figure | value |\n|---|---|")
        for processes, sizes in rss.items():
            print(f"| RSS of a worker process ({processes} processes) | {', '.join(sizes[:-1])} |")
            print(f"| RSS of the parent (`helpline run --workers {processes}`) | {sizes[-1]} |")
        print(f"| start to first message answered (`helpline run`, one process) | {first:.2f} s wall, {first_cpu:.2f} s CPU |")
        print(f"| `helpline queue` | {queue_wall:.2f} s wall, {queue_cpu:.2f} s CPU |")
        print("\n(answered: messages whose own answer reached the peer; some mix messages, e.g. a thank-you, may get"
              f" none. saturated: more than {MAX_OUTSTANDING} messages waited, so the paced load stopped early."
              " Redis commands include the receiver's, the sender's and the heartbeats.)")
        if args.profile:
            await profile_worker(folder / "profile", questions, burst, args.profile)
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(asyncio.run(main()))
