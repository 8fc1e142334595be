"""How many failed logins an address or a user name has made lately, to turn a guesser away (429).

Kept in the process's memory and bounded: at most `max_keys` addresses and names are remembered, the
longest quiet forgotten first. Each process counts on its own, which slows a guesser as much as needed.
"""

from __future__ import annotations

from collections import OrderedDict, deque

MAX_KEYS = 10_000


class FailedLogins:
    def __init__(self, limit: int, window_seconds: float, max_keys: int = MAX_KEYS) -> None:
        self.limit = limit
        self.window = window_seconds
        self.max_keys = max_keys
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, keys: list[str], now: float) -> float:
        """Seconds until any of `keys` may try again (0 when all may try now)."""
        wait = 0.0
        for key in keys:
            times = self._recent(key, now)
            if times is not None and len(times) >= self.limit:
                wait = max(wait, times[0] + self.window - now)
        return wait

    def failed(self, keys: list[str], now: float) -> None:
        for key in keys:
            times = self._recent(key, now)
            if times is None:
                times = self._failures[key] = deque(maxlen=self.limit)
            times.append(now)
            self._failures.move_to_end(key)
        while len(self._failures) > self.max_keys:
            self._failures.popitem(last=False)

    def succeeded(self, keys: list[str]) -> None:
        for key in keys:
            self._failures.pop(key, None)

    def _recent(self, key: str, now: float) -> deque[float] | None:
        times = self._failures.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        return times
