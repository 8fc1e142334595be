"""The router's settings, as plain values (bot/ builds them from the validated settings file)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from router.business_hours import BusinessHours
from router.sla import SlaPolicy


@dataclass(frozen=True, slots=True)
class RouterConfig:
    languages: tuple[str, ...]
    default_team: str
    # team key → language → the name customers read ("billing" → {"el": "Λογιστήριο"}).
    team_names: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    answer_at: float = 0.82
    suggest_at: float = 0.65
    reopen_days: float = 7.0
    rephrase_turns: int = 1  # unmatched messages in a row that get "put it another way" before a case opens
    relay_template: str = "$agent_name: $message"
    max_message_chars: int = 4000
    flood_per_minute: int = 30  # a customer's messages a minute that get answers; the rest are kept quietly
    desk: bool = False  # an agents' desk (Slack) reads hl:outbox:desk
    # team key → when it answers; a team not here is always open.
    business_hours: Mapping[str, BusinessHours] = field(default_factory=dict)
    # team key → its first-response target; a team not here has none.
    sla: Mapping[str, SlaPolicy] = field(default_factory=dict)
    recent_waits: int = 20  # claimed cases per team whose waits give the estimate customers read

    @property
    def teams(self) -> tuple[str, ...]:
        return tuple(self.team_names) or (self.default_team,)

    def hours(self, team: str) -> BusinessHours | None:
        return self.business_hours.get(team)

    def team_name(self, team: str, language: str) -> str:
        """The team's name in `language`, else in the default language, else its key."""
        names = self.team_names.get(team, {})
        return names.get(language) or names.get(self.languages[0]) or next(iter(names.values()), "") or team
