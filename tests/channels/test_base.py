"""Sending with retries: Retry-After honoured, back-off on temporary errors, no retry on permanent ones."""

from __future__ import annotations

import pytest

from channels.base import (
    PermanentDeliveryError,
    RetryAfter,
    RetryPolicy,
    TemporaryDeliveryError,
    send_with_retries,
)


class Script:
    """A send function that fails as scripted, then succeeds; records the waits."""

    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.calls = 0
        self.waits: list[float] = []

    async def send(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "platform-id-7"

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)


async def test_retry_after_is_waited_exactly() -> None:
    script = Script(RetryAfter(3), RetryAfter(0.5))
    outcome = await send_with_retries(script.send, sleep=script.sleep)
    assert outcome.delivered and outcome.attempts == 3 and outcome.platform_id == "platform-id-7"
    assert script.waits == [3, 0.5]


async def test_temporary_errors_back_off_with_growing_delays() -> None:
    script = Script(TemporaryDeliveryError("502"), ConnectionResetError("reset"), TimeoutError())
    outcome = await send_with_retries(script.send, RetryPolicy(first_delay=1.0, max_delay=100), sleep=script.sleep)
    assert outcome.delivered and script.calls == 4
    # jitter is 0.5x..1.5x of 1, 2, 4
    assert 0.5 <= script.waits[0] <= 1.5 and 1 <= script.waits[1] <= 3 and 2 <= script.waits[2] <= 6


async def test_permanent_error_is_not_retried() -> None:
    script = Script(PermanentDeliveryError("chat not found", close_conversation=True))
    outcome = await send_with_retries(script.send, sleep=script.sleep)
    assert not outcome.delivered and script.calls == 1 and script.waits == []
    assert outcome.reason == "chat not found" and outcome.close_conversation


async def test_gives_up_after_the_last_try_with_the_reason() -> None:
    script = Script(*[TemporaryDeliveryError("503 Service Unavailable")] * 10)
    outcome = await send_with_retries(script.send, RetryPolicy(attempts=3), sleep=script.sleep)
    assert not outcome.delivered and script.calls == 3 and len(script.waits) == 2
    assert "503 Service Unavailable" in outcome.reason


async def test_absurd_retry_after_is_a_failure_not_a_sleep() -> None:
    script = Script(RetryAfter(86400))
    outcome = await send_with_retries(script.send, sleep=script.sleep)
    assert not outcome.delivered and script.waits == []


async def test_unexpected_exceptions_propagate() -> None:
    script = Script(ValueError("bug"))
    with pytest.raises(ValueError):
        await send_with_retries(script.send, sleep=script.sleep)
