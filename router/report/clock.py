"""How long a clock ran between two moments: wall-clock time, or a team's working time.

Business hours (router/business_hours.py) pause the clocks outside a team's hours; a report asks
each team's clock through this protocol, so it works the same with or without them.
"""

from __future__ import annotations

from typing import Protocol


class WorkingClock(Protocol):
    def working_seconds(self, start: float, end: float) -> float:
        """Seconds of [start, end) (unix seconds) that count; 0 when end <= start."""
        ...


class WallClock:
    """Every second counts (no business hours configured)."""

    def working_seconds(self, start: float, end: float) -> float:
        return max(0.0, end - start)


WALL_CLOCK = WallClock()
