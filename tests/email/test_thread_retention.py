"""The e-mail thread records follow `retention.conversation_days` (channels/email/threads.py), on a real Redis."""

from __future__ import annotations

import pytest

from bot.channel_setup import build_channels
from bot.settings import Settings
from channels.base import PermanentDeliveryError
from channels.email.channel import EmailChannel
from channels.email.threads import THREAD_MARGIN_SECONDS
from tests.email.conftest import Harness, email_settings, mail
from tests.email.smtp_peer import SmtpPeer
from tests.email.test_threads_and_sending import reply, start_conversation

DAY = 86400


def records(harness: Harness, root: str, ours: str) -> list[str]:
    key = f"{harness.prefix}email:"
    return [f"{key}thread:{root}", f"{key}thread:{ours}", f"{key}conv:{root}", f"{key}refs:{root}", f"{key}case:1042"]


async def ttls(harness: Harness, keys: list[str]) -> list[int]:
    return [int(await harness.redis.ttl(key)) for key in keys]


async def test_the_records_last_the_retention_and_each_mail_renews_them(harness: Harness, smtp: SmtpPeer) -> None:
    channel = EmailChannel(email_settings(None, smtp=smtp.settings()), harness.context(), retention_days=30)
    root, ours = await start_conversation(channel, smtp)
    keys = records(harness, root, ours)
    lifetime = 30 * DAY + THREAD_MARGIN_SECONDS
    assert all(lifetime - 60 < ttl <= lifetime for ttl in await ttls(harness, keys)), await ttls(harness, keys)
    for key in keys:  # a month on
        await harness.redis.expire(key, 3600)
    received = await channel.receive(mail(subject="Re: Order late [#1042]", headers=f"In-Reply-To: {ours}\r\n",
                                          body="Any news?"))
    assert received.message is not None and received.message.address == root  # joins while it exists
    assert all(lifetime - 60 < ttl <= lifetime for ttl in await ttls(harness, keys)), await ttls(harness, keys)


async def test_once_expired_a_reply_no_longer_joins_and_nothing_is_sent(harness: Harness, smtp: SmtpPeer) -> None:
    channel = EmailChannel(email_settings(None, smtp=smtp.settings()), harness.context(), retention_days=30)
    root, ours = await start_conversation(channel, smtp)
    await harness.redis.delete(*records(harness, root, ours))  # as their expiry leaves them
    received = await channel.receive(mail(subject="Re: Order late [#1042]", headers=f"In-Reply-To: {ours}\r\n",
                                          body="Any news?", message_id="<late@customer.test>"))
    assert received.message is not None and received.message.address == "<late@customer.test>"
    with pytest.raises(PermanentDeliveryError, match="no e-mail thread"):
        await channel.deliver(reply(root))


@pytest.mark.parametrize("days", [0, None])
async def test_kept_for_good_without_a_retention(harness: Harness, smtp: SmtpPeer, days: float | None) -> None:
    channel = EmailChannel(email_settings(None, smtp=smtp.settings()), harness.context(), retention_days=days)
    root, ours = await start_conversation(channel, smtp)
    keys = records(harness, root, ours)
    assert await ttls(harness, keys) == [-1] * len(keys)
    for key in keys:  # written by a version with a lifetime
        await harness.redis.expire(key, 400 * DAY)
    await channel.receive(mail(subject="Re: Order late [#1042]", headers=f"In-Reply-To: {ours}\r\n", body="Hi"))
    assert await ttls(harness, keys) == [-1] * len(keys)


def test_the_service_passes_the_retention(harness: Harness) -> None:
    section = email_settings(None).model_dump(mode="json")
    section["imap"]["password"] = section["smtp"]["password"] = "x"
    settings = Settings.model_validate({"channels": {"console": {"enabled": False}, "email": section},
                                        "retention": {"conversation_days": 7}})
    [channel] = build_channels(settings, harness.context())
    assert isinstance(channel, EmailChannel)
    assert channel.threads.ttl == 7 * DAY + THREAD_MARGIN_SECONDS
