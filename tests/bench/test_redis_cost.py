"""The parsing helpers of bench/redis_cost.py: INFO sections read right, every Helpline key told its family."""

from __future__ import annotations

import string
from collections.abc import Callable

from hypothesis import given
from hypothesis import strategies as st
from redis.asyncio import Redis

from bench.redis_cost import command_calls, command_deltas, cpu_seconds, key_family
from router.keys import Keys, lane_key
from router.messages import new_id
from router.store import reply

ids = st.text(min_size=1, max_size=40)  # platform addresses and ids: anything, ':' '{' '}' included
ulids = st.builds(new_id)  # conversation and message ids are ours (router/messages.py new_id)
channels = st.text(alphabet=string.ascii_lowercase + "_", min_size=1, max_size=12)  # config names
prefixes = st.sampled_from(["hl:", "hl:{acme}:", "x{t.0}:"])

FIXED: list[tuple[Callable[[Keys], str], str]] = [
    (lambda k: k.inbox, "inbox"), (lambda k: k.events, "events"), (lambda k: k.metrics, "metrics"),
    (lambda k: k.case_counter, "case:counter"), (lambda k: k.workers, "workers"), (lambda k: k.resolved, "resolved"),
    (lambda k: k.desk, "outbox:desk"), (lambda k: k.dead_letters, "dead"), (lambda k: k.teams_seen, "teams"),
]


async def test_info_sections_of_a_real_redis_parse(redis: Redis) -> None:
    before_cpu = cpu_seconds(await redis.info("cpu"))
    before = command_calls(await redis.info("commandstats"))
    for _ in range(3):
        await reply(redis.ping())
    after = command_calls(await redis.info("commandstats"))
    assert cpu_seconds(await redis.info("cpu")) >= before_cpu > 0
    assert after["ping"] >= before.get("ping", 0) + 3  # other clients of the shared Redis may ping too
    assert all(isinstance(calls, int) and calls > 0 for calls in after.values())
    deltas = command_deltas(before, after)
    assert deltas["ping"] >= 3 and "info" not in deltas


def test_command_deltas_keep_only_what_was_called() -> None:
    before = {"xadd": 5, "get": 2, "info": 1}
    after = {"xadd": 9, "get": 2, "info": 4, "client|setname": 1}
    assert command_deltas(before, after) == {"xadd": 4, "client|setname": 1}
    assert command_deltas(before, after, skip=()) == {"xadd": 4, "info": 3, "client|setname": 1}
    assert command_calls({"cmdstat_xadd": {"calls": 3, "usec": 10}, "errorstat_ERR": {"count": 1}}) == {"xadd": 3}


@given(prefixes, ulids, ids, channels)
def test_every_key_of_a_conversation_is_told_its_family(prefix: str, conversation: str, address: str,
                                                       channel: str) -> None:
    keys = Keys(prefix)
    assert key_family(keys.conversation(conversation), prefix) == "conv:{*}"
    assert key_family(keys.transcript(conversation), prefix) == "conv:{*}:log"
    assert key_family(keys.address(channel, address), prefix) == f"addr:{channel}:*"
    assert key_family(keys.seen(channel, address), prefix) == f"seen:{channel}:*"
    assert key_family(keys.sent(channel, address), prefix) == f"sent:{channel}:*"
    assert key_family(keys.sending(channel, address), prefix) == f"sending:{channel}:*"
    assert key_family(keys.console(address), prefix) == "console:*"
    assert key_family(lane_key(keys.inbox, f"{channel}:{address}"), prefix) == "inbox:lane:*"
    assert key_family(lane_key(keys.outbox(channel), address), prefix) == f"outbox:{channel}:lane:*"
    if not address.endswith(":warned"):  # `flood:c:x:warned` is customer x's mark, or customer "x:warned": either
        assert key_family(keys.flood(channel, address), prefix) == f"flood:{channel}:*"
    assert key_family(keys.flood_warned(channel, address), prefix) == f"flood:{channel}:*:warned"


@given(prefixes, ulids, ids, st.integers(min_value=1, max_value=10**9), st.integers(min_value=0, max_value=99))
def test_every_key_of_a_case_and_an_agent_is_told_its_family(prefix: str, message: str, agent: str, number: int,
                                                            round_: int) -> None:
    keys = Keys(prefix)
    assert key_family(keys.case(number), prefix) == "case:*"
    assert key_family(keys.case_for_message(message), prefix) == "case:by-msg:*"
    assert key_family(keys.done(message), prefix) == "done:*"
    assert key_family(keys.result(message), prefix) == "result:*"
    assert key_family(keys.survey(number, round_), prefix) == "survey:*:*"
    assert key_family(keys.agent(agent), prefix) == "agent:*"
    assert key_family(keys.queue(agent), prefix) == "queue:*"
    assert key_family(keys.waits(agent), prefix) == "waits:*"
    for build, family in FIXED:
        assert key_family(build(keys), prefix) == family
    assert key_family("other:" + agent, prefix) == "(other)"
