"""The dashboard in a real browser: Debian's Chromium, headless, driven by Playwright.

A scripted history goes through the real router (customers, an agent, ratings) and its events are
spread over the past week; the service's HTTP app serves the dashboard on port 0. The test logs in
through the form, checks every figure shown against `helpline report --json`'s computation for the
same query, sees a newly queued case appear without a reload, finds no sideways scrolling and no split
word at a phone's width, and saves screenshots (desktop and phone). The checks are page_checks.py's,
shared with the Firefox test (test_browser_firefox.py), which imports this module's fixtures.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import Helpline
from bot.http import start_http_server
from bot.settings import Settings
from router.messages import ActionKind
from tests.bot.dashboard.page_checks import (
    HOSTILE_NAME,
    PHONE,
    REPORT_CSP,
    check_live_update,
    check_phone,
    check_report_shown,
    check_sla_shown,
    dashboard_url,
    expected_report,
    period,
    set_sla_clocks,
)
from tests.bot.dashboard.test_views import TOKEN, dashboard_settings, with_sla
from tests.drivers import Agent, Customer

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.timeout(240)
# Each part of the history is moved this far into the past (seconds): the charts get a week to show.
DAYS_BACK = [6, 5, 4, 3, 2, 1, 0]
STEP_SECONDS = 420


@pytest.fixture
def chromium() -> str:
    """Debian's chromium, and Playwright to drive it; a skip if either is missing, except in CI."""
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
    return CHROMIUM


# Named apart from the fixtures they are, so that the Firefox test imports them without shadowing them.
@pytest.fixture(name="settings")
def browser_settings(prefix: str) -> Settings:
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


@pytest.fixture(name="served")
async def served_dashboard(helpline: Helpline, customer: Customer, agent: Agent) -> AsyncIterator[str]:
    await _history(helpline, customer, agent)
    runner = await start_http_server(helpline, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def test_the_dashboard_in_chromium_shows_the_report_and_live_queue(
        chromium: str, served: str, helpline: Helpline, customer: Customer, tmp_path: Path, prefix: str) -> None:
    from playwright.async_api import async_playwright

    since, until = period()
    expected = await expected_report(tmp_path, prefix, since, until)
    await set_sla_clocks(helpline)
    problems: list[str] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            await page.add_init_script(f"({REPORT_CSP})()")
            # The browser's own favicon request (404) and the wrong password (401) are expected; any other
            # error (a script error, a refused style or script, a failed request) is a fault.
            page.on("console", lambda message: problems.append(f"{message.text} {message.location.get('url')}")
                    if message.type == "error" and not message.location.get("url", "").endswith(
                        ("/favicon.ico", "/dashboard/login")) else None)
            page.on("pageerror", lambda error: problems.append(str(error)))
            url = dashboard_url(served, since, until)

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

            await check_report_shown(page.evaluate, expected)
            await check_live_update(page.evaluate, helpline, customer)
            await check_sla_shown(page.evaluate)

            await page.screenshot(path=str(tmp_path / "dashboard-desktop.png"), full_page=True)
            await page.set_viewport_size({"width": PHONE[0], "height": PHONE[1]})
            await check_phone(page.evaluate)
            await page.screenshot(path=str(tmp_path / "dashboard-phone.png"), full_page=True)
            keep_screenshots(tmp_path, "dashboard")

            # Logging out ends it.
            await page.click("header .who button")
            await page.wait_for_url(f"{served}/dashboard/login")
            await page.goto(f"{served}/dashboard")
            assert page.url.endswith("/dashboard/login")
        finally:
            await browser.close()
    assert problems == []


def keep_screenshots(folder: Path, prefix: str) -> None:
    """Copy the screenshots to $HELPLINE_SCREENSHOTS, a folder to keep them in and look at, if set."""
    if os.environ.get("HELPLINE_SCREENSHOTS"):
        for shot in sorted(folder.glob(f"{prefix}-*.png")):
            shutil.copy(shot, Path(os.environ["HELPLINE_SCREENSHOTS"]) / shot.name)
