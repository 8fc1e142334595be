"""`helpline report --html`: one HTML file, standalone (no script, nothing fetched), the figures in it,
and every text from the report escaped, however hostile."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.report_html import render_report_html, write_report_html
from tests.bot.dashboard.sample import HOSTILE_ENTRY, HOSTILE_QUESTION, sample_report
from tests.bot.test_cli_flow import helpline, write_config


class Page(HTMLParser):
    """Tags, attributes and text of an HTML page, as a browser's tokenizer sees them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.tiles: dict[str, str] = {}
        self._tile: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "div" and dict(attrs).get("data-figure"):
            self._tile = dict(attrs)["data-figure"]
            self.tiles[self._tile] = ""

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._tile is not None:
            self.tiles[self._tile] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "div":
            self._tile = None


def parse(text: str) -> Page:
    page = Page()
    page.feed(text)
    page.close()
    return page


def test_the_file_stands_alone_with_the_figures_and_charts(tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    write_report_html(sample_report(), path)
    page = parse(path.read_text(encoding="utf-8"))
    names = [tag for tag, _ in page.tags]
    assert "script" not in names and "link" not in names and "img" not in names and "iframe" not in names
    assert names.count("svg") == 6  # the charts, inline
    assert not [attrs for _, attrs in page.tags if any(k.startswith("on") for k in attrs)]
    assert not [attrs for _, attrs in page.tags if any(v and "://" in v and k in ("src", "href") for k, v in attrs.items())]
    assert page.tiles["conversations"].endswith("42")
    assert "50.0%" in page.tiles["deflection_rate"] and "66.7%" in page.tiles["csat.score"]
    assert "5m 30s" in page.tiles["first_response_seconds.median"] and "p90 30m 00s" in page.tiles["first_response_seconds.median"]
    assert "2h 00m" in page.tiles["resolution_seconds.median"] and page.tiles["cases.backlog"].endswith("3")
    assert "+25" in page.tiles["nps.score"] and "2.3" in page.tiles["ces.average"]
    text = "".join(page.text)
    for words in ("By team", "By channel", "By agent", "By language", "Top FAQ entries", "Top gaps", "Topics"):
        assert words in text


def test_hostile_names_and_questions_stay_text(tmp_path: Path) -> None:
    page = parse(render_report_html(sample_report()))
    text = "".join(page.text)
    assert HOSTILE_ENTRY in text and HOSTILE_QUESTION in text and "Maria <b>" in text
    names = [tag for tag, _ in page.tags]
    assert "img" not in names and "script" not in names and "b" not in names


def test_a_report_object_is_written_from_its_json(tmp_path: Path) -> None:
    class Report:
        def to_json(self) -> dict[str, Any]:
            return sample_report()

    write_report_html(Report(), tmp_path / "r.html")
    written = parse((tmp_path / "r.html").read_text(encoding="utf-8"))
    assert written.tiles == parse(render_report_html(sample_report())).tiles and written.tiles


def test_an_empty_period_renders() -> None:
    report = sample_report()
    empty = {**report, "conversations": 0, "deflection_rate": None, "top_entries": [], "top_gaps": [], "topics": [],
             "by_team": {}, "by_agent": {}, "by_channel": {}, "by_language": {},
             "csat": {"responses": 0, "score": None, "distribution": {str(n): 0 for n in range(1, 6)}},
             "series": {**report["series"], "conversations_by_channel": {},
                        "deflection_rate": [None] * 7, "first_response_median_seconds": [None] * 7,
                        "resolution_median_seconds": [None] * 7, "csat_score": [None] * 7}}
    page = parse(render_report_html(empty))
    assert "nothing in this period" in "".join(page.text)


_hostile = st.text(alphabet=st.sampled_from(list("<>&\"'/= \n\tabcscriptimgé🙂\u2028")), min_size=1, max_size=40)


@settings(max_examples=30, deadline=None)
@given(_hostile, _hostile, _hostile)
def test_any_text_is_escaped(entry: str, question: str, team: str) -> None:
    report = sample_report()
    report["top_entries"] = [{"entry": entry, "answered": 3, "resolved_rate": 0.5}]
    report["top_gaps"] = [{"question": question, "count": 2, "closest_entry": entry}]
    report["by_team"] = {team: report["by_team"]["support"]}
    report["team"] = team
    page = parse(render_report_html(report))
    assert {tag for tag, _ in page.tags} <= {"html", "head", "meta", "title", "style", "body", "main", "h1", "h2",
                                             "p", "section", "div", "span", "figure", "table", "thead", "tbody",
                                             "tr", "th", "td", "svg", "defs", "g", "rect", "path", "text",
                                             "desc", "circle", "line", "polyline", "tspan", "clippath"} | {"!doctype"}
    text = "".join(page.text)
    squeeze = " ".join(entry.split())  # chart labels fold whitespace; the tables keep it as written
    assert entry in text or squeeze in text
    assert question in text


async def test_helpline_report_html_writes_the_file(tmp_path: Path, prefix: str, redis: Any) -> None:
    config = write_config(tmp_path, prefix)
    out = tmp_path / "week.html"
    code, stdout, stderr = await helpline(config, "report", "--since", "7d", "--html", str(out))
    assert code == 0, stderr
    page = parse(out.read_text(encoding="utf-8"))
    assert page.tiles["conversations"].endswith("0") and [tag for tag, _ in page.tags].count("svg") == 6
    code, stdout, _ = await helpline(config, "report", "--since", "7d", "--json")
    assert json.loads(stdout)["conversations"] == 0
