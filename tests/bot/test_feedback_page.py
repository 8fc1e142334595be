"""`/feedback/<token>` on the public port: bad links refused, a GET never records, the page speaks the
customer's language, a rating of a reopened round is not taken."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from redis.asyncio import Redis

from bot.app import Helpline
from bot.http import start_http_server
from bot.settings import Settings
from router.feedback_token import make_token
from router.messages import InboundMessage, from_json
from router.store import Case, CaseStatus, Conversation
from tests.conftest import REDIS_URL, make_settings

SECRET = "page-test-secret-0123456789"


@pytest.fixture
def settings(prefix: str) -> Settings:
    data = make_settings(prefix).model_dump()
    data["feedback"] = {"public_url": "https://help.example.test", "secret": SECRET}
    data["redis"]["url"] = REDIS_URL
    return Settings.model_validate(data)


@pytest.fixture
async def served(settings: Settings, redis: Redis) -> AsyncIterator[tuple[Helpline, str]]:
    helpline = Helpline(settings, redis=Redis.from_url(REDIS_URL, decode_responses=True))
    runner = await start_http_server(helpline, "127.0.0.1", 0)
    try:
        yield helpline, f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()
        await helpline.close()


async def a_case(helpline: Helpline, number: int, status: CaseStatus = CaseStatus.RESOLVED, reopened: int = 0,
                 language: str = "el") -> None:
    conversation = Conversation(id=f"conv-{number}", channel="email", address=f"<root-{number}@customer.test>",
                                customer_id="ann@customer.test", customer_name="Ann", language=language)
    await helpline.redis.hset(helpline.keys.conversation(conversation.id), mapping=conversation.to_hash())
    case = Case(number=number, conversation=conversation.id, status=status, team="support", channel="email",
                reopened=reopened, resolved_at=1.0)
    await helpline.redis.hset(helpline.keys.case(number), mapping=case.to_hash())


def link(base: str, case: int, round_: int, score: int) -> str:
    return f"{base}/feedback/{make_token(SECRET.encode(), case, round_, score)}"


async def test_get_confirms_in_the_customers_language_and_post_goes_to_the_inbox(served) -> None:
    helpline, base = served
    await a_case(helpline, 1042)
    async with aiohttp.ClientSession() as http:
        async with http.get(link(base, 1042, 0, 5)) as page:
            body = await page.text()
            assert page.status == 200 and '<html lang="el">' in body
            assert helpline.texts.render("el", "feedback_page_confirm", case=1042, score=5) in body
            assert "default-src 'none'" in page.headers["Content-Security-Policy"]
        assert await helpline.redis.xlen(helpline.keys.inbox) == 0
        async with http.post(link(base, 1042, 0, 5)) as page:
            assert page.status == 200
            assert helpline.texts.render("el", "feedback_page_thanks") in await page.text()
    [(_, fields)] = await helpline.redis.xrange(helpline.keys.inbox)
    message = from_json(InboundMessage, fields["data"])
    assert (message.channel, message.address, message.option, message.platform_id, message.text) == (
        "email", "<root-1042@customer.test>", "rate:5:1042:0", "feedback-link:1042:0", "")


async def test_a_rated_round_or_a_reopened_case_takes_nothing(served) -> None:
    helpline, base = served
    await a_case(helpline, 1043, language="hu")
    await helpline.redis.hset(helpline.keys.survey(1043, 0), "csat", "3")
    await a_case(helpline, 1044, status=CaseStatus.ASSIGNED, reopened=1, language="lv")
    async with aiohttp.ClientSession() as http:
        async with http.post(link(base, 1043, 0, 5)) as page:
            assert helpline.texts.render("hu", "rating_already", case=1043) in await page.text()
        async with http.post(link(base, 1044, 0, 5)) as page:  # sent before the case was reopened
            assert helpline.texts.render("lv", "rating_stale", case=1044) in await page.text()
    assert await helpline.redis.xlen(helpline.keys.inbox) == 0


@pytest.mark.parametrize("path", [
    "/feedback/", "/feedback/x", "/feedback/1042.0.5.AAAAAAAAAAAAAAAAAAAAAA", "/feedback/1042.0.5",
    "/feedback/" + "9" * 5000, "/feedback/%00%ff", "/feedback/1042.0.5.%3Cscript%3E", "/feedback/..%2f..%2fetc",
])
async def test_bad_links_are_refused(served, path: str) -> None:
    helpline, base = served
    await a_case(helpline, 1042)
    async with aiohttp.ClientSession() as http:
        for method in ("GET", "POST"):
            async with http.request(method, base + path) as page:
                assert page.status in (404, 400, 414, 431), (method, path, page.status)
                assert "<script>" not in await page.text()
    assert await helpline.redis.xlen(helpline.keys.inbox) == 0


async def test_a_good_signature_for_a_case_that_does_not_exist_is_refused(served) -> None:
    helpline, base = served
    async with aiohttp.ClientSession() as http:
        async with http.post(link(base, 4242, 0, 4)) as page:
            assert page.status == 404
    assert await helpline.redis.xlen(helpline.keys.inbox) == 0


async def test_a_big_post_body_is_refused(served) -> None:
    helpline, base = served
    await a_case(helpline, 1042)
    async with aiohttp.ClientSession() as http:
        async with http.post(link(base, 1042, 0, 5), data=b"x" * (1024 * 1024)) as page:
            assert page.status == 413
    assert await helpline.redis.xlen(helpline.keys.inbox) == 0


async def test_no_links_without_a_public_url(prefix: str, redis: Redis) -> None:
    helpline = Helpline(make_settings(prefix), redis=Redis.from_url(REDIS_URL, decode_responses=True))
    runner = await start_http_server(helpline, "127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession() as http:
            url = f"http://127.0.0.1:{runner.addresses[0][1]}/feedback/{make_token(b'whatever-secret', 1, 0, 5)}"
            async with http.get(url) as page:
                assert page.status == 404  # no secret configured: no token is valid
    finally:
        await runner.cleanup()
        await helpline.close()
