"""The dashboard over HTTP: nothing without a login, the token and users, the cookie, the headers,
the live state from a real router, and customer text escaped in the charts."""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

import bot.dashboard.views as views
from bot.app import Helpline
from bot.dashboard.passwords import hash_password
from bot.dashboard.query import DashboardQuery
from bot.dashboard.sessions import COOKIE_NAME
from bot.http import start_http_server
from bot.settings import DashboardSettings, Settings, SlaSettings
from router.store import Case, CaseStatus
from tests.bot.dashboard.sample import HOSTILE_ENTRY, HOSTILE_QUESTION, sample_report
from tests.conftest import make_settings

TOKEN = "tok-0123456789"
MARIA_HASH = hash_password("maria's password")


def dashboard_settings(prefix: str, **changes: Any) -> Settings:
    base = make_settings(prefix)
    values: dict[str, Any] = {"token": TOKEN, "users": {"maria": MARIA_HASH}, "refresh_seconds": 2, **changes}
    return base.model_copy(update={"dashboard": DashboardSettings.model_validate(values)})


def with_sla(settings: Settings, team: str = "support", minutes: float = 30, warn_before: float = 5) -> Settings:
    """`settings` with a first-response SLA for `team`."""
    sla = SlaSettings(first_response_minutes=minutes, warn_before_minutes=warn_before)
    return settings.model_copy(update={"teams": {**settings.teams,
                                                 team: settings.teams[team].model_copy(update={"sla": sla})}})


@pytest.fixture
def settings(prefix: str) -> Settings:
    return dashboard_settings(prefix)


class Server:
    def __init__(self, port: int, asked: list[DashboardQuery]) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.asked = asked

    def session(self) -> aiohttp.ClientSession:
        # unsafe: keep cookies set by an IP address host (127.0.0.1)
        return aiohttp.ClientSession(self.url, cookie_jar=aiohttp.CookieJar(unsafe=True))

    async def logged_in(self, user: str = "", password: str = TOKEN) -> aiohttp.ClientSession:
        client = self.session()
        async with client.post("/dashboard/login", data={"user": user, "password": password},
                               allow_redirects=False) as response:
            assert response.status == 303, await response.text()
        return client


@pytest.fixture
async def server(helpline: Helpline, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Server]:
    asked: list[DashboardQuery] = []

    def sample_source(_: Helpline) -> Any:
        async def source(query: DashboardQuery) -> dict[str, Any]:
            asked.append(query)
            return sample_report()
        return source

    monkeypatch.setattr(views, "_report_source", sample_source)
    runner = await start_http_server(helpline, "127.0.0.1", 0)
    try:
        yield Server(runner.addresses[0][1], asked)
    finally:
        await runner.cleanup()


async def test_nothing_is_served_without_a_login(server: Server) -> None:
    async with server.session() as client:
        async with client.get("/dashboard", allow_redirects=False) as response:
            assert response.status == 303 and response.headers["Location"] == "/dashboard/login"
        for path in ("/dashboard/api/report", "/dashboard/api/live", "/dashboard/chart/volume.svg",
                     "/dashboard/static/dashboard.js", "/dashboard/api/report?since=24h"):
            async with client.get(path, allow_redirects=False) as response:
                assert response.status == 401, path
                assert "Bearer" in response.headers["WWW-Authenticate"]
        async with client.get("/dashboard/login") as response:
            assert response.status == 200 and 'name="password"' in await response.text()
    assert server.asked == []


async def test_the_bearer_token_gives_the_report_and_a_wrong_one_nothing(server: Server) -> None:
    async with server.session() as client:
        async with client.get("/dashboard/api/report?since=2026-11-24&until=2026-12-01&team=billing",
                              headers={"Authorization": f"Bearer {TOKEN}"}) as response:
            assert response.status == 200
            assert await response.json() == sample_report()
        assert server.asked[-1].team == "billing" and server.asked[-1].bucket_seconds == 86400
        for header in (f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", "Bearer ", f"Basic {TOKEN}", TOKEN):
            async with client.get("/dashboard/api/report", headers={"Authorization": header}) as response:
                assert response.status == 401, header
        async with client.get("/dashboard/api/report?since=soon", headers={"Authorization": f"Bearer {TOKEN}"}) as response:
            assert response.status == 400 and "since" in await response.text()


async def test_a_form_login_sets_a_strict_http_only_cookie(server: Server) -> None:
    async with server.session() as client:
        async with client.post("/dashboard/login", data={"user": "", "password": TOKEN}, allow_redirects=False) as response:
            assert response.status == 303 and response.headers["Location"] == "/dashboard"
            cookie = response.cookies[COOKIE_NAME]
            assert cookie["httponly"] is True and cookie["samesite"] == "Strict" and cookie["path"] == "/dashboard"
            assert not cookie["secure"] and 0 < int(cookie["max-age"]) <= 12 * 3600
            assert TOKEN not in cookie.value
        async with client.get("/dashboard") as response:
            assert response.status == 200
            page = await response.text()
            assert 'src="/dashboard/static/dashboard.js"' in page and 'data-refresh="2"' in page
            assert "script-src 'self'" in response.headers["Content-Security-Policy"]
        async with client.get("/dashboard/api/report") as response:
            assert response.status == 200
        async with client.get("/dashboard/login", allow_redirects=False) as response:
            assert response.status == 303  # already logged in


async def test_users_log_in_with_their_password(server: Server) -> None:
    client = await server.logged_in("maria", "maria's password")
    async with client:
        async with client.get("/dashboard") as response:
            assert response.status == 200 and 'title="maria"' in await response.text()
    async with server.session() as client:
        for user, password in (("maria", "wrong"), ("nobody", "maria's password"), ("", "maria's password"),
                               ("maria", TOKEN), ("", TOKEN + "x")):
            async with client.post("/dashboard/login", data={"user": user, "password": password},
                                   allow_redirects=False) as response:
                assert response.status == 401, (user, password)
                assert COOKIE_NAME not in response.cookies
                assert "Wrong" in await response.text()


async def test_a_tampered_or_foreign_cookie_is_refused(server: Server, prefix: str) -> None:
    client = await server.logged_in()
    cookie = next(c for c in client.cookie_jar if c.key == COOKIE_NAME).value
    await client.close()
    version, user, expiry, signature = cookie.split(".")
    forged = [".".join([version, user, str(int(expiry) + 86400), signature]), cookie[:-2] + "AA", cookie + "A",
              "v1.bWFyaWE." + expiry + "." + signature, "garbage"]
    async with server.session() as client:
        for value in forged:
            async with client.get("/dashboard/api/live", cookies={COOKIE_NAME: value}) as response:
                assert response.status == 401, value
        # A right cookie with a wrong Bearer token is still refused: the header is checked when given.
        async with client.get("/dashboard/api/live", cookies={COOKIE_NAME: cookie},
                              headers={"Authorization": "Bearer nope"}) as response:
            assert response.status == 401
        async with client.get("/dashboard/api/live", cookies={COOKIE_NAME: cookie}) as response:
            assert response.status == 200


async def test_failed_logins_are_limited_even_for_the_right_password(server: Server) -> None:
    async with server.session() as client:
        for _ in range(5):
            async with client.post("/dashboard/login", data={"user": "maria", "password": "guess"}) as response:
                assert response.status == 401
        async with client.post("/dashboard/login", data={"user": "maria", "password": "maria's password"},
                               allow_redirects=False) as response:
            assert response.status == 429 and int(response.headers["Retry-After"]) > 0
            assert COOKIE_NAME not in response.cookies


async def test_failed_logins_count_across_the_processes_of_one_installation(server: Server, helpline: Helpline,
                                                                            settings: Settings) -> None:
    other_process = Helpline(settings, redis=helpline.redis)  # another process's app on the same Redis
    runner = await start_http_server(other_process, "127.0.0.1", 0)
    other = Server(runner.addresses[0][1], [])
    try:
        for target in (server, other, server, other, server):
            async with target.session() as client:
                async with client.post("/dashboard/login", data={"user": "maria", "password": "guess"}) as response:
                    assert response.status == 401
        async with other.session() as client:
            async with client.post("/dashboard/login", data={"user": "maria", "password": "maria's password"},
                                   allow_redirects=False) as response:
                assert response.status == 429
    finally:
        await runner.cleanup()


async def test_logout_forgets_the_cookie_and_cross_site_posts_are_refused(server: Server) -> None:
    client = await server.logged_in()
    async with client:
        async with client.post("/dashboard/logout", headers={"Origin": "https://evil.example"},
                               allow_redirects=False) as response:
            assert response.status == 403
        async with client.post("/dashboard/logout", allow_redirects=False) as response:
            assert response.status == 303 and response.cookies[COOKIE_NAME].value == ""
        async with client.get("/dashboard/api/live") as response:
            assert response.status == 401
    async with server.session() as client:
        async with client.post("/dashboard/login", data={"password": TOKEN}, headers={"Origin": "http://evil.example"},
                               allow_redirects=False) as response:
            assert response.status == 403 and COOKIE_NAME not in response.cookies


async def test_every_answer_has_a_strict_content_security_policy(server: Server) -> None:
    client = await server.logged_in()
    async with client:
        for path in ("/dashboard", "/dashboard/api/live", "/dashboard/api/report", "/dashboard/static/dashboard.js"):
            async with client.get(path) as response:
                assert response.status == 200, path
                policy = response.headers["Content-Security-Policy"]
                assert "default-src 'none'" in policy and "script-src 'self'" in policy
                assert "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
                assert response.headers["X-Content-Type-Options"] == "nosniff"
        async with client.get("/dashboard/static/../views.py") as response:
            assert response.status == 404
        async with client.get("/dashboard/chart/nope.svg") as response:
            assert response.status == 404
    async with server.session() as client:
        async with client.get("/dashboard/login") as response:
            assert "default-src 'none'" in response.headers["Content-Security-Policy"]


async def test_charts_are_svg_without_script_with_customer_text_escaped(server: Server) -> None:
    client = await server.logged_in()
    async with client:
        for name in views.CHARTS:
            async with client.get(f"/dashboard/chart/{name}.svg?since=7d") as response:
                assert response.status == 200 and response.content_type == "image/svg+xml"
                svg = await response.text()
            root = ET.fromstring(svg)  # well-formed XML: nothing customers wrote broke out of its text
            assert not [node for node in root.iter() if node.tag.endswith("script")]
            texts = " ".join(node.text or "" for node in root.iter())
            if name == "entries":
                assert HOSTILE_ENTRY in texts
            if name == "gaps":
                assert HOSTILE_QUESTION[:30] in texts
            assert not [node for node in root.iter() if node.tag.endswith("img")]
        async with client.get("/dashboard/chart/volume.svg?since=7d&size=narrow") as response:
            assert 'viewBox="0 0 440 360"' in await response.text()
    # Six charts and the page's own request share one computation of the report.
    assert len(server.asked) == 1


async def test_the_dashboard_is_off_without_a_token_or_users(prefix: str) -> None:
    helpline = Helpline(make_settings(prefix))
    runner = await start_http_server(helpline, "127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{runner.addresses[0][1]}") as client:
            for path in ("/dashboard", "/dashboard/login", "/dashboard/api/report"):
                async with client.get(path, headers={"Authorization": "Bearer "}) as response:
                    assert response.status == 404, path
    finally:
        await runner.cleanup()
        await helpline.close()


async def test_secure_cookie_when_configured(prefix: str) -> None:
    helpline = Helpline(dashboard_settings(prefix, secure_cookie=True, users={}))
    runner = await start_http_server(helpline, "127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{runner.addresses[0][1]}") as client:
            async with client.post("/dashboard/login", data={"password": TOKEN}, allow_redirects=False) as response:
                assert response.status == 303
                assert "Secure" in response.headers["Set-Cookie"]
            async with client.get("/dashboard/login") as response:
                assert 'name="user"' in (text := await response.text()) and "hidden" in text  # no users: token only
    finally:
        await runner.cleanup()
        await helpline.close()


async def test_the_live_state_shows_the_queue_and_the_agents_cases(server: Server, customer: Any, agent: Any) -> None:
    await customer.say("I want to talk to a human")
    other = type(customer)(customer.helpline, customer.worker, name="<b>Bob</b> & co")
    await other.say("agent please")
    client = await server.logged_in()
    async with client:
        async with client.get("/dashboard/api/live") as response:
            state = await response.json()
        support = next(queue for queue in state["queues"] if queue["team"] == "support")
        assert support["waiting"] == 2 and [row["case"] for row in support["cases"]] == [1001, 1002]
        assert support["cases"][1]["customer"] == "<b>Bob</b> & co"  # as written: the page escapes it
        assert support["oldest_wait_seconds"] >= 0 and state["agents"] == []
        from router.messages import ActionKind

        await agent.act(ActionKind.CLAIM, 1001)
        async with client.get("/dashboard/api/live?team=support") as response:
            state = await response.json()
        assert [queue["team"] for queue in state["queues"]] == ["support"]
        assert [row["case"] for row in state["queues"][0]["cases"]] == [1002]
        assert state["agents"] == [{"agent": "maria", "name": "Maria", "status": "", "cases": [
            {**state["agents"][0]["cases"][0], "case": 1001, "team": "support", "answered": False,
             "customer": "Ann Customer", "channel": "console"}]}]
        async with client.get("/dashboard/api/live?team=billing") as response:
            assert (await response.json())["agents"] == []
    assert json.dumps(state)


async def test_the_live_state_is_bounded(helpline: Helpline) -> None:
    from bot.dashboard.live import MAX_LISTED_PER_TEAM, live_state
    from router.store import Case, CaseStatus

    redis, keys = helpline.redis, helpline.keys
    now = 1_800_000_000.0
    async with redis.pipeline(transaction=False) as pipe:
        for index in range(MAX_LISTED_PER_TEAM + 5):
            number = 1001 + index
            case = Case(number, f"c{index}", CaseStatus.QUEUED, "billing", customer_name="x" * 500,
                        queued_at=now - 60 * index)
            pipe.hset(keys.case(number), mapping=case.to_hash())
            pipe.zadd(keys.queue("billing"), {str(number): case.queue_score()})
        held = Case(2000, "held", CaseStatus.ASSIGNED, "billing", agent="maria", agent_name="Maria", claimed_at=now - 30)
        pipe.hset(keys.case(2000), mapping=held.to_hash())
        pipe.hset(keys.case(1500), mapping={"status": "assigned", "number": "oops"})  # half-written by hand
        pipe.set(keys.case_counter, "2000")
        pipe.sadd(keys.teams_seen, "billing")
        await pipe.execute()
    state = await live_state(redis, keys, ["support"], team="billing", now=now, scan_cases=100)
    queue = state.queues[0]
    assert queue.waiting == MAX_LISTED_PER_TEAM + 5 and len(queue.cases) == MAX_LISTED_PER_TEAM
    longest = MAX_LISTED_PER_TEAM + 4  # the one waiting longest is served first
    assert queue.cases[0].case == 1001 + longest and len(queue.cases[0].customer) == 200
    assert queue.oldest_wait_seconds == 60 * longest
    assert [(a.agent, [c.case for c in a.cases]) for a in state.agents] == [("maria", [2000])]
    assert state.truncated  # only the last 100 cases were looked at for agents
    everything = await live_state(redis, keys, ["support"], now=now)
    assert not everything.truncated and {q.team for q in everything.queues} == {"billing", "support"}


async def test_ugly_login_posts_are_refused_cleanly(server: Server) -> None:
    async with server.session() as client:
        for data, headers in (
                ({"user": "", "password": TOKEN + "x" * 5000}, {}),
                ({"user": "m" * 5000, "password": "x"}, {}),
                (b"\xff\xfe\x00garbage", {"Content-Type": "application/x-www-form-urlencoded"}),
                (b'{"password": "' + TOKEN.encode() + b'"}', {"Content-Type": "application/json"}),
                ({}, {}),
                ({"password": "\x00\u202e" + TOKEN}, {})):
            async with client.post("/dashboard/login", data=data, headers=headers, allow_redirects=False) as response:
                assert response.status in (400, 401, 413), (data, response.status)
                assert COOKIE_NAME not in response.cookies
        async with client.post("/dashboard/login", data=b"password=" + b"x" * 40_000,
                               headers={"Content-Type": "application/x-www-form-urlencoded"}) as response:
            assert response.status == 413  # a login is a few bytes: the service's body limit holds


async def test_redis_gone_is_a_503_the_page_can_show(prefix: str) -> None:
    from redis.asyncio import Redis

    broken = Redis.from_url("redis://127.0.0.1:1/0", decode_responses=True, socket_connect_timeout=0.5)
    helpline = Helpline(dashboard_settings(prefix), redis=broken)
    runner = await start_http_server(helpline, "127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{runner.addresses[0][1]}",
                                         headers={"Authorization": f"Bearer {TOKEN}"}) as client:
            for path in ("/dashboard/api/live", "/dashboard/api/report", "/dashboard/chart/volume.svg"):
                async with client.get(path) as response:
                    assert response.status == 503, path
                    assert "Redis" in await response.text()
            async with client.get("/dashboard") as response:
                assert response.status == 200  # the page itself, which then says what is wrong
    finally:
        await runner.cleanup()
        await helpline.close()


async def test_the_live_queue_shows_each_cases_first_response_sla(prefix: str, redis: Any) -> None:
    from bot.dashboard.live import live_state

    settings = with_sla(dashboard_settings(prefix))
    helpline = Helpline(settings, redis=redis)
    worker = helpline.router_workers(1, tag="test")[0]
    from tests.drivers import Customer

    await Customer(helpline, worker).say("I want to talk to a human")
    await Customer(helpline, worker, name="Bob").say("I want to talk to a human")
    billing = Case(1003, "billing-one", CaseStatus.QUEUED, "billing", queued_at=time.time())
    await redis.hset(helpline.keys.case(1003), mapping=billing.to_hash())
    await redis.zadd(helpline.keys.queue("billing"), {"1003": billing.queue_score()})
    first = Case.from_hash(await redis.hgetall(helpline.keys.case(1001)))

    def shown(state: Any) -> dict[int, Any]:
        return {row.case: row.sla for queue in state.queues for row in queue.cases}

    for minutes, state, left in ((10, "ok", 20 * 60), (27, "near_breach", 3 * 60), (41, "breached", -11 * 60)):
        at = first.queued_at + minutes * 60
        rows = shown(await live_state(redis, helpline.keys, settings.teams, now=at, sla=helpline.sla_rules))
        assert rows[1001] == {"state": state, "target_seconds": 1800.0, "left_seconds": round(left, 1),
                              "paused": False}
        assert rows[1002] is not None and rows[1003] is None  # billing has no SLA
    # And over HTTP, as the page gets it.
    runner = await start_http_server(helpline, "127.0.0.1", 0)
    try:
        client = await Server(runner.addresses[0][1], []).logged_in()
        async with client:
            async with client.get("/dashboard/api/live?team=support") as response:
                live = await response.json()
        assert [row["sla"]["state"] for row in live["queues"][0]["cases"]] == ["ok", "ok"]
    finally:
        await runner.cleanup()
