"""The report's charts as SVG, drawn by pygal on the server from the JSON of `helpline report --json`.

Used by the dashboard (each chart an `<img>` of its own URL, so no script of ours or pygal's runs in
the page) and by `helpline report --html` (inline, so the file stands alone). pygal writes text
through ElementTree, which escapes it; its own `<script>` (tooltip configuration) is removed, so the
SVG has no script at all and passes a strict Content-Security-Policy.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pygal
from pygal.style import Style

# pygal appends a legacy `sys.meta_path` finder for its map plugins (not used here), and Python then
# warns (ImportWarning) on every import that reaches it, such as any optional import that fails.
sys.meta_path[:] = [finder for finder in sys.meta_path if type(finder).__name__ != "PluginImportFixer"]

Report = Mapping[str, Any]  # the JSON of `helpline report --json` (router's Report.to_json())

MAX_BARS = 10  # top entries and gaps: the biggest ten
MAX_LABEL_CHARS = 60
STYLE = Style(
    background="transparent", plot_background="transparent", foreground="#333", foreground_strong="#111",
    foreground_subtle="#888", font_family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
    title_font_size=22, label_font_size=15, major_label_font_size=15, legend_font_size=16,
    value_font_size=15, tooltip_font_size=15,
    colors=("#2563eb", "#16a34a", "#ea580c", "#9333ea", "#dc2626", "#0891b2", "#ca8a04", "#4b5563"),
)
_SVG_NS = "http://www.w3.org/2000/svg"


@dataclass(frozen=True, slots=True)
class Size:
    """A chart's drawing size; text keeps its size in it, so a narrow chart shown small stays legible."""

    width: int = 800
    height: int = 340
    x_labels: int = 8  # at most this many time labels
    label_chars: int = 40


WIDE = Size()
NARROW = Size(width=440, height=360, x_labels=4, label_chars=18)  # for a phone


def _config(size: Size, **options: Any) -> dict[str, Any]:
    return {"style": STYLE, "js": [], "disable_xml_declaration": True, "width": size.width, "height": size.height,
            "explicit_size": False, "print_values": False, "margin": 12, "legend_at_bottom": True,
            "truncate_legend": 40, "truncate_label": 30, "no_data_text": "no data", **options}


def _labels(report: Report) -> list[str]:
    series = report.get("series") or {}
    hourly = int(series.get("bucket_seconds") or 86400) < 86400
    labels = []
    for start in series.get("starts") or []:
        try:
            when = datetime.fromisoformat(str(start))
        except ValueError:
            labels.append(str(start)[:16])
            continue
        labels.append(when.strftime("%d %b %H:%M") if hourly else when.strftime("%a %d %b"))
    return labels


def _major_every(count: int, size: Size) -> int:
    return max(1, -(-count // size.x_labels))


def _render(chart: pygal.graph.graph.Graph) -> str:
    root = chart.render_tree()
    for parent in list(root.iter()):
        for child in list(parent):
            if child.tag in ("script", f"{{{_SVG_NS}}}script"):
                parent.remove(child)
    ET.register_namespace("", _SVG_NS)
    ET.register_namespace("xlink", "http://www.w3.org/1999/xlink")
    text = ET.tostring(root, encoding="unicode")
    if "<script" in text:  # never serve a chart with a script, whatever pygal does in a later version
        raise RuntimeError("pygal chart still holds a script")
    return text


def _counts_axis(chart: Any, values: Sequence[int | None]) -> None:
    """Whole numbers on the value axis: counts have no halves."""
    biggest = max([v for v in values if v is not None], default=0)
    if not biggest:
        return  # nothing counted (or no series at all, where pygal draws "no data" and takes no labels)
    step = max(1, -(-biggest // 6))
    chart.y_labels = list(range(0, biggest + step + 1, step))


def _x_axis(chart: Any, labels: Sequence[str], size: Size) -> None:
    chart.x_labels = list(labels)
    chart.x_labels_major_every = _major_every(len(labels), size)
    chart.show_minor_x_labels = False
    chart.x_label_rotation = 0 if len(labels) <= size.x_labels else 30


def volume_chart(report: Report, size: Size = WIDE) -> str:
    """Conversations per bucket, stacked by channel."""
    series = report.get("series") or {}
    chart = pygal.StackedBar(**_config(size, title="Conversations by channel"))
    _x_axis(chart, _labels(report), size)
    by_channel = {str(channel): [int(v) if v is not None else None for v in counts]
                  for channel, counts in (series.get("conversations_by_channel") or {}).items()}
    for channel, counts in sorted(by_channel.items()):
        chart.add(_cut(channel), counts)
    totals = [sum(v or 0 for v in column) for column in zip(*by_channel.values())]
    _counts_axis(chart, totals)
    return _render(chart)


def response_chart(report: Report, size: Size = WIDE) -> str:
    """Median first response and resolution time per bucket, in minutes or hours."""
    series = report.get("series") or {}
    first = _floats(series.get("first_response_median_seconds"))
    resolution = _floats(series.get("resolution_median_seconds"))
    biggest = max([v for v in first + resolution if v is not None], default=0.0)
    unit, divisor = ("hours", 3600.0) if biggest >= 3 * 3600 else ("minutes", 60.0)
    chart = pygal.Line(**_config(size, title=f"Median times ({unit})", allow_interruptions=True, show_dots=True,
                                 dots_size=3, min_scale=3, max_scale=6, value_formatter=lambda v: f"{v:.1f}"))
    _x_axis(chart, _labels(report), size)
    chart.add("first response", [None if v is None else round(v / divisor, 2) for v in first])
    chart.add("resolution", [None if v is None else round(v / divisor, 2) for v in resolution])
    return _render(chart)


def rates_chart(report: Report, size: Size = WIDE) -> str:
    """Deflection (handled by the bot alone) and CSAT score per bucket, in percent."""
    series = report.get("series") or {}
    chart = pygal.Line(**_config(size, title="Deflection and CSAT (%)", allow_interruptions=True, range=(0, 100),
                                 show_dots=True, dots_size=3, value_formatter=lambda v: f"{v:.0f}%"))
    _x_axis(chart, _labels(report), size)
    chart.add("deflection", _percents(series.get("deflection_rate")))
    chart.add("CSAT (4-5)", _percents(series.get("csat_score")))
    return _render(chart)


def csat_chart(report: Report, size: Size = WIDE) -> str:
    """How many customers gave each rating, 1 to 5."""
    distribution = (report.get("csat") or {}).get("distribution") or {}
    chart = pygal.Bar(**_config(size, title="CSAT answers", show_legend=False, print_values=True,
                                value_formatter=lambda v: f"{v:.0f}"))
    chart.x_labels = ["1", "2", "3", "4", "5"]
    answers = [int(distribution.get(str(score), 0) or 0) for score in range(1, 6)]
    chart.add("answers", answers)
    _counts_axis(chart, answers)
    return _render(chart)


def top_entries_chart(report: Report, size: Size = WIDE) -> str:
    """The FAQ entries that answered most."""
    rows = list(report.get("top_entries") or [])[:MAX_BARS]
    return _horizontal("Top FAQ entries (answers)", [str(row.get("entry", "")) for row in rows],
                       [int(row.get("answered", 0) or 0) for row in rows], size)


def top_gaps_chart(report: Report, size: Size = WIDE) -> str:
    """What customers asked that the FAQ did not settle, biggest first."""
    rows = list(report.get("top_gaps") or [])[:MAX_BARS]
    return _horizontal("Top gaps (questions)", [str(row.get("question", "")) for row in rows],
                       [int(row.get("count", 0) or 0) for row in rows], size)


def _horizontal(title: str, labels: list[str], values: list[int], size: Size) -> str:
    chart = pygal.HorizontalBar(**_config(size, title=title, show_legend=False, print_values=True,
                                          height=max(200, 60 + 34 * len(values)), truncate_label=size.label_chars,
                                          value_formatter=lambda v: f"{v:.0f}"))
    # Biggest at the top: pygal draws a horizontal bar chart's first value at the bottom.
    chart.x_labels = [_cut(label) for label in reversed(labels)]
    chart.add("count", list(reversed(values)))
    _counts_axis(chart, values)
    return _render(chart)


CHARTS: dict[str, Callable[[Report, Size], str]] = {
    "volume": volume_chart,
    "times": response_chart,
    "rates": rates_chart,
    "csat": csat_chart,
    "entries": top_entries_chart,
    "gaps": top_gaps_chart,
}


def _floats(values: Any) -> list[float | None]:
    return [None if v is None else float(v) for v in (values or [])]


def _percents(values: Any) -> list[float | None]:
    return [None if v is None else round(float(v) * 100, 1) for v in (values or [])]


def _cut(text: str) -> str:
    text = " ".join(text.split())  # a newline or tab in a label would break the chart's layout
    return text if len(text) <= MAX_LABEL_CHARS else text[:MAX_LABEL_CHARS - 1] + "…"
