"""The dashboard in a real Firefox: Debian's firefox-esr, headless, driven over WebDriver BiDi (bidi.py).

The same scripted week and the same checks as the Chromium test (test_browser.py, page_checks.py): log
in through the form with real typing and clicks, every figure against `helpline report --json`, a newly
queued case appearing without a reload, no sideways scrolling at a phone's width, screenshots; and no
script error, CSP refusal or failed request on the way.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from bot.app import Helpline
from tests.bot.dashboard.bidi import FIREFOX, Event, Session, Tab, launch_firefox
from tests.bot.dashboard.page_checks import (
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
    until,
)
from tests.bot.dashboard.test_browser import (  # noqa: F401 (the fixtures served and settings)
    browser_settings,
    keep_screenshots,
    served_dashboard,
)
from tests.bot.dashboard.test_views import TOKEN
from tests.drivers import Customer

pytestmark = pytest.mark.timeout(240)
# The browser's own favicon request (404) and the wrong password (401) are expected failures.
EXPECTED_FAILURES = {"/favicon.ico": 404, "/dashboard/login": 401}


@pytest.fixture
def firefox() -> str:
    """Debian's firefox-esr; a skip if it is missing, except in CI."""
    if not os.path.exists(FIREFOX):
        if os.environ.get("CI"):
            pytest.fail("firefox-esr is missing: scripts/setup --for-tests installs it")
        pytest.skip("Debian's firefox-esr is not installed (scripts/setup --for-tests)")
    return FIREFOX


def problems(events: Iterable[Event], navigating: bool) -> list[str]:
    """Script errors (CSP refusals among them, see REPORT_CSP) and failed requests among `events`. While
    the test is `navigating` from page to page, a request the browser cancels because the page it came
    from is left (NS_BINDING_ABORTED) is no fault."""
    found: list[str] = []
    for event in events:
        if event.method == "log.entryAdded" and event.params.get("level") == "error":
            found.append(f"{event.params.get('type')}: {event.params.get('text')}")
        elif event.method == "network.fetchError":
            if navigating and event.params.get("errorText") == "NS_BINDING_ABORTED":
                continue
            found.append(f"failed: {event.params['request']['url']} {event.params.get('errorText')}")
        elif event.method == "network.responseCompleted":
            status, url = event.params["response"]["status"], event.params["request"]["url"]
            path = "/" + url.split("://", 1)[-1].partition("/")[2].partition("?")[0]
            if status >= 400 and EXPECTED_FAILURES.get(path) != status:
                found.append(f"{status}: {url}")
    return found


async def submit(browser: Session, tab: Tab, password: str) -> str:
    """Type the password into the login form, press its button, and wait for the page it leads to."""
    await tab.type_into("input[name=password]", password)
    mark = browser.mark()
    await tab.click("button[type=submit]")
    loaded = await browser.wait_for("browsingContext.load", lambda params: params["context"] == tab.context,
                                    after=mark)
    url: str = loaded.params["url"]
    return url


async def test_the_dashboard_in_firefox_shows_the_report_and_live_queue(
        firefox: str, served: str, helpline: Helpline, customer: Customer, tmp_path: Path, prefix: str) -> None:
    since, until_ = period()
    expected = await expected_report(tmp_path, prefix, since, until_)
    await set_sla_clocks(helpline)
    async with launch_firefox(firefox) as browser:
        await browser.subscribe("log.entryAdded", "browsingContext.load", "network.responseCompleted",
                                "network.fetchError")
        await browser.command("script.addPreloadScript", {"functionDeclaration": REPORT_CSP})
        tab = await browser.tab()
        await tab.set_viewport(1280, 900)
        evaluate = tab.call
        url = dashboard_url(served, since, until_)

        assert (await tab.navigate(url)).endswith("/dashboard/login")  # no way in without logging in
        assert (await submit(browser, tab, "wrong")).endswith("/dashboard/login")
        assert "Wrong token" in await evaluate("() => document.querySelector('.message').textContent")
        await tab.screenshot(tmp_path / "firefox-dashboard-login.png")
        assert await submit(browser, tab, TOKEN) == f"{served}/dashboard"
        await tab.navigate(url)
        looking = browser.mark()  # from here on the dashboard is the page, until the test logs out
        await until(evaluate, "() => document.body.hasAttribute('data-loaded') && "
                              "document.querySelectorAll('#figures .tile').length > 0")

        await check_report_shown(evaluate, expected)
        await check_live_update(evaluate, helpline, customer)
        await check_sla_shown(evaluate)

        await tab.screenshot(tmp_path / "firefox-dashboard-desktop.png", full_page=True)
        await tab.set_viewport(*PHONE)
        await check_phone(evaluate)
        await tab.screenshot(tmp_path / "firefox-dashboard-phone.png", full_page=True)
        keep_screenshots(tmp_path, "firefox-dashboard")
        for name in ("login", "desktop", "phone"):
            assert _png_width(tmp_path / f"firefox-dashboard-{name}.png") > 0

        # Logging out ends it.
        mark = browser.mark()
        kept = list(browser.events)
        await tab.click("header .who button")
        loaded = await browser.wait_for("browsingContext.load", after=mark)
        assert loaded.params["url"] == f"{served}/dashboard/login"
        assert (await tab.navigate(f"{served}/dashboard")).endswith("/dashboard/login")
        kept += list(browser.events)[len(kept):]
    found = problems(kept[:looking] + kept[mark:], navigating=True) + problems(kept[looking:mark], navigating=False)
    assert found == [], "\n".join(found)


def _png_width(path: Path) -> int:
    """The image's width from its PNG header (a screenshot that is a real picture)."""
    head: Any = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", path
    return int.from_bytes(head[16:20], "big")
