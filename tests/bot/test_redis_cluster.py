"""Helpline on a real three-master Redis Cluster: each tenant's prefix carries a hash tag, so every key,
script and transaction of the tenant lands in the slot of its tag, and no tenant's key crosses to another."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from pydantic import SecretStr
from redis.crc import key_slot
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from bot.app import Helpline
from bot.doctor import check_redis
from bot.redis_url import hash_tag
from bot.settings import RedisSettings, Settings, SettingsError, load_settings
from router.messages import ActionKind
from router.retention import sweep_retention
from tests.conftest import make_settings
from tests.drivers import Agent, Customer, events
from tests.redis_topology import Cluster, needs_redis_server

# acme and globex hash to slots of the same master of a fresh three-master cluster; umbrella to another.
TENANTS = ("acme", "globex", "umbrella")


def tenant_settings(url: str, tenant: str) -> Settings:
    return make_settings("x:").model_copy(update={"redis": RedisSettings(url=SecretStr(url), prefix=f"hl:{{{tenant}}}:")})


def case_number_in(text: str) -> int:
    match = re.search(r"#(\d+)", text)
    assert match, f"no case number in {text!r}"
    return int(match.group(1))


async def main_flows(helpline: Helpline) -> None:
    """A FAQ answer, and a handoff through claim, reply and resolve, with the outbox sent to the console."""
    worker = helpline.router_workers(1, tag="cluster")[0]
    sender = helpline.console_sender()
    customer, agent = Customer(helpline, worker), Agent(helpline, worker, "Maria")
    replies = await customer.say("How long does delivery take?")
    assert replies[0].text == "Delivery takes 2 to 4 working days."
    number = case_number_in((await customer.say("I want to talk to a human"))[-1].text)
    assert (await agent.act(ActionKind.CLAIM, number))["ok"]
    assert (await agent.act(ActionKind.REPLY, number, text="Let me check that for you."))["ok"]
    assert (await agent.act(ActionKind.RESOLVE, number))["ok"]
    assert (await helpline.redis.hgetall(helpline.keys.case(number)))["status"] == "resolved"
    kinds = {event["type"] for event in await events(helpline)}
    assert {"bot_answer", "case_opened", "case_claimed", "agent_reply", "case_resolved"} <= kinds
    await sender.drain()
    delivered = await helpline.redis.lrange(helpline.keys.console(customer.address), 0, -1)
    assert any("Delivery takes 2 to 4 working days." in item for item in delivered)
    assert any("Let me check that for you." in item for item in delivered)
    # The retention sweep's scripts in the slot too: an idle conversation goes, the one with a case stays.
    assert await Customer(helpline, worker).say("hello")
    swept = await sweep_retention(helpline.redis, helpline.keys, 90, now=time.time() + 91 * 86400)
    assert (swept.removed, swept.kept_open) == (1, 1)


async def key_outside_the_prefix_fails_loudly(cluster: Cluster, settings: Settings, port: int) -> None:
    """A key of another master's slot is a bug: raised at once (MOVED), not retried as if Redis were away."""
    stray = next(key for key in (f"stray:{index}" for index in range(1000))
                 if cluster.owner_port(key_slot(key.encode())) != port)
    helpline = Helpline(settings)
    try:
        with pytest.raises(ResponseError) as caught:
            await helpline.redis.set(stray, "1")
        assert not isinstance(caught.value, RedisConnectionError)
        assert await helpline.redis.set(f"{settings.redis.prefix}probe", "1")
        await helpline.redis.delete(f"{settings.redis.prefix}probe")
    finally:
        await helpline.close()


@needs_redis_server
async def test_main_flows_of_three_tenants_stay_in_the_slot_of_their_tag(tmp_path: Path) -> None:
    with Cluster(tmp_path) as cluster:
        for tenant in TENANTS:
            helpline = Helpline(tenant_settings(cluster.url, tenant))
            try:
                await main_flows(helpline)
            finally:
                await helpline.close()
        owners = {tenant: cluster.owner_port(key_slot(tenant.encode())) for tenant in TENANTS}
        findings = await check_redis(tenant_settings(cluster.url, "acme"), timeout=5)
        assert findings[0].summary.startswith("Redis ") and "cluster 127.0.0.1:" in findings[0].summary, findings
        await key_outside_the_prefix_fails_loudly(cluster, tenant_settings(cluster.url, "acme"), owners["acme"])
        assert len(set(owners.values())) >= 2, "the tenants should spread over more than one master"
        seen = dict.fromkeys(TENANTS, 0)
        for port, keys in cluster.node_keys().items():
            for key in keys:
                tag = hash_tag(key)
                assert tag in TENANTS and key.startswith(f"hl:{{{tag}}}:"), f"a key outside every prefix: {key!r}"
                assert key_slot(key.encode()) == key_slot(tag.encode()), key
                assert owners[tag] == port, f"{key!r} is on port {port}, not on its slot's master"
                seen[tag] += 1
        assert all(count >= 10 for count in seen.values()), seen


async def test_a_cluster_url_with_a_prefix_without_hash_tag_is_refused(tmp_path: Path) -> None:
    for prefix in ("hl:", "hl:{}:", "hl:{acme"):
        config = tmp_path / "helpline.yaml"
        config.write_text(f"redis:\n  url: redis+cluster://127.0.0.1:7000\n  prefix: '{prefix}'\n")
        with pytest.raises(SettingsError, match=r"redis.*hash tag.*hl:\{acme\}:"):
            load_settings(config)
    assert RedisSettings(url=SecretStr("redis+cluster://127.0.0.1:7000"), prefix="hl:{acme}:").prefix == "hl:{acme}:"


@needs_redis_server
async def test_a_tenant_follows_its_slot_to_another_master(tmp_path: Path) -> None:
    """The slot is moved (as `redis-cli --cluster reshard` does): the next command on the old master's
    connection fails as a connection error (which every worker loop retries), the retry reaches the new one."""
    with Cluster(tmp_path) as cluster:
        helpline = Helpline(tenant_settings(cluster.url, "acme"))
        try:
            await main_flows(helpline)
            slot = key_slot(b"acme")
            source = next(node for node in cluster.nodes if node.port == cluster.owner_port(slot))
            target = next(node for node in cluster.nodes if node is not source)
            cluster.move_slot(slot, source, target)
            with pytest.raises(RedisConnectionError):
                await helpline.redis.hgetall(helpline.keys.case(1001))
            assert (await helpline.redis.hgetall(helpline.keys.case(1001)))["status"] == "resolved"
            await main_flows(helpline)  # everything again, on the new master
            assert cluster.owner_port(slot) == target.port
            assert {key for key in source.client().scan_iter(count=1000)} == set()
        finally:
            await helpline.close()
