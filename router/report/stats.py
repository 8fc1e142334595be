"""Median, percentiles and shares, the same way everywhere in a report."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) by linear interpolation between closest ranks (numpy's default);
    None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * min(100.0, max(0.0, q)) / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    fraction = rank - low
    value = ordered[low] + (ordered[high] - ordered[low]) * fraction
    # Never outside its neighbours, whatever floating point does with the fraction.
    return min(max(value, ordered[low]), ordered[high])


def median(values: Sequence[float]) -> float | None:
    return percentile(values, 50.0)


def share(part: int, whole: int) -> float | None:
    """part / whole in 0..1, None when there is nothing to divide."""
    if whole <= 0:
        return None
    return min(1.0, max(0.0, part / whole))


def mean(values: Sequence[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None
