"""A team's first-response target, and which SLA step a waiting case is due for (pure: no Redis, no clock).

The clock of a case runs from when it was (re)queued until an agent answers, in the team's business
hours when it has them. Before the target a warning is due (once); past the second limit the case
is due to be escalated to another team (once).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from router.business_hours import BusinessHours, working_seconds
from router.store import Case, CaseStatus


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    first_response_seconds: float
    warn_before_seconds: float = 300.0
    escalate_after_seconds: float | None = None  # with escalate_to
    escalate_to: str | None = None

    @property
    def warn_at(self) -> float:
        """Seconds of waiting after which the queue is warned."""
        return max(0.0, self.first_response_seconds - self.warn_before_seconds)


class SlaStep(StrEnum):
    WARN = "warn"
    ESCALATE = "escalate"


def waiting_for_first_response(case: Case) -> bool:
    """Queued with no agent answer since it was queued (a released case an agent answered is not)."""
    return case.status is CaseStatus.QUEUED and case.first_response_at < case.queued_at


def sla_waited(case: Case, hours: BusinessHours | None, now: float) -> float:
    """Seconds the case has waited that count against the target."""
    return working_seconds(hours, case.queued_at, now)


def due_step(case: Case, policy: SlaPolicy | None, hours: BusinessHours | None, now: float) -> SlaStep | None:
    """The SLA step `case` is due for at `now`, if any; each step happens once per time in the queue."""
    if policy is None or not waiting_for_first_response(case):
        return None
    waited = sla_waited(case, hours, now)
    if (policy.escalate_to and policy.escalate_after_seconds is not None and not case.escalated_at
            and policy.escalate_to != case.team and waited >= policy.escalate_after_seconds):
        return SlaStep.ESCALATE
    if not case.sla_warned_at and not case.escalated_at and waited >= policy.warn_at:
        return SlaStep.WARN
    return None
