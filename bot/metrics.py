"""`GET /metrics` with the official prometheus-client: figures read from Redis at scrape time.

Shared figures (queues, cases by state, counters and histograms of `hl:metrics`, streams) are the
same whichever process is scraped: every process reads them from the one Redis. Figures of this
process only say so in their help (entries it handled, the knowledge base it serves, its channels).
A scrape costs SMEMBERS, one pipeline of 3 commands per team plus 5, and XPENDING; with 5 teams and a
1,000-field hash (more label sets than an installation has) `bench/metrics_scrape.py` measured a
median of 5-9 ms for the Redis read and 35-42 ms for the whole scrape on a busy 2-core machine,
most of it prometheus_client's text rendering; nothing is kept between scrapes.

Why Redis and not prometheus-client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR): that mode shares
figures through files in one directory, so it sums only the processes of one machine, and only the
children of the process scraped. `helpline worker` runs on any machine against the one Redis, and
`helpline run --workers N` restarts children whose files would need `mark_process_dead`; a counter in
Redis is counted once whichever process, child or machine did the work, and survives restarts. Each
event's increments commit with the event (router/metrics.py); entries handled are added by each
worker once per heartbeat (router/worker.py). Only what is truly a process's own (the knowledge base
it loaded, its channels' reachability) is read from this process, and its help says so.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from redis.exceptions import RedisError

from router.keys import INBOX_GROUP, Keys
from router.metrics import HISTOGRAMS, Sample, parse_field
from router.store import HIGH_PRIORITY, NORMAL_PRIORITY, PRIORITY_WEIGHT_MS
from router.worker import WORKER_ALIVE_SECONDS

if TYPE_CHECKING:
    from bot.app import Helpline

COUNTERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "helpline_messages_total": ("Customer messages received (in) and delivered (out), by channel.",
                                ("channel", "direction")),
    "helpline_faq_decisions_total": ("What the FAQ matcher decided for a question.", ("decision",)),
    "helpline_case_events_total": ("Case transitions and SLA events, by event name.", ("event",)),
    "helpline_csat_answers_total": ("CSAT answers (1-5), by score.", ("score",)),
    "helpline_nps_answers_total": ("NPS answers (0-10), by score.", ("score",)),
    "helpline_ces_answers_total": ("Customer Effort answers (1-7), by score.", ("score",)),
    "helpline_delivery_failures_total": ("Messages that could not be delivered, by channel.", ("channel",)),
    "helpline_entries_processed_total": ("Stream entries handled by every worker of the installation, by stream "
                                         "(inbox, outbox:<channel>, desk).", ("stream",)),
}
HISTOGRAM_HELP = {
    "helpline_first_response_seconds": "From a case's opening to its first agent reply (wall clock).",
    "helpline_resolution_seconds": "From a case's opening to its resolution (wall clock).",
}


@dataclass
class Snapshot:
    """What one scrape read: shared figures from Redis (None when Redis did not answer) and this process's."""

    up: bool
    queues: dict[str, tuple[int, float | None]] = field(default_factory=dict)  # team -> (length, oldest wait)
    inbox_length: int = 0
    inbox_pending: int = 0
    dead_letters: int = 0
    resolved: int = 0  # cases resolved and not yet rated or closed (hl:resolved)
    stored: dict[str, str] = field(default_factory=dict)  # the hl:metrics hash
    faq_entries: int = 0
    faq_reload_problems: int = 0
    workers: int = 0  # router workers with a recent heartbeat, in any process on any machine
    channels: dict[str, bool] = field(default_factory=dict)  # channel -> reachable (this process's receivers)


def _oldest_queued_at(bands: Sequence[Sequence[tuple[str, float]]]) -> float | None:
    """The earliest queued_at among each priority band's first member (score = queued_at*1000 - p*W)."""
    times = []
    for priority, first in zip((HIGH_PRIORITY, NORMAL_PRIORITY), bands):
        for _, score in first:
            times.append((float(score) + priority * PRIORITY_WEIGHT_MS) / 1000.0)
    return min(times) if times else None


async def read_snapshot(redis: Any, keys: Keys, teams: Sequence[str], now: float | None = None) -> Snapshot:
    """The shared figures, in one pipeline (and XPENDING, which fails before the group exists)."""
    now = time.time() if now is None else now
    try:
        seen = await redis.smembers(keys.teams_seen)
        all_teams = sorted(set(teams) | set(seen))
        async with redis.pipeline(transaction=False) as pipe:
            for team in all_teams:
                pipe.zcard(keys.queue(team))
                # Each priority band's longest-waiting case is its lowest score.
                pipe.zrangebyscore(keys.queue(team), -HIGH_PRIORITY * PRIORITY_WEIGHT_MS, f"({NORMAL_PRIORITY}",
                                   start=0, num=1, withscores=True)
                pipe.zrangebyscore(keys.queue(team), NORMAL_PRIORITY, "+inf", start=0, num=1, withscores=True)
            pipe.xlen(keys.inbox)
            pipe.xlen(keys.dead_letters)
            pipe.zcard(keys.resolved)
            pipe.hgetall(keys.metrics)
            pipe.zcount(keys.workers, now - WORKER_ALIVE_SECONDS, "+inf")
            replies = await pipe.execute()
        try:
            pending = int((await redis.xpending(keys.inbox, INBOX_GROUP)).get("pending", 0))
        except RedisError:
            pending = 0  # the group is created by the first worker; until then nothing is pending
    except (RedisError, OSError):
        return Snapshot(up=False)
    queues = {}
    for index, team in enumerate(all_teams):
        length, high, normal = replies[3 * index: 3 * index + 3]
        oldest = _oldest_queued_at((high, normal))
        queues[team] = (int(length), None if oldest is None else max(0.0, now - oldest))
    inbox_length, dead, resolved, stored, workers = replies[-5:]
    return Snapshot(up=True, queues=queues, inbox_length=int(inbox_length), inbox_pending=pending,
                    dead_letters=int(dead), resolved=int(resolved), stored=dict(stored), workers=int(workers))


def _gauge(name: str, documentation: str, value: float, labels: Mapping[str, str] | None = None) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=list(labels or {}))
    family.add_metric(list((labels or {}).values()), value)
    return family


class SnapshotCollector(Collector):
    """Yields the metric families of one snapshot (a registry is built per scrape around it)."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        s = self.snapshot
        yield _gauge("helpline_up", "1 when Redis answers.", 1 if s.up else 0)
        yield from self._shared() if s.up else ()
        yield _gauge("helpline_faq_entries", "Entries in the knowledge base this process serves.", s.faq_entries)
        yield _gauge("helpline_faq_reload_problems", "Problems found by this process's last FAQ reload.",
                     s.faq_reload_problems)
        channels = GaugeMetricFamily("helpline_channel_up", "1 when this process's receiver reaches the "
                                     "channel's platform, 0 when it is unreachable.", labels=["channel"])
        for channel, up in sorted(s.channels.items()):
            channels.add_metric([channel], 1 if up else 0)
        yield channels

    def _shared(self) -> Iterator[Metric]:
        s = self.snapshot
        length = GaugeMetricFamily("helpline_queue_length", "Cases waiting in a team's queue.", labels=["team"])
        oldest = GaugeMetricFamily("helpline_queue_oldest_wait_seconds",
                                   "How long the longest-waiting case of a team's queue has waited (0 when empty).",
                                   labels=["team"])
        for team, (count, wait) in s.queues.items():
            length.add_metric([team], count)
            oldest.add_metric([team], wait or 0.0)
        yield length
        yield oldest
        yield _gauge("helpline_inbox_length", "Entries in the inbox stream.", s.inbox_length)
        yield _gauge("helpline_inbox_pending", "Inbox entries read but not yet acknowledged.", s.inbox_pending)
        yield _gauge("helpline_dead_letters", "Entries that could not be handled.", s.dead_letters)
        yield _gauge("helpline_workers", "Router workers with a recent heartbeat (every process, every machine).",
                     s.workers)
        by_name: dict[str, list[tuple[Sample, str]]] = {}
        for key, value in s.stored.items():
            if (sample := parse_field(key)) is not None:
                base = sample.name
                for histogram in HISTOGRAMS:
                    if base.startswith(histogram + "_"):
                        base = histogram
                by_name.setdefault(base, []).append((sample, value))
        exact = {"queued": float(sum(count for count, _ in s.queues.values())), "resolved": float(s.resolved)}
        yield from _cases(by_name.get("helpline_cases", []), exact)
        yield from _counters(by_name)
        for name in HISTOGRAMS:
            yield _histogram(name, by_name.get(name, []))


def _number(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        return 0.0


def _cases(samples: list[tuple[Sample, str]], exact: Mapping[str, float]) -> Iterator[Metric]:
    """Queued and resolved are read from the queues and hl:resolved themselves (exact); assigned and
    closed from the counts each saved case moves (since this version first ran; never below 0)."""
    family = GaugeMetricFamily("helpline_cases", "Cases by state: queued, assigned, resolved (awaiting a "
                               "rating), closed (assigned and closed counted since this version first ran).",
                               labels=["state"])
    values = dict(exact)
    for sample, value in samples:
        if len(sample.labels) == 1 and sample.labels[0][0] == "state":
            values.setdefault(sample.labels[0][1], max(0.0, _number(value)))
    for state in ("queued", "assigned", "resolved", "closed"):
        family.add_metric([state], values.pop(state, 0.0))
    for state, count in sorted(values.items()):
        family.add_metric([state], count)
    yield family


def _counters(by_name: Mapping[str, list[tuple[Sample, str]]]) -> Iterator[Metric]:
    for name, (documentation, label_names) in COUNTERS.items():
        family = CounterMetricFamily(name.removesuffix("_total"), documentation, labels=list(label_names))
        for sample, value in sorted(by_name.get(name, []), key=lambda pair: pair[0].labels):
            if tuple(key for key, _ in sample.labels) == tuple(sorted(label_names)):
                labels = dict(sample.labels)
                family.add_metric([labels[key] for key in label_names], _number(value))
        yield family


def _histogram(name: str, samples: list[tuple[Sample, str]]) -> Metric:
    per_team: dict[str, dict[str, float]] = {}
    for sample, value in samples:
        labels = dict(sample.labels)
        team = labels.get("team")
        if team is None:
            continue
        part = sample.name.removeprefix(name + "_")
        row = per_team.setdefault(team, {})
        if part == "bucket" and "le" in labels:
            row["le=" + labels["le"]] = _number(value)
        elif part in ("sum", "count"):
            row[part] = _number(value)
    family = HistogramMetricFamily(name, HISTOGRAM_HELP[name], labels=["team"])
    for team, row in sorted(per_team.items()):
        running, buckets = 0.0, []
        for bound in HISTOGRAMS[name]:  # stored per bucket; Prometheus wants them cumulative
            running += row.get(f"le={bound:g}", 0.0)
            buckets.append((f"{bound:g}", running))
        running += row.get("le=+Inf", 0.0)
        buckets.append(("+Inf", running))
        family.add_metric([team], buckets, row.get("sum", 0.0))
    return family


async def render_metrics(helpline: Helpline) -> bytes:
    """The Prometheus text of one scrape."""
    snapshot = await read_snapshot(helpline.redis, helpline.keys, list(helpline.settings.teams))
    knowledge_base = helpline.knowledge_base.current
    snapshot.faq_entries = len(knowledge_base.entries) if knowledge_base else 0
    snapshot.faq_reload_problems = len(helpline.knowledge_base.problems)
    snapshot.channels = {name: health.get("status") != "unreachable"
                         for name, health in helpline.channel_health().items()}
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snapshot))
    return generate_latest(registry)
