"""Support numbers computed from `hl:events`: `build_report(redis, keys, ReportQuery(...))`.

events.py reads and checks the stream, history.py follows cases and conversations into facts,
figures.py adds facts up per scope, topics.py groups what customers asked, report.py puts it together.
"""

from .clock import WALL_CLOCK, WorkingClock
from .report import Report, ReportQuery, build_report
from .topics import FaqGapGrouper, GapGrouper

__all__ = ["WALL_CLOCK", "FaqGapGrouper", "GapGrouper", "Report", "ReportQuery", "WorkingClock", "build_report"]
