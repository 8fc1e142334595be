"""`helpline report`: the support numbers of a period as text for a supervisor, JSON or CSV.

The figures come from `router.report.build_report`; this module only parses the options, wires the
knowledge base (closest entries of gaps), the person-request filter and business hours in, and prints.
"""

from __future__ import annotations

import csv
import re
import time
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from router.keys import Keys
from router.report import FaqGapGrouper, Report, ReportQuery, WorkingClock, build_report
from router.report.report import MAX_BUCKETS

if TYPE_CHECKING:
    from bot.settings import Settings
    from faq.kb import KnowledgeBase

_SPAN = re.compile(r"(\d+)([mhdw])")
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
MAX_SPAN_SECONDS = 10 * 365 * 86400


def parse_moment(text: str, now: float) -> float:
    """A moment: a span back from now (30m, 12h, 7d, 2w) or an ISO date or time (UTC unless it says
    otherwise: 2026-11-30, 2026-11-30T08:00, 2026-11-30T08:00+02:00). ValueError otherwise."""
    text = text.strip()
    match = _SPAN.fullmatch(text)
    if match is not None:
        seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        if seconds > MAX_SPAN_SECONDS:
            raise ValueError(f"{text!r} reaches back more than ten years")
        return now - seconds
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is neither a span back from now (30m, 12h, 7d, 2w) nor an ISO date "
                         f"or time (2026-11-30, 2026-11-30T08:00Z)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def query_of(since: str, until: str | None, team: str | None, channel: str | None,
             now: float | None = None) -> ReportQuery:
    """The report's query from the command's options; ValueError with what is wrong."""
    now = time.time() if now is None else now
    start = parse_moment(since, now)
    end = now if until is None else parse_moment(until, now)
    if end <= start:
        raise ValueError("--until must come after --since")
    span = end - start
    bucket = 3600 if span <= 2 * 86400 else 86400 if span <= 400 * 86400 else 7 * 86400
    while span / bucket > MAX_BUCKETS:  # years: weeks of weeks, so the series stays bounded
        bucket *= 7
    return ReportQuery(since=start, until=end, team=team or None, channel=channel or None, bucket_seconds=bucket)


def hours_of(settings: Settings) -> dict[str, WorkingClock]:
    """Each team's business hours (`teams.<t>.business_hours`) as the report's clocks; teams without
    them count wall-clock time."""
    return {key: team.business_hours.hours() for key, team in settings.teams.items()
            if team.business_hours is not None}


def gap_grouper(languages: Sequence[str], kb: KnowledgeBase | None = None,
                extra_words: Mapping[str, Mapping[str, Sequence[str]]] | None = None) -> FaqGapGrouper:
    """Gaps grouped as `faq gaps` groups them: closest entries from `kb`, bare requests for a person
    ("I want to talk to a human") left out."""
    from bot.commands_faq import PersonRequests

    person = PersonRequests(languages, extra_words)
    return FaqGapGrouper(kb, keep=lambda text: not person.only_asks_for_person(text))


async def run_report(redis: Any, keys: Keys, query: ReportQuery, *, languages: Sequence[str],
                     kb: KnowledgeBase | None = None, kb_dir: Path | None = None,
                     extra_words: Mapping[str, Mapping[str, Sequence[str]]] | None = None,
                     hours: Mapping[str, WorkingClock] | None = None) -> Report:
    """The report as `helpline report` makes it. `kb`: the knowledge base in service (the dashboard),
    else the one in `kb_dir` is loaded (the command); one that does not load gives no closest entries."""
    if kb is None and kb_dir is not None:
        from faq import KnowledgeBaseError, load_knowledge_base

        try:
            kb = load_knowledge_base(Path(kb_dir), languages)
        except KnowledgeBaseError:
            kb = None  # what customers asked does not depend on the FAQ files being valid
    return await build_report(redis, keys, query, hours=hours, gaps=gap_grouper(languages, kb, extra_words))


# -- output -------------------------------------------------------------------------------------
_FIGURES = ("conversations", "conversations_with_question", "deflection_rate", "handoff_rate")


def figure_rows(figures: Mapping[str, Any]) -> Iterator[tuple[str, object]]:
    """(figure, value) of one scope's JSON, nested keys joined with dots (cases.opened, csat.score)."""
    for key, value in figures.items():
        if key.startswith("by_") or key in ("since", "until", "team", "channel", "top_entries", "top_gaps",
                                            "topics", "series"):
            continue
        if isinstance(value, Mapping):
            for inner, item in value.items():
                if isinstance(item, Mapping):
                    for score, count in item.items():
                        yield f"{key}.{inner}.{score}", count
                else:
                    yield f"{key}.{inner}", item
        else:
            yield key, value


def write_csv(body: Mapping[str, Any], out: TextIO) -> None:
    """One row per figure per grouping: grouping (all, team, agent, channel, language, entry, gap),
    group (empty for all), figure, value (empty for no data)."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["grouping", "group", "figure", "value"])
    for figure, value in figure_rows(body):
        writer.writerow(["all", "", figure, _csv_value(value)])
    for grouping in ("team", "agent", "channel", "language"):
        for group, figures in body[f"by_{grouping}"].items():
            for figure, value in figure_rows(figures):
                writer.writerow([grouping, _safe(group), figure, _csv_value(value)])
    for entry in body["top_entries"]:
        writer.writerow(["entry", _safe(entry["entry"]), "answered", entry["answered"]])
        writer.writerow(["entry", _safe(entry["entry"]), "resolved_rate", _csv_value(entry["resolved_rate"])])
    for gap in body["top_gaps"]:
        writer.writerow(["gap", _safe(gap["question"]), "count", gap["count"]])
        writer.writerow(["gap", _safe(gap["question"]), "closest_entry", _safe(gap["closest_entry"] or "")])


def _csv_value(value: object) -> str:
    return "" if value is None else str(value)


def _safe(text: str) -> str:
    # A cell starting with = + - @ is a formula to a spreadsheet: a customer's words must stay words.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _duration(seconds: object) -> str:
    if not isinstance(seconds, (int, float)):
        return "-"
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.1f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def _plain(text: str, limit: int = 80) -> str:
    """A customer's or agent's words on a terminal: no control characters (escape sequences), bounded."""
    cleaned = "".join(char if unicodedata.category(char)[0] != "C" else " " for char in text[:limit])
    return cleaned + ("…" if len(text) > limit else "")


def _percent(value: object) -> str:
    return f"{100 * value:.0f}%" if isinstance(value, (int, float)) else "-"


def _line(figures: Mapping[str, Any]) -> str:
    cases = figures["cases"]
    return (f"{figures['conversations']:>5} conv  deflected {_percent(figures['deflection_rate']):>4}  "
            f"cases {cases['opened']:>4} opened {cases['resolved']:>4} resolved {cases['backlog']:>4} open  "
            f"1st resp {_duration(figures['first_response_seconds']['median']):>8}  "
            f"CSAT {_percent(figures['csat']['score']):>4} ({figures['csat']['responses']})")


def render_text(body: Mapping[str, Any]) -> str:
    """For a supervisor: the period, the headline figures, then per team, agent, channel, language."""
    scope = ", ".join(part for part in (f"team {body['team']}" if body["team"] else "",
                                        f"channel {body['channel']}" if body["channel"] else "") if part)
    cases, fr, rs = body["cases"], body["first_response_seconds"], body["resolution_seconds"]
    csat, nps, ces = body["csat"], body["nps"], body["ces"]
    lines = [f"Support numbers {body['since']} to {body['until']}" + (f" ({_plain(scope)})" if scope else ""), "",
             f"Conversations            {body['conversations']} ({body['conversations_with_question']} with a question)",
             f"Handled by the bot alone {_percent(body['deflection_rate'])}   handed to a person "
             f"{_percent(body['handoff_rate'])}",
             f"Cases                    {cases['opened']} opened, {cases['resolved']} resolved, "
             f"{cases['reopened']} reopened, {cases['backlog']} still open",
             f"First response           median {_duration(fr['median'])}, 90% within {_duration(fr['p90'])} "
             f"({fr['count']} cases)",
             f"Resolution               median {_duration(rs['median'])}, 90% within {_duration(rs['p90'])} "
             f"({rs['count']})",
             f"First-contact resolution {_percent(body['first_contact_resolution'])}",
             f"CSAT                     {_percent(csat['score'])} satisfied (4-5) of {csat['responses']} answers  "
             + " ".join(f"{score}:{count}" for score, count in csat["distribution"].items()),
             f"NPS                      {'-' if nps['score'] is None else format(nps['score'], '+.0f')} "
             f"({nps['responses']} answers)",
             f"Customer effort          {'-' if ces['average'] is None else format(ces['average'], '.1f')} of 7 "
             f"({ces['responses']} answers)"]
    for grouping, title in (("team", "By team"), ("agent", "By agent"), ("channel", "By channel"),
                            ("language", "By language")):
        groups = body[f"by_{grouping}"]
        if groups:
            lines += ["", title]
            width = min(24, max(len(name) for name in groups))
            lines += [f"  {_plain(name, 24):<{width}} {_line(figures)}" for name, figures in groups.items()]
    if body["top_entries"]:
        lines += ["", "FAQ entries that answered most"]
        lines += [f"  {entry['answered']:>5}  {_plain(entry['entry'])}  (settled {_percent(entry['resolved_rate'])})"
                  for entry in body["top_entries"]]
    if body["top_gaps"]:
        lines += ["", "What the FAQ did not settle"]
        lines += [f"  {gap['count']:>5}  \"{_plain(gap['question'])}\"" +
                  (f"  (closest: {_plain(gap['closest_entry'])})" if gap["closest_entry"] else "")
                  for gap in body["top_gaps"]]
    trending = [topic for topic in body["topics"] if topic["count"] != topic["previous_count"]][:10]
    if trending:
        lines += ["", "Topics, this period against the one before"]
        lines += [f"  {topic['count']:>5} (was {topic['previous_count']:>4})  {topic['kind']:<5} "
                  f"{_plain(topic['topic'])}" for topic in trending]
    return "\n".join(lines)
