"""What the dashboard must show, checked the same way in every browser the tests drive (Chromium through
Playwright, Firefox through WebDriver BiDi): each check runs JavaScript functions in the page through the
browser's `evaluate`, so no check is written twice."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.app import Helpline
from bot.report_html import _count, _pct, duration
from tests.bot.test_cli_flow import helpline as run_helpline
from tests.bot.test_cli_flow import write_config
from tests.drivers import Customer

# Runs a JavaScript function declaration ("() => ...") in the page and gives back its JSON-like result.
Evaluate = Callable[[str], Awaitable[Any]]

HOSTILE_NAME = '<img src=x onerror="document.title=1">Eve'
PHONE = (390, 844)  # an iPhone 12 to 15's viewport in CSS pixels

FIGURE_TEXT = {
    "conversations": _count, "deflection_rate": _pct, "handoff_rate": _pct, "cases.opened": _count,
    "cases.resolved": _count, "cases.reopened": _count, "cases.backlog": _count,
    "first_response_seconds.median": duration, "resolution_seconds.median": duration,
    "first_contact_resolution": _pct, "csat.score": _pct, "csat.responses": _count, "nps.responses": _count,
    "ces.responses": _count, "first_response_seconds.p90": duration, "resolution_seconds.p90": duration,
}
# Every violation of the page's Content-Security-Policy becomes a console error, in any browser (Firefox
# does not pass its own CSP reports to WebDriver BiDi's log).
REPORT_CSP = ("() => document.addEventListener('securitypolicyviolation', (e) => "
              "console.error('CSP refused ' + e.violatedDirective + ': ' + e.blockedURI))")
CHARTS_LOADED = ("() => Array.from(document.querySelectorAll('img[data-chart]'))"
                 ".every(img => img.complete && img.naturalWidth > 0)")
CHARTS_NARROW = ("() => Array.from(document.querySelectorAll('img[data-chart]'))"
                 ".every(img => img.complete && img.naturalWidth > 0 && img.currentSrc.includes('size=narrow'))")


async def until(evaluate: Evaluate, predicate: str, timeout: float = 10) -> None:
    """Poll `predicate` in the page (a string function evaluated by the driver: the page's
    Content-Security-Policy rightly forbids the page itself to evaluate strings)."""
    deadline = time.monotonic() + timeout
    while not await evaluate(predicate):
        assert time.monotonic() < deadline, f"not within {timeout}s: {predicate}"
        await asyncio.sleep(0.1)


def _get(data: Any, path: str) -> Any:
    for key in path.split("."):
        data = data[key]
    return data


def period() -> tuple[str, str]:
    """The week the scripted history spans, as the dashboard's `since` and `until`."""
    now = time.time()
    return (datetime.fromtimestamp(now - 7 * 86400, UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00"),
            datetime.fromtimestamp(now + 600, UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00"))


def dashboard_url(served: str, since: str, until: str) -> str:
    return f"{served}/dashboard?since={since.replace('+', '%2B')}&until={until.replace('+', '%2B')}"


async def expected_report(tmp_path: Path, prefix: str, since: str, until: str) -> dict[str, Any]:
    """What `helpline report --json` prints for the period, run as a supervisor would run it; checked to be
    the scripted history's, so that the figures are worth comparing."""
    code, out, err = await run_helpline(write_config(tmp_path, prefix), "report", "--since", since, "--until", until,
                                        "--json")
    assert code == 0, err
    expected: dict[str, Any] = json.loads(out)
    assert expected["conversations"] == 9 and expected["cases"]["opened"] == 6 and expected["cases"]["backlog"] == 3 and expected["csat"]["responses"] == 3
    assert sum(1 for count in expected["series"]["conversations_by_channel"]["console"] if count) >= 5
    return expected


async def check_report_shown(evaluate: Evaluate, expected: dict[str, Any]) -> None:
    """Every figure, table row and chart of the loaded dashboard is the report's, and the live part shows
    the waiting and held cases with customer names as text, not markup."""
    shown = await evaluate("() => Array.from(document.querySelectorAll('[data-figure]'), n => [n.dataset.figure, "
                           "n.dataset.value, (n.querySelector('.value') || n).textContent])")
    assert len(shown) >= 13
    for path, value, text in shown:
        assert json.loads(value) == _get(expected, path), path
        if path in FIGURE_TEXT:
            assert FIGURE_TEXT[path](_get(expected, path)) in text, (path, text)
    rows = await evaluate("() => Array.from(document.querySelectorAll('#by-team tbody tr[data-team]'), "
                          "r => Array.from(r.cells, c => c.textContent))")
    assert [row[0] for row in rows] == sorted(expected["by_team"])
    for row in rows:
        figures = expected["by_team"][row[0]]
        assert row[1:5] == [str(figures["conversations"]), _pct(figures["deflection_rate"]),
                            str(figures["cases"]["opened"]), str(figures["cases"]["resolved"])]
    entries = await evaluate("() => Array.from(document.querySelectorAll('#top-entries tbody td.entry'), c => c.textContent)")
    assert entries == [row["entry"] for row in expected["top_entries"]] and entries
    gaps = await evaluate("() => Array.from(document.querySelectorAll('#top-gaps tbody td.question'), c => c.textContent)")
    assert gaps == [row["question"] for row in expected["top_gaps"]]

    # The charts are the server's SVG images, and they loaded.
    await until(evaluate, CHARTS_LOADED)

    # Live: the waiting cases, the customer's name as text, not as markup.
    names = await evaluate("() => Array.from(document.querySelectorAll('#queues li .customer'), n => n.textContent)")
    assert HOSTILE_NAME in names and "Gus" in names
    assert await evaluate("() => document.querySelectorAll('#queues img, #figures img, table img').length") == 0
    assert await evaluate("() => document.title") == "Helpline dashboard"
    held = await evaluate("() => Array.from(document.querySelectorAll('#agents .agent'), n => [n.dataset.agent, "
                          "Array.from(n.querySelectorAll('li .customer'), c => c.textContent)])")
    assert held == [["maria", ["Hal"]]]


async def check_live_update(evaluate: Evaluate, helpline: Helpline, customer: Customer) -> None:
    """A case queued now appears without a reload."""
    assert await evaluate("() => { window.__same_page = true; return window.__same_page; }") is True
    await Customer(helpline, customer.worker, name="Newcomer").say("I want to talk to a human")
    await until(evaluate, "() => Array.from(document.querySelectorAll('#queues li .customer'))"
                          ".some(n => n.textContent === 'Newcomer')", timeout=15)
    assert await evaluate("() => window.__same_page === true") is True
    assert await evaluate("() => document.querySelector('#queues .queue[data-team=support] .badge').textContent") == "3 waiting"


async def set_sla_clocks(helpline: Helpline) -> None:
    """Gus has waited 40 minutes (his first-response SLA of 30 breached), Eve 28 (near breach), by their
    cases' queue times."""
    for number in await helpline.redis.zrange(helpline.keys.queue("support"), 0, -1):
        name = await helpline.redis.hget(helpline.keys.case(int(number)), "customer_name")
        minutes = {"Gus": 40, HOSTILE_NAME: 28}.get(name or "")
        if minutes:
            await helpline.redis.hset(helpline.keys.case(int(number)), "queued_at", repr(time.time() - minutes * 60))


async def check_sla_shown(evaluate: Evaluate) -> None:
    """Each waiting case shows its first-response SLA (after `set_sla_clocks` and `check_live_update`)."""
    slas = await evaluate("() => Array.from(document.querySelectorAll('#queues .queue[data-team=support] li[data-case]'), "
                          "r => [r.querySelector('.customer').textContent, r.querySelector('.sla') && "
                          "r.querySelector('.sla').dataset.sla, r.querySelector('.sla') && r.querySelector('.sla').textContent])")
    states = {name: (state, text) for name, state, text in slas}
    assert states["Newcomer"][0] == "ok" and states["Newcomer"][1].startswith("SLA ok, ")
    assert states["Gus"][0] == "breached" and states["Gus"][1].startswith("SLA breached 10m ")
    assert states[HOSTILE_NAME][0] == "near_breach" and states[HOSTILE_NAME][1].startswith("SLA near breach, 1m ")


async def check_phone(evaluate: Evaluate) -> None:
    """At a phone's width (the viewport already set) the charts are the narrow ones and nothing is wider
    than the screen: no sideways scrolling of the page; wide tables scroll inside their own box."""
    await until(evaluate, CHARTS_NARROW)
    assert await evaluate("() => innerWidth") == PHONE[0]
    # clientWidth: the viewport less a classic scrollbar (headless Firefox has one, a phone's overlays).
    widths = await evaluate("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth, "
                            "innerWidth]")
    assert widths[0] <= widths[1] <= widths[2], f"the page scrolls sideways on a phone: {widths}"
    wide = await evaluate("() => Array.from(document.querySelectorAll('body *'))"
                          ".filter(n => !n.closest('.scroll'))"
                          ".filter(n => n.getBoundingClientRect().right > document.documentElement.clientWidth + 1)"
                          ".map(n => n.tagName + '.' + n.className + '#' + n.id).slice(0, 10)")
    assert wide == [], f"wider than a phone: {wide}"
    # Squeezing may wrap text but not split short words ("supp|ort"): long ones (links, pasted junk)
    # may break, or they would push the page sideways.
    split = await evaluate(SPLIT_WORDS)
    assert split == [], f"words split across lines on a phone: {split}"


SPLIT_WORDS = """() => {
  const split = [];
  for (const node of document.querySelectorAll("main td, main th, .tile span, #queues li span, #agents li span")) {
    for (const text of node.childNodes) {
      if (text.nodeType !== Node.TEXT_NODE) continue;
      for (const word of text.data.matchAll(/[^\\s\\-–]+/g)) {
        if (word[0].length > 12) continue;
        const range = document.createRange();
        range.setStart(text, word.index);
        range.setEnd(text, word.index + word[0].length);
        const lines = new Set(Array.from(range.getClientRects(), (rect) => Math.round(rect.top)));
        if (lines.size > 1) split.push(word[0]);
      }
    }
  }
  return split.slice(0, 10);
}"""
