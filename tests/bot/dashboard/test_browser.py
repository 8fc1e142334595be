"""The dashboard in a real browser: Debian's Chromium, headless, driven by Playwright.

A scripted history goes through the real router (customers, an agent, ratings) and its events are
spread over the past week; the service's HTTP app serves the dashboard on port 0. The test logs in
through the form, checks every figure shown against `helpline report --json`'s computation for the
same query, sees a newly queued case appear without a reload, and saves screenshots (desktop and phone).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.app import Helpline
from bot.http import start_http_server
from bot.report_html import _count, _pct, duration
from bot.settings import Settings
from router.messages import ActionKind
from tests.bot.dashboard.test_views import TOKEN, dashboard_settings, with_sla
from tests.bot.test_cli_flow import helpline as run_helpline
from tests.bot.test_cli_flow import write_config
from tests.drivers import Agent, Customer

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.timeout(240)
HOSTILE_NAME = '<img src=x onerror="document.title=1">Eve'
# Each part of the history is moved this far into the past (seconds): the charts get a week to show.
DAYS_BACK = [6, 5, 4, 3, 2, 1, 0]
STEP_SECONDS = 420


def _browser_available() -> None:
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            raise
        pytest.skip("playwright is not installed (pip install -e '.[dev]')")
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: scripts/setup --for-tests installs it")
        pytest.skip("Debian's chromium is not installed (scripts/setup --for-tests)")


@pytest.fixture
def settings(prefix: str) -> Settings:
    return with_sla(dashboard_settings(prefix, refresh_seconds=1))


async def _retime(helpline: Helpline, marks: list[str]) -> None:
    """Rewrite hl:events with part i (its events after marks[i - 1]) DAYS_BACK[i] days into the past,
    and its events STEP_SECONDS apart, so waits and handling times are minutes, not milliseconds."""
    redis, key = helpline.redis, helpline.keys.events
    entries = await redis.xrange(key)
    await redis.delete(key)
    index_in_part: dict[int, int] = {}
    for entry_id, fields in entries:
        part = sum(1 for mark in marks if _id(entry_id) > _id(mark))
        step = index_in_part[part] = index_in_part.get(part, -1) + 1
        at = float(fields["at"]) - DAYS_BACK[min(part, len(DAYS_BACK) - 1)] * 86400 - 6 * 3600 + step * STEP_SECONDS
        await redis.xadd(key, {**fields, "at": repr(at)})


def _id(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


async def _last_id(helpline: Helpline) -> str:
    last = await helpline.redis.xrevrange(helpline.keys.events, count=1)
    return last[0][0] if last else "0-0"


async def _history(helpline: Helpline, customer: Customer, agent: Agent) -> None:
    """A week of support, one part a day: FAQ answers, cases handled and rated, unanswered questions."""
    marks: list[str] = []
    worker = customer.worker
    sender = helpline.console_sender(block_ms=10)  # delivers the agents' replies: first response times

    async def case_of(_: Customer) -> int:
        return int(await helpline.redis.get(helpline.keys.case_counter))  # the case just opened

    async def handled(person: Customer, rating: str, team: str | None = None) -> None:
        await person.say("I want to talk to a human")
        number = await case_of(person)
        await agent.act(ActionKind.CLAIM, number)
        await agent.act(ActionKind.REPLY, number, "Let me check that for you.")
        await sender.drain()
        await worker.drain()  # the delivery report
        await agent.act(ActionKind.RESOLVE, number)
        await person.say(rating)

    await Customer(helpline, worker, name="Ann").say("How long does delivery take?")
    marks.append(await _last_id(helpline))
    await handled(Customer(helpline, worker, name="Bob"), "5")
    await Customer(helpline, worker, name="Cy").say("what is your return policy")
    marks.append(await _last_id(helpline))
    await handled(Customer(helpline, worker, name="Dee"), "2")
    marks.append(await _last_id(helpline))
    await Customer(helpline, worker, name="Eli").say("How long does delivery take?")
    await handled(Customer(helpline, worker, name="Flo"), "4")
    marks.append(await _last_id(helpline))
    gap = Customer(helpline, worker, name="Gus")
    await gap.say("can I pay with seashells")  # the FAQ does not know: a gap
    await gap.say("I want to talk to a human")  # the case waits
    marks.append(await _last_id(helpline))
    await Customer(helpline, worker, name=HOSTILE_NAME).say("agent please")
    held = Customer(helpline, worker, name="Hal")
    await held.say("I want to talk to a human")
    await agent.act(ActionKind.CLAIM, await case_of(held))  # Maria has it now
    marks.append(await _last_id(helpline))
    await _retime(helpline, marks)


@pytest.fixture
async def served(helpline: Helpline, customer: Customer, agent: Agent) -> AsyncIterator[str]:
    _browser_available()
    await _history(helpline, customer, agent)
    runner = await start_http_server(helpline, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


FIGURE_TEXT = {
    "conversations": _count, "deflection_rate": _pct, "handoff_rate": _pct, "cases.opened": _count,
    "cases.resolved": _count, "cases.reopened": _count, "cases.backlog": _count,
    "first_response_seconds.median": duration, "resolution_seconds.median": duration,
    "first_contact_resolution": _pct, "csat.score": _pct, "csat.responses": _count, "nps.responses": _count,
    "ces.responses": _count, "first_response_seconds.p90": duration, "resolution_seconds.p90": duration,
}


async def _until(page: Any, predicate: str, timeout: float = 10) -> None:
    """Poll `predicate` in the page (Playwright's wait_for_function evaluates a string, which the page's
    Content-Security-Policy rightly forbids)."""
    deadline = time.monotonic() + timeout
    while not await page.evaluate(predicate):
        assert time.monotonic() < deadline, f"not within {timeout}s: {predicate}"
        await page.wait_for_timeout(100)


def _get(data: Any, path: str) -> Any:
    for key in path.split("."):
        data = data[key]
    return data


async def test_the_dashboard_in_chromium_shows_the_report_and_live_queue(
        served: str, helpline: Helpline, customer: Customer, tmp_path: Path, prefix: str) -> None:
    from playwright.async_api import async_playwright

    now = time.time()
    since = datetime.fromtimestamp(now - 7 * 86400, UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    until = datetime.fromtimestamp(now + 600, UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    # What `helpline report --json` prints for the same period, run as a supervisor would run it.
    code, out, err = await run_helpline(write_config(tmp_path, prefix), "report", "--since", since, "--until", until,
                                        "--json")
    assert code == 0, err
    expected = json.loads(out)
    # The history is what the test says it is: figures worth comparing.
    assert expected["conversations"] == 9 and expected["cases"]["opened"] == 6 and expected["cases"]["backlog"] == 3 and expected["csat"]["responses"] == 3
    assert sum(1 for count in expected["series"]["conversations_by_channel"]["console"] if count) >= 5

    # The SLA clock: Gus has waited 40 minutes (breached), Eve 28 (near breach), by their cases' queue times.
    for number in await helpline.redis.zrange(helpline.keys.queue("support"), 0, -1):
        name = await helpline.redis.hget(helpline.keys.case(int(number)), "customer_name")
        minutes = {"Gus": 40, HOSTILE_NAME: 28}.get(name or "")
        if minutes:
            await helpline.redis.hset(helpline.keys.case(int(number)), "queued_at", repr(time.time() - minutes * 60))

    problems: list[str] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            # The browser's own favicon request (404) and the wrong password (401) are expected; any other
            # error (a script error, a refused style or script, a failed request) is a fault.
            page.on("console", lambda message: problems.append(f"{message.text} {message.location.get('url')}")
                    if message.type == "error" and not message.location.get("url", "").endswith(
                        ("/favicon.ico", "/dashboard/login")) else None)
            page.on("pageerror", lambda error: problems.append(str(error)))
            url = f"{served}/dashboard?since={since.replace('+', '%2B')}&until={until.replace('+', '%2B')}"

            await page.goto(url)
            assert page.url.endswith("/dashboard/login")  # no way in without logging in
            await page.fill("input[name=password]", "wrong")
            await page.click("button[type=submit]")
            assert "Wrong token" in await page.text_content(".message")
            await page.screenshot(path=str(tmp_path / "dashboard-login.png"))
            await page.fill("input[name=password]", TOKEN)
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{served}/dashboard")
            await page.goto(url)
            await page.wait_for_selector("body[data-loaded]")
            await page.wait_for_selector("#figures .tile")

            # Every figure shown is the report's, as value and as text.
            shown = await page.eval_on_selector_all(
                "[data-figure]", "nodes => nodes.map(n => [n.dataset.figure, n.dataset.value, "
                                 "(n.querySelector('.value') || n).textContent])")
            assert len(shown) >= 13
            for path, value, text in shown:
                assert json.loads(value) == _get(expected, path), path
                if path in FIGURE_TEXT:
                    assert FIGURE_TEXT[path](_get(expected, path)) in text, (path, text)
            rows = await page.eval_on_selector_all("#by-team tbody tr[data-team]", "rows => rows.map(r => "
                                                   "Array.from(r.cells, c => c.textContent))")
            assert [row[0] for row in rows] == sorted(expected["by_team"])
            for row in rows:
                figures = expected["by_team"][row[0]]
                assert row[1:5] == [str(figures["conversations"]), _pct(figures["deflection_rate"]),
                                    str(figures["cases"]["opened"]), str(figures["cases"]["resolved"])]
            entries = await page.eval_on_selector_all("#top-entries tbody td.entry", "cells => cells.map(c => c.textContent)")
            assert entries == [row["entry"] for row in expected["top_entries"]] and entries
            gaps = await page.eval_on_selector_all("#top-gaps tbody td.question", "cells => cells.map(c => c.textContent)")
            assert gaps == [row["question"] for row in expected["top_gaps"]]

            # The charts are the server's SVG images, and they loaded.
            await _until(page, "() => Array.from(document.querySelectorAll('img[data-chart]'))"
                               ".every(img => img.complete && img.naturalWidth > 0)")

            # Live: the waiting cases, the customer's name as text, not as markup.
            names = await page.eval_on_selector_all("#queues li .customer", "nodes => nodes.map(n => n.textContent)")
            assert HOSTILE_NAME in names and "Gus" in names
            assert await page.eval_on_selector_all("#queues img, #figures img, table img", "nodes => nodes.length") == 0
            assert await page.title() == "Helpline dashboard"
            held = await page.eval_on_selector_all("#agents .agent", "nodes => nodes.map(n => [n.dataset.agent, "
                                                   "Array.from(n.querySelectorAll('li .customer'), c => c.textContent)])")
            assert held == [["maria", ["Hal"]]]

            # A case queued now appears without a reload.
            marker = await page.evaluate("window.__same_page = true")
            await Customer(helpline, customer.worker, name="Newcomer").say("I want to talk to a human")
            await _until(page, "() => Array.from(document.querySelectorAll('#queues li .customer'))"
                               ".some(n => n.textContent === 'Newcomer')", timeout=15)
            assert await page.evaluate("window.__same_page") is True and marker is True
            assert await page.text_content("#queues .queue[data-team=support] .badge") == "3 waiting"
            # Each waiting case's first-response SLA (30 minutes for support): the ones queued days ago breached it.
            slas = await page.eval_on_selector_all("#queues .queue[data-team=support] li[data-case]", "rows => rows.map("
                                                   "r => [r.querySelector('.customer').textContent, r.querySelector('.sla') && "
                                                   "r.querySelector('.sla').dataset.sla, r.querySelector('.sla') && "
                                                   "r.querySelector('.sla').textContent])")
            states = {name: (state, text) for name, state, text in slas}
            assert states["Newcomer"][0] == "ok" and states["Newcomer"][1].startswith("SLA ok, ")
            assert states["Gus"][0] == "breached" and states["Gus"][1].startswith("SLA breached 10m ")
            assert states[HOSTILE_NAME][0] == "near_breach" and states[HOSTILE_NAME][1].startswith("SLA near breach, 1m ")

            await page.screenshot(path=str(tmp_path / "dashboard-desktop.png"), full_page=True)
            await page.set_viewport_size({"width": 390, "height": 844})
            await _until(page, "() => Array.from(document.querySelectorAll('img[data-chart]'))"
                               ".every(img => img.complete && img.currentSrc.includes('size=narrow'))")
            await page.screenshot(path=str(tmp_path / "dashboard-phone.png"), full_page=True)
            if os.environ.get("HELPLINE_SCREENSHOTS"):  # a folder to keep them in, to look at
                for name in ("dashboard-login.png", "dashboard-desktop.png", "dashboard-phone.png"):
                    shutil.copy(tmp_path / name, Path(os.environ["HELPLINE_SCREENSHOTS"]) / name)
            # Wide tables scroll inside their own box; nothing else may stick out.
            wide = await page.evaluate("() => Array.from(document.querySelectorAll('body *'))"
                                       ".filter(n => !n.closest('.scroll'))"
                                       ".filter(n => n.getBoundingClientRect().right > window.innerWidth + 1)"
                                       ".map(n => n.tagName + '.' + n.className + '#' + n.id).slice(0, 10)")
            assert wide == [], "wider than a phone"

            # Logging out ends it.
            await page.click("header .who button")
            await page.wait_for_url(f"{served}/dashboard/login")
            await page.goto(f"{served}/dashboard")
            assert page.url.endswith("/dashboard/login")
        finally:
            await browser.close()
    assert problems == []
