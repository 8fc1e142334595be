"""/metrics of a running app, parsed with prometheus_client's own text parser: what customers and an
agent did through the real router, the same whichever process is scraped."""

from __future__ import annotations

import re
import time

import aiohttp
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis

from bot.app import Helpline
from bot.http import start_http_server
from router.events import Event
from router.messages import ActionKind, DeliveryReport, inbox_fields, new_id
from router.metrics import field_name, increments, label, parse_field
from tests.drivers import Agent, Customer
from tests.router.test_flow import case_number_in

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(helpline: Helpline) -> tuple[Samples, dict[str, str], str]:
    runner = await start_http_server(helpline, "127.0.0.1", 0)
    port = runner.addresses[0][1]
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
                assert response.status == 200
                content_type = response.headers["Content-Type"]
                text = await response.text()
    finally:
        await runner.cleanup()
    samples: Samples = {}
    types: dict[str, str] = {}
    for family in text_string_to_metric_families(text):
        types[family.name] = family.type
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    assert content_type.startswith("text/plain")
    return samples, types, text


async def test_metrics_count_what_happened_whichever_process_is_scraped(helpline, worker, settings, redis: Redis,
                                                                        agent: Agent) -> None:
    answered = Customer(helpline, worker)
    await answered.say("How long does delivery take?")
    served = Customer(helpline, worker)
    number = case_number_in((await served.say("agent please"))[-1].text)
    await agent.act(ActionKind.CLAIM, number)
    await agent.act(ActionKind.REPLY, number, text="Let me check.")
    await agent.act(ActionKind.RESOLVE, number)
    await served.say("", option="rate:5")
    waiting = Customer(helpline, worker)
    await waiting.say("agent please")  # still in the queue
    queued_at = time.time()
    failed = DeliveryReport(id=new_id(), message_id=new_id(), channel="console", conversation="x", delivered=False,
                            reason="platform said no", author="bot", at=time.time())
    await helpline.redis.xadd(helpline.keys.inbox, inbox_fields(failed))
    await worker.drain()

    samples, types, text = await scrape(helpline)
    other_process = Helpline(settings, redis=Redis.from_url("redis://127.0.0.1:6379/0", decode_responses=True))
    try:
        others, _, _ = await scrape(other_process)
    finally:
        await other_process.close()

    def value(name: str, **labels: str) -> float:
        return samples[(name, tuple(sorted(labels.items())))]

    assert value("helpline_up") == 1
    assert value("helpline_messages_total", channel="console", direction="in") == 4
    assert value("helpline_faq_decisions_total", decision="answer") >= 1
    assert value("helpline_queue_length", team="support") == 1
    assert 0 <= value("helpline_queue_oldest_wait_seconds", team="support") <= time.time() - queued_at + 5
    assert value("helpline_cases", state="queued") == 1 and value("helpline_cases", state="closed") == 1
    assert value("helpline_cases", state="assigned") == 0 and value("helpline_cases", state="resolved") == 0
    assert value("helpline_case_events_total", event="case_opened") == 2
    assert value("helpline_csat_answers_total", score="5") == 1
    assert value("helpline_delivery_failures_total", channel="console") == 1
    assert value("helpline_entries_processed_total", stream="inbox") == 8  # 4 messages, 3 agent actions, 1 delivery report
    assert value("helpline_first_response_seconds_count", team="support") == 1
    assert value("helpline_resolution_seconds_count", team="support") == 1
    assert value("helpline_resolution_seconds_bucket", team="support", le="+Inf") == 1
    assert value("helpline_resolution_seconds_bucket", team="support", le="300") == 1  # well within 5 minutes
    assert types["helpline_first_response_seconds"] == "histogram"
    assert types["helpline_messages"] == "counter" and types["helpline_queue_length"] == "gauge"
    # No customer ids or words as labels.
    assert served.address not in text and "agent please" not in text
    # Every shared figure is the same from another process; only this process's own differ.
    own = ("helpline_faq_entries",)
    shared = {key: v for key, v in samples.items() if key[0] not in own and "oldest_wait" not in key[0]}
    assert shared == {key: v for key, v in others.items() if key in shared}
    assert set(shared) <= set(others)


async def test_metrics_without_redis_still_answer(settings) -> None:
    broken = Redis.from_url("redis://127.0.0.1:1/0", decode_responses=True, socket_connect_timeout=0.5)
    helpline = Helpline(settings, redis=broken)
    try:
        samples, _, _ = await scrape(helpline)
    finally:
        await helpline.close()
    assert samples[("helpline_up", ())] == 0


def test_labels_are_bounded_and_plain() -> None:
    assert label("") == "unknown" and label(None) == "unknown"
    assert label('te"am}\n{x') == "te_am___x"
    assert len(label("x" * 500)) == 40
    field = field_name("helpline_messages_total", channel='a"b', direction="in")
    sample = parse_field(field)
    assert sample is not None and dict(sample.labels) == {"channel": "a_b", "direction": "in"}
    for bad in ("", "other_total", "helpline_x|channel", "helpline_x|Channel=a", "helpline_x|channel=a\"b"):
        assert parse_field(bad) is None
    assert increments("case_rated", {"csat": "9"}) == []  # out of range: not counted
    assert increments("first_response", {"after": "nan", "team": "support"}) == [
        ("helpline_case_events_total|event=first_response", 1)]


@given(st.sampled_from([str(event) for event in Event]),
       st.dictionaries(st.sampled_from(["channel", "decision", "team", "csat", "nps", "ces", "after", "author"]),
                       st.text(max_size=60), max_size=8))
def test_every_field_an_event_adds_reads_back_with_plain_bounded_labels(event: str, fields: dict[str, str]) -> None:
    for name, amount in increments(event, fields):
        sample = parse_field(name)
        assert sample is not None, name
        assert all(len(value) <= 40 and value for _, value in sample.labels)
        assert amount == 1 or sample.name.endswith("_sum")


# Labels a Helpline metric may carry: bounded sets (no customer, conversation, case or agent ids).
ALLOWED_LABELS = {"channel", "direction", "decision", "event", "score", "team", "state", "stream", "le"}


def convention_problems(text: str) -> list[str]:
    """What breaks Prometheus's naming conventions in a scrape (https://prometheus.io/docs/practices/naming/)."""
    problems = []
    types = dict(line.split()[2:4] for line in text.splitlines() if line.startswith("# TYPE "))
    for name, kind in types.items():
        if not re.fullmatch(r"helpline_[a-z][a-z0-9_]*", name):
            problems.append(f"{name}: not helpline_ and snake case")
        if kind == "counter" and not name.endswith("_total"):
            problems.append(f"{name}: a counter not ending in _total")
        if kind != "counter" and name.endswith("_total"):
            problems.append(f"{name}: a {kind} ending in _total")
        if kind == "histogram" and not name.endswith("_seconds"):
            problems.append(f"{name}: a histogram without its unit (_seconds)")
        if re.search(r"_(milliseconds|ms|minutes|hours|days)(_|$)", name):
            problems.append(f"{name}: not in base units")
        if re.search(r"(wait|age|duration|time)(_|$)", name) and not name.endswith("_seconds"):
            problems.append(f"{name}: a duration without _seconds")
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if not sample.name.startswith("helpline_"):
                problems.append(f"{sample.name}: not helpline_")
            for key, value in sample.labels.items():
                if key not in ALLOWED_LABELS:
                    problems.append(f"{sample.name}: label {key} is not one of the bounded ones")
                if len(value) > 40 or not re.fullmatch(r"[A-Za-z0-9_.:@#/+-]+", value):
                    problems.append(f"{sample.name}: label value {value!r} is not plain and bounded")
    return problems


async def test_every_metric_follows_the_naming_conventions(helpline, worker, agent: Agent) -> None:
    answered = Customer(helpline, worker, name="Zelda Unique-Name")
    await answered.say("How long does delivery take?")
    served = Customer(helpline, worker, name="Yorick Other-Name")
    number = case_number_in((await served.say("agent please"))[-1].text)
    await served.say("my order 4711-secret")
    await agent.act(ActionKind.CLAIM, number)
    await agent.act(ActionKind.REPLY, number, text="Let me check.")
    await agent.act(ActionKind.RESOLVE, number)
    await served.say("", option="rate:4")
    await Customer(helpline, worker).say("agent please")
    await worker.drain()
    samples, types, text = await scrape(helpline)
    # Every kind of figure the issue names is there, each family has samples to check.
    for name in ("helpline_messages", "helpline_faq_decisions", "helpline_queue_length",
                 "helpline_queue_oldest_wait_seconds", "helpline_cases", "helpline_first_response_seconds",
                 "helpline_resolution_seconds", "helpline_csat_answers", "helpline_delivery_failures",
                 "helpline_channel_up", "helpline_entries_processed", "helpline_workers"):
        assert name in types, name
    assert len(samples) > 40
    assert convention_problems(text) == []
    for secret in (answered.address, served.address, "Zelda", "Yorick", "4711", str(number)):
        assert f'"{secret}"' not in text and secret not in "".join(f"{k}={v}" for key in samples for k, v in key[1])


def test_the_convention_check_can_fail() -> None:
    bad = ("# HELP helpline_sent messages\n# TYPE helpline_sent counter\nhelpline_sent 1.0\n"
           "# HELP queue_wait how long\n# TYPE queue_wait gauge\nqueue_wait{customer=\"+3069\"} 4.0\n"
           "# HELP helpline_reply_ms h\n# TYPE helpline_reply_ms histogram\n"
           "helpline_reply_ms_bucket{le=\"+Inf\"} 1.0\nhelpline_reply_ms_count 1.0\nhelpline_reply_ms_sum 2.0\n")
    found = "\n".join(convention_problems(bad))
    for expected in ("helpline_sent: a counter not ending in _total", "queue_wait: not helpline_",
                     "queue_wait: a duration without _seconds", "label customer", "helpline_reply_ms: a histogram",
                     "helpline_reply_ms: not in base units"):
        assert expected in found, (expected, found)
