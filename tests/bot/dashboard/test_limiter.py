"""Failed logins: past the limit an address waits until its oldest failure leaves the window."""

from __future__ import annotations

from bot.dashboard.limiter import FailedLogins


def test_the_limit_holds_per_key_for_the_window() -> None:
    limiter = FailedLogins(limit=3, window_seconds=60)
    for at in (0, 10, 20):
        assert limiter.retry_after(["address:a"], at) == 0
        limiter.failed(["address:a", "user:maria"], at)
    assert limiter.retry_after(["address:a"], 21) == 39
    assert limiter.retry_after(["address:b", "user:maria"], 21) == 39  # the name is counted too
    assert limiter.retry_after(["address:b"], 21) == 0
    assert limiter.retry_after(["address:a"], 60.5) == 0  # the first failure left the window


def test_a_success_forgets_the_failures() -> None:
    limiter = FailedLogins(limit=2, window_seconds=60)
    limiter.failed(["address:a"], 0)
    limiter.succeeded(["address:a"])
    limiter.failed(["address:a"], 1)
    assert limiter.retry_after(["address:a"], 2) == 0


def test_memory_is_bounded() -> None:
    limiter = FailedLogins(limit=2, window_seconds=60, max_keys=100)
    for index in range(1000):
        limiter.failed([f"address:{index}"], 0)
    assert len(limiter._failures) == 100
