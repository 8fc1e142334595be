"""A report in the JSON of `helpline report --json`, with hostile text where customers and authors write."""

from __future__ import annotations

from typing import Any

HOSTILE_ENTRY = '<img src=x onerror="alert(1)">refund&co'
HOSTILE_QUESTION = "</script><script>alert('gap')</script> where is my parcel?"


def figures(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "conversations": 42, "deflection_rate": 0.5, "handoff_rate": 0.25,
        "cases": {"opened": 10, "resolved": 8, "reopened": 1, "backlog": 3},
        "first_response_seconds": {"median": 330.0, "p90": 1800.0, "count": 8},
        "resolution_seconds": {"median": 7200.0, "p90": 36000.0, "count": 8},
        "first_contact_resolution": 0.625,
        "csat": {"responses": 6, "score": 0.6666666666666666, "distribution": {"1": 1, "2": 0, "3": 1, "4": 2, "5": 2}},
        "nps": {"responses": 4, "score": 25.0},
        "ces": {"responses": 3, "average": 2.3333333333333335},
    }
    base.update(changes)
    return base


def sample_report() -> dict[str, Any]:
    report: dict[str, Any] = {
        "since": "2026-11-24T00:00:00+00:00", "until": "2026-12-01T00:00:00+00:00", "team": None, "channel": None,
        **figures(),
        "by_team": {"support": figures(conversations=30), "billing": figures(conversations=12)},
        "by_agent": {"Maria <b>": figures(conversations=5)},
        "by_channel": {"telegram": figures(conversations=20), "email": figures(conversations=22)},
        "by_language": {"en": figures(conversations=40), "el": figures(conversations=2)},
        "top_entries": [{"entry": HOSTILE_ENTRY, "answered": 9, "resolved_rate": 0.75},
                        {"entry": "shipping-time", "answered": 4, "resolved_rate": None}],
        "top_gaps": [{"question": HOSTILE_QUESTION, "count": 5, "closest_entry": HOSTILE_ENTRY},
                     {"question": "do you ship to Mars", "count": 2, "closest_entry": None}],
        "topics": [{"topic": HOSTILE_ENTRY, "kind": "entry", "count": 9, "resolution_rate": 0.75, "previous_count": 4}],
        "series": {
            "bucket_seconds": 86400,
            "starts": [f"2026-11-{day}T00:00:00+00:00" for day in range(24, 31)] + ["2026-12-01T00:00:00+00:00"][:0],
            "conversations_by_channel": {"telegram": [3, 2, 4, 1, 0, 5, 5], "email": [1, 6, 2, 3, 4, 3, 3]},
            "deflection_rate": [0.5, None, 0.25, 0.75, 0.5, 0.4, 0.6],
            "first_response_median_seconds": [300.0, None, 600.0, 120.0, 240.0, 360.0, 330.0],
            "resolution_median_seconds": [3600.0, 7200.0, None, 5400.0, 9000.0, 7200.0, 7200.0],
            "csat_score": [1.0, None, 0.5, 0.5, 1.0, None, 0.5],
        },
    }
    return report
