"""Settings every channel's outbox sender shares (mixed into each `channels.<x>` section)."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, Field, field_validator

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class DeliverySettings(BaseModel):
    # How long temporary send failures (429, 5xx, timeouts) are retried, counted from when the message
    # was queued, before it goes to the dead letters: seconds, or "90s", "30m", "1h", "2d".
    retry_for: float = Field(3600.0, gt=0)

    @field_validator("retry_for", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        if isinstance(value, str):
            match = _DURATION.match(value)
            if not match:
                raise ValueError(f"{value!r} is not a duration: use seconds, or a number with s, m, h or d")
            return float(match.group(1)) * _UNIT_SECONDS[match.group(2) or "s"]
        return value
