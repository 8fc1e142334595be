"""Feedback by e-mail, end to end: mail in through a real Dovecot, out through aiosmtpd, the rating links
served on the service's HTTP port (`GET` asks to confirm, `POST` records through the inbox), and a
rating, an NPS score and a Skip typed as a reply."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from email.message import Message
from typing import Any

import aiohttp
import pytest

from bot.app import Helpline
from bot.channel_setup import build_channels
from bot.http import start_http_server
from bot.settings import Settings
from channels.email.channel import EmailChannel
from router.messages import ActionKind
from tests.conftest import make_settings
from tests.drivers import Agent, case_hash, events
from tests.email.conftest import SUPPORT, Dovecot, ImapPeer, eventually, mail
from tests.email.smtp_peer import SmtpPeer

PUBLIC_URL = "https://help.example.test"
SECRET = "a-test-secret-of-enough-length-0123"


@pytest.fixture
def settings(prefix: str, dovecot: Dovecot, smtp: SmtpPeer) -> Settings:
    data = make_settings(prefix).model_dump(mode="json")
    data["redis"]["url"] = "redis://127.0.0.1:6379/0"
    data["channels"]["email"] = {
        "enabled": True, "address": SUPPORT,
        "imap": {"host": "127.0.0.1", "port": dovecot.port, "security": "none", "user": dovecot.user,
                 "password": dovecot.password, "poll_seconds": 0.3, "idle_seconds": 30, "timeout_seconds": 5,
                 "reconnect_max_seconds": 0.5},
        "smtp": smtp.settings(), "auto_reply_limit": 50}
    data["feedback"] = {"public_url": PUBLIC_URL, "secret": SECRET, "nps": True, "comment": True}
    return Settings.model_validate(_unhide(data))


def _unhide(value: Any) -> Any:
    # model_dump(mode="json") writes secrets as "**********": put the real ones back.
    if isinstance(value, dict):
        return {k: _unhide(v) for k, v in value.items() if v != "**********"}
    return value


class Service:
    """The email channel receiving from Dovecot, the router, the sender to aiosmtpd, and the HTTP port."""

    def __init__(self, helpline: Helpline, channel: EmailChannel, smtp: SmtpPeer, http_base: str) -> None:
        self.helpline, self.channel, self.smtp, self.http_base = helpline, channel, smtp, http_base
        self.worker = helpline.router_workers(1, tag="mail")[0]
        self.sender = helpline.channel_sender(channel, block_ms=50)
        self.agent = Agent(helpline, self.worker, "Maria")

    async def settle(self, mails: int) -> list[Message]:
        """Route and send until `mails` mails in all reached the SMTP peer."""
        async def arrived() -> bool:
            await self.worker.drain()
            await self.sender.drain()
            return len(self.smtp.recorder.messages) >= mails

        await eventually(arrived, timeout=15)
        return self.smtp.recorder.messages

    def local(self, url: str) -> str:
        assert url.startswith(PUBLIC_URL + "/feedback/"), url
        return self.http_base + url.removeprefix(PUBLIC_URL)


@pytest.fixture
async def service(settings: Settings, helpline: Helpline, smtp: SmtpPeer) -> AsyncIterator[Service]:
    [channel] = build_channels(settings, helpline.channel_context())
    assert isinstance(channel, EmailChannel)
    runner = await start_http_server(helpline, "127.0.0.1", 0)
    host, port = runner.addresses[0][:2]
    await channel.start()
    try:
        await eventually(lambda: channel.health()["connected"])
        yield Service(helpline, channel, smtp, f"http://{host}:{port}")
    finally:
        await channel.stop()
        await runner.cleanup()


def plain(message: Message) -> str:
    return message.get_body(("plain",)).get_content().replace("\r\n", "\n")  # type: ignore[union-attr]


async def open_resolved_case(service: Service, imap_peer: ImapPeer, message_id: str) -> tuple[int, Message]:
    await imap_peer.deliver(mail(subject="Broken kettle", body="I would like to talk to a person please.",
                                 message_id=message_id))
    opened = (await service.settle(1))[-1]
    number = int(re.search(r"\[#(\d+)\]", opened["Subject"]).group(1))  # type: ignore[union-attr]
    assert (await service.agent.act(ActionKind.CLAIM, number))["ok"]
    assert (await service.agent.act(ActionKind.RESOLVE, number))["ok"]
    before = len(service.smtp.recorder.messages)
    prompt = (await service.settle(before + 3))[-1]  # "Maria joined", "resolved", then the rating question
    return number, prompt


async def test_a_rating_link_asks_to_confirm_then_records_once(service: Service, imap_peer: ImapPeer) -> None:
    helpline = service.helpline
    number, prompt = await open_resolved_case(service, imap_peer, "<kettle-1@customer.test>")
    text = plain(prompt)
    assert helpline.texts.render("en", "rating_prompt_email") in text
    links = dict(re.findall(r"^([1-5])/5: (\S+)$", text, re.MULTILINE))
    assert sorted(links) == ["1", "2", "3", "4", "5"]
    html_body = prompt.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert all(f'href="{url}"' in html_body for url in links.values())

    async with aiohttp.ClientSession() as http:
        for _ in range(2):  # a mail scanner fetching the link first, then the customer
            async with http.get(service.local(links["4"])) as page:
                assert page.status == 200
                body = await page.text()
                assert '<form method="post">' in body and f"#{number}" in body
                assert page.headers["Cache-Control"] == "no-store"
                assert page.headers["Referrer-Policy"] == "no-referrer"
        assert await helpline.redis.xlen(helpline.keys.inbox) == 3  # the mail and two actions: a GET adds nothing
        async with http.post(service.local(links["4"])) as page:
            assert page.status == 200
            assert helpline.texts.render("en", "feedback_page_thanks") in await page.text()
        sent = len(service.smtp.recorder.messages)
        mails = await service.settle(sent + 1)  # "thank you for your rating" with the NPS question, by e-mail
        nps = plain(mails[-1])
        assert nps.startswith(helpline.texts.render("en", "rating_thanks"))
        assert "0 · 1 · 2 · 3 · 4 · 5 · 6 · 7 · 8 · 9 · 10 · Skip" in nps and "1) " not in nps

        # Another score's link, and the same one again: the first rating stands.
        async with http.post(service.local(links["1"])) as page:
            assert page.status == 200
            assert helpline.texts.render("en", "rating_already", case=number) in await page.text()
        async with http.get(service.local(links["4"][:-3] + "AAA")) as page:  # a tampered signature
            assert page.status == 404
            assert helpline.texts.render("en", "feedback_page_invalid") in await page.text()

    await service.worker.drain()
    rated = [e for e in await events(helpline) if e["type"] == "case_rated"]
    assert [(e["csat"], e["round"], e["channel"]) for e in rated] == [("4", "0", "email")]
    assert (await case_hash(helpline, number))["status"] == "closed"

    # The NPS question answered by reply: "8" is the score 8 (not the eighth option), then Skip typed.
    last = service.smtp.recorder.messages[-1]
    await imap_peer.deliver(mail(subject=f"Re: Broken kettle [#{number}]", body="8\r\n\r\n> earlier text\r\n",
                                 headers=f"In-Reply-To: {last['Message-ID']}\r\n"))
    comment_prompt = (await service.settle(len(service.smtp.recorder.messages) + 1))[-1]
    assert helpline.texts.render("en", "comment_prompt") in plain(comment_prompt)
    await imap_peer.deliver(mail(subject=f"Re: Broken kettle [#{number}]", body="Skip\r\n",
                                 headers=f"In-Reply-To: {comment_prompt['Message-ID']}\r\n"))
    done = (await service.settle(len(service.smtp.recorder.messages) + 1))[-1]
    assert plain(done).startswith(helpline.texts.render("en", "feedback_thanks"))
    nps_events = [e for e in await events(helpline) if e["type"] == "nps_rated"]
    assert [(e["nps"], e["channel"]) for e in nps_events] == [("8", "email")]
    assert not [e for e in await events(helpline) if e["type"] == "feedback_comment"]


async def test_a_rating_by_reply_counts(service: Service, imap_peer: ImapPeer) -> None:
    helpline = service.helpline
    number, prompt = await open_resolved_case(service, imap_peer, "<kettle-2@customer.test>")
    await imap_peer.deliver(mail(subject=f"Re: Broken kettle [#{number}]", body="2\r\n",
                                 headers=f"In-Reply-To: {prompt['Message-ID']}\r\n"))
    thanks = (await service.settle(len(service.smtp.recorder.messages) + 1))[-1]
    assert plain(thanks).startswith(helpline.texts.render("en", "rating_thanks"))
    rated = [e for e in await events(helpline) if e["type"] == "case_rated"]
    assert [(e["case"], e["csat"]) for e in rated] == [(str(number), "2")]
