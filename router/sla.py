"""A team's first-response target, and which SLA step a waiting case is due for (pure: no Redis, no clock).

The clock of a case runs from when it was (re)queued until an agent answers, in the team's business
hours when it has them. Before the target a warning is due (once); past the second limit the case
is due to be escalated to another team (once). `sla_status` says where a waiting case stands, for
the people who look at the queue (dashboard, `helpline queue`): ok, near breach (past the warning
point), or breached (past the target), with the working seconds left.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
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


class SlaState(StrEnum):
    OK = "ok"
    NEAR_BREACH = "near_breach"  # past the warning point: the queue has been (or is about to be) re-announced
    BREACHED = "breached"  # past the first-response target


@dataclass(frozen=True, slots=True)
class SlaStatus:
    """Where a waiting case stands against its team's first-response target (seconds count business hours)."""

    state: SlaState
    target_seconds: float
    left_seconds: float  # below 0: breached this long ago
    paused: bool  # outside the team's business hours: the clock stands still

    def to_json(self) -> dict[str, object]:
        return {"state": str(self.state), "target_seconds": self.target_seconds,
                "left_seconds": round(self.left_seconds, 1), "paused": self.paused}


def sla_status(case: Case, policy: SlaPolicy | None, hours: BusinessHours | None, now: float) -> SlaStatus | None:
    """The case's first-response SLA state at `now`; None when its team has no SLA or an agent has answered."""
    if policy is None or not waiting_for_first_response(case):
        return None
    waited = sla_waited(case, hours, now)
    left = policy.first_response_seconds - waited
    state = (SlaState.BREACHED if left <= 0 else SlaState.NEAR_BREACH if waited >= policy.warn_at
             else SlaState.OK)
    return SlaStatus(state, policy.first_response_seconds, left, hours is not None and not hours.is_open(now))


@dataclass(frozen=True, slots=True)
class SlaRules:
    """Every team's SLA policy and business hours, as configured."""

    policies: Mapping[str, SlaPolicy] = field(default_factory=dict)
    hours: Mapping[str, BusinessHours] = field(default_factory=dict)

    def status(self, case: Case, now: float) -> SlaStatus | None:
        return sla_status(case, self.policies.get(case.team), self.hours.get(case.team), now)


def describe(sla: Mapping[str, object] | None, duration: Callable[[float], str]) -> str:
    """A listing's words for `SlaStatus.to_json()`: `SLA ok, 12m left`, `SLA breached 3m ago`; "" for None."""
    if not sla:
        return ""
    try:
        left = float(sla["left_seconds"])  # type: ignore[arg-type]
    except (KeyError, TypeError, ValueError):
        return ""
    text = (f"SLA breached {duration(-left)} ago" if left <= 0 or sla.get("state") == SlaState.BREACHED
            else f"SLA {'near breach' if sla.get('state') == SlaState.NEAR_BREACH else 'ok'}, {duration(left)} left")
    return text + (" (paused: outside business hours)" if sla.get("paused") else "")
