"""`helpline report --html FILE`: the report as one self-contained HTML file a supervisor can mail.

Style inline, charts inline as SVG (bot/charts.py), no script and nothing fetched: it shows the same
opened from a mail, a disk or a browser offline. Every text from the report (entry ids, customers'
questions, team, agent and channel names) is escaped.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import datetime
from html import escape
from pathlib import Path
from typing import Any, Protocol

from bot.charts import (
    Report,
    csat_chart,
    rates_chart,
    response_chart,
    top_entries_chart,
    top_gaps_chart,
    volume_chart,
)

_STYLE = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2937;margin:0;background:#f9fafb}
main{max-width:1100px;margin:0 auto;padding:1rem}
h1{font-size:1.4rem;margin:.2rem 0}h2{font-size:1.1rem;margin:1.4rem 0 .5rem}
.muted{color:#6b7280}
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:.6rem}
.tile{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:.6rem .75rem}
.tile .label{display:block;color:#6b7280;font-size:.85rem}.tile .value{display:block;font-size:1.4rem;font-weight:600}
.tile .sub{display:block;color:#6b7280;font-size:.8rem}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(440px,1fr));gap:1rem}
figure{margin:0;background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:.5rem}
figure svg{width:100%;height:auto;display:block}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #e5e7eb}
th,td{text-align:left;padding:.35rem .55rem;border-bottom:1px solid #e5e7eb;vertical-align:top;overflow-wrap:anywhere}
th{font-size:.85rem;color:#6b7280}
@media (max-width:720px){.charts{grid-template-columns:1fr}.tiles{grid-template-columns:repeat(2,1fr)}}
"""


class _HasJson(Protocol):
    def to_json(self) -> dict[str, Any]: ...


def write_report_html(report: _HasJson | Report, path: str | os.PathLike[str]) -> None:
    """Write `report` (router.report's Report, or its JSON, that of `helpline report --json`) to
    `path` as a standalone HTML page."""
    body = report.to_json() if hasattr(report, "to_json") else report
    Path(path).write_text(render_report_html(body), encoding="utf-8")


def render_report_html(report: Report) -> str:
    scope = ", ".join(part for part in (
        f"team {report['team']}" if report.get("team") else "", f"channel {report['channel']}" if report.get("channel") else "")
        if part) or "all teams and channels"
    title = f"Helpline report {_day(report.get('since'))} – {_day(report.get('until'))}"
    charts = [volume_chart, response_chart, rates_chart, csat_chart, top_entries_chart, top_gaps_chart]
    parts = [
        "<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body><main>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="muted">{escape(_when(report.get("since")))} to {escape(_when(report.get("until")))} · {escape(scope)}</p>',
        '<section class="tiles" id="figures">', *_tiles(report), "</section>",
        '<h2>Over time</h2><section class="charts">',
        *(f"<figure>{draw(report)}</figure>" for draw in charts),
        "</section>",
    ]
    for key, heading in (("by_team", "By team"), ("by_channel", "By channel"), ("by_agent", "By agent"),
                         ("by_language", "By language")):
        groups = report.get(key) or {}
        if groups:
            parts += [f"<h2>{heading}</h2>", _breakdown(key, groups)]
    parts += ["<h2>Top FAQ entries</h2>", _table("top-entries", ["Entry", "Answered", "Resolved"], [
        [row.get("entry"), _count(row.get("answered")), _pct(row.get("resolved_rate"))]
        for row in report.get("top_entries") or []])]
    parts += ["<h2>Top gaps</h2>", _table("top-gaps", ["Question", "Count", "Closest entry"], [
        [row.get("question"), _count(row.get("count")), row.get("closest_entry") or "–"]
        for row in report.get("top_gaps") or []])]
    topics = report.get("topics") or []
    if topics:
        parts += ["<h2>Topics</h2>", _table("topics", ["Topic", "Kind", "Count", "Previous period", "Resolved"], [
            [row.get("topic"), row.get("kind"), _count(row.get("count")), _count(row.get("previous_count")),
             _pct(row.get("resolution_rate"))] for row in topics])]
    parts += ['<p class="muted">Computed by Helpline from its events stream; the definitions are in its README.</p>',
              "</main></body></html>"]
    return "\n".join(parts) + "\n"


# (path in the report, label, format, optional second line: path, format, words before it)
_FIGURES: list[tuple[str, str, Callable[[Any], str], tuple[str, Callable[[Any], str], str] | None]] = []


def _tiles(report: Report) -> list[str]:
    tiles = []
    for path, label, fmt, second in _FIGURES:
        sub = ""
        if second is not None:
            sub = f'<span class="sub">{escape(second[2] + second[1](_get(report, second[0])))}</span>'
        tiles.append(f'<div class="tile" data-figure="{escape(path)}"><span class="label">{escape(label)}</span>'
                     f'<span class="value">{escape(fmt(_get(report, path)))}</span>{sub}</div>')
    return tiles


def _breakdown(key: str, groups: Mapping[str, Any]) -> str:
    rows = [[name, _count(f.get("conversations")), _pct(f.get("deflection_rate")),
             _count(_get(f, "cases.opened")), _count(_get(f, "cases.resolved")),
             duration(_get(f, "first_response_seconds.median")), duration(_get(f, "resolution_seconds.median")),
             _pct(_get(f, "first_contact_resolution")), _pct(_get(f, "csat.score"))]
            for name, f in sorted(groups.items())]
    return _table(key.replace("_", "-"), ["", "Conversations", "Deflection", "Opened", "Resolved",
                                          "First response (median)", "Resolution (median)", "First-contact", "CSAT"], rows)


def _table(table_id: str, headings: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headings)
    if not rows:
        body = f'<tr><td colspan="{len(headings)}" class="muted">nothing in this period</td></tr>'
    else:
        body = "".join("<tr>" + "".join(f"<td>{escape(str(cell))}</td>" for cell in row) + "</tr>" for row in rows)
    return f'<table id="{escape(table_id)}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _get(data: Any, path: str) -> Any:
    for key in path.split("."):
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data


def _pct(value: Any) -> str:
    return "–" if value is None else f"{float(value) * 100:.1f}%"


def _count(value: Any) -> str:
    return "–" if value is None else str(value)


def _one(value: Any) -> str:
    return "–" if value is None else f"{float(value):.1f}"


def _signed(value: Any) -> str:
    return "–" if value is None else f"{float(value):+.0f}"


def duration(seconds: Any) -> str:
    """Like the dashboard shows a duration: 45s, 5m 30s, 2h 05m, 1d 03h."""
    if seconds is None:
        return "–"
    s = max(0, int(float(seconds)))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86400}d {s % 86400 // 3600:02d}h"


_FIGURES += [
    ("conversations", "Conversations", _count, None),
    ("deflection_rate", "Handled by the bot alone", _pct, None),
    ("handoff_rate", "Handed to a person", _pct, None),
    ("cases.opened", "Cases opened", _count, None),
    ("cases.resolved", "Cases resolved", _count, None),
    ("cases.reopened", "Cases reopened", _count, None),
    ("cases.backlog", "Backlog", _count, None),
    ("first_response_seconds.median", "First response (median)", duration, ("first_response_seconds.p90", duration, "p90 ")),
    ("resolution_seconds.median", "Resolution (median)", duration, ("resolution_seconds.p90", duration, "p90 ")),
    ("first_contact_resolution", "First-contact resolution", _pct, None),
    ("csat.score", "CSAT (4–5)", _pct, ("csat.responses", _count, "answers: ")),
    ("nps.score", "NPS", _signed, ("nps.responses", _count, "answers: ")),
    ("ces.average", "Customer effort (1–7)", _one, ("ces.responses", _count, "answers: ")),
]


def _day(value: Any) -> str:
    return _when(value)[:10]


def _when(value: Any) -> str:
    if not value:
        return "?"
    try:
        return datetime.fromisoformat(str(value)).strftime("%Y-%m-%d %H:%M %Z").strip()
    except ValueError:
        return str(value)
