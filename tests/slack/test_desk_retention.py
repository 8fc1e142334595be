"""The desk's case mappings follow `retention.conversation_days` (channels/slack/desk.py), on a real Redis:
kept while the case is open, however long, and gone a retention after it closed."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.app import Helpline
from channels.slack import create
from channels.slack.adapter import SlackChannel
from router.worker import StreamWorker
from tests.drivers import Customer, case_hash
from tests.slack.conftest import ANN, BILLING, SUPPORT, TEAMS, block_action, dispatch, slack_section
from tests.slack.fake_slack import FakeSlack
from tests.slack.test_desk import claim, open_case, settle

DAY = 86400


async def desk(fake: FakeSlack, helpline: Helpline, days: float | None) -> SlackChannel:
    channel = create(slack_section(fake), helpline.channel_context(), TEAMS, days)
    await channel._identify()
    return channel


@pytest.fixture
async def slack30(fake: FakeSlack, desk_helpline: Helpline) -> AsyncIterator[SlackChannel]:
    channel = await desk(fake, desk_helpline, 30)
    yield channel
    await channel.stop()


async def case_keys(slack: SlackChannel, number: int) -> list[str]:
    """The case's keys that exist (`msgs` only once a customer message had a platform id)."""
    threads = sorted(await slack.context.redis.smembers(slack.desk.key(f"case:{number}:threads")))
    keys = [slack.desk.key(f"case:{number}"), slack.desk.key(f"case:{number}:msgs"),
            slack.desk.key(f"case:{number}:threads"), *threads]
    return [key for key in keys if await slack.context.redis.exists(key)]


async def ttls(slack: SlackChannel, keys: list[str]) -> list[int]:
    return [int(await slack.context.redis.ttl(key)) for key in keys]


async def test_kept_while_open_then_a_retention_after_closing(desk_helpline: Helpline, customer: Customer,
                                                              worker: StreamWorker, slack30: SlackChannel) -> None:
    slack = slack30
    number, ts = await open_case(desk_helpline, customer, slack)
    await claim(desk_helpline, worker, slack, ANN, number)
    await dispatch(slack, block_action(ANN, SUPPORT, "hl_transfer", f"{number}:billing", thread_ts=ts, select=True))
    await settle(desk_helpline, worker, slack)
    await slack.context.redis.hset(slack.desk.key(f"case:{number}:msgs"), "m1", "1.2")  # a Telegram message's copy
    new_ts = (await slack.desk.mapping(number))["ts"]
    keys = await case_keys(slack, number)
    assert len(keys) == 5  # both notices' threads
    assert await ttls(slack, keys) == [-1] * 5
    for key in keys:  # as a version with a 90-day lifetime left them, long ago
        await slack.context.redis.expire(key, 3600)
    await claim(desk_helpline, worker, slack, ANN, number)  # an open case is kept, however long idle
    assert await ttls(slack, keys) == [-1] * 5
    assert await slack.desk.case_of_thread(SUPPORT, ts) == number
    assert await slack.desk.case_of_thread(BILLING, new_ts) == number

    await dispatch(slack, block_action(ANN, BILLING, "hl_resolve", str(number), thread_ts=new_ts))
    await settle(desk_helpline, worker, slack)
    assert await ttls(slack, keys) == [-1] * 5  # resolved: it may reopen
    await customer.say("", option="rate:5")
    await settle(desk_helpline, worker, slack)
    assert (await case_hash(desk_helpline, number))["status"] == "closed"
    assert all(30 * DAY - 60 < ttl <= 30 * DAY for ttl in await ttls(slack, keys)), await ttls(slack, keys)
    assert await slack.desk.case_of_thread(BILLING, new_ts) == number  # until then


@pytest.mark.parametrize("days", [0, None])
async def test_kept_for_good_without_a_retention(desk_helpline: Helpline, customer: Customer, worker: StreamWorker,
                                                 fake: FakeSlack, days: float | None) -> None:
    slack = await desk(fake, desk_helpline, days)
    try:
        number, ts = await open_case(desk_helpline, customer, slack)
        await claim(desk_helpline, worker, slack, ANN, number)
        await dispatch(slack, block_action(ANN, SUPPORT, "hl_resolve", str(number), thread_ts=ts))
        await settle(desk_helpline, worker, slack)
        await customer.say("", option="rate:5")
        await settle(desk_helpline, worker, slack)
        assert (await slack.desk.mapping(number))["status"] == "closed"
        assert await ttls(slack, await case_keys(slack, number)) == [-1] * 3
    finally:
        await slack.stop()


async def test_a_late_rating_after_the_mapping_went_posts_no_new_notice(
        desk_helpline: Helpline, customer: Customer, worker: StreamWorker, slack30: SlackChannel,
        fake: FakeSlack) -> None:
    slack = slack30
    number, ts = await open_case(desk_helpline, customer, slack)
    await claim(desk_helpline, worker, slack, ANN, number)
    await dispatch(slack, block_action(ANN, SUPPORT, "hl_resolve", str(number), thread_ts=ts))
    await settle(desk_helpline, worker, slack)
    await slack.context.redis.delete(*await case_keys(slack, number))  # as the retention leaves them
    notices = len(fake.posts(SUPPORT))
    await customer.say("", option="rate:5")
    await settle(desk_helpline, worker, slack)
    assert len(fake.posts(SUPPORT)) == notices
    assert await slack.desk.mapping(number) == {}


async def test_the_service_passes_the_retention(desk_helpline: Helpline, fake: FakeSlack) -> None:
    from bot.channel_setup import build_channels
    from bot.settings import Settings

    settings = Settings.model_validate({"channels": {"console": {"enabled": False}, "slack": slack_section(fake)},
                                        "retention": {"conversation_days": 7}})
    [channel] = build_channels(settings, desk_helpline.channel_context())
    try:
        assert isinstance(channel, SlackChannel) and channel.desk.closed_ttl == 7 * DAY
    finally:
        await channel.stop()
