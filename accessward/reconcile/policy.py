"""The policy the customer edits: rules, their actions, and the safety knobs.

Every rule defaults to ``action = "flag"``: a new install never revokes until someone switches
revocation on, rule by rule (DESIGN.md invariant 6).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

RULE_NAMES = ("orphaned", "agency", "mfa_required", "sso_required", "role_ceiling", "dormant")
LEVEL_NAMES = Literal["read_only", "needs_approval", "can_reply", "full_publishing", "admin"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class RuleSettings(_Strict):
    action: Literal["flag", "revoke"] = "flag"
    # Unset: each finding's severity follows its risk (reason, level, account kind; see
    # reconcile/severity.py). Set: every finding of the rule gets this one.
    severity: Literal["low", "medium", "high", "critical"] | None = None
    grace_days: Annotated[float, Field(ge=0)] = 0
    # dormant: access unused for this many days
    days: Annotated[int, Field(ge=1)] = 90
    # orphaned: also revoke accounts that match no person at all. Off by default: "no match" is
    # as often a correlation gap (a service login, an alias) as a leaver, so it is flagged only.
    revoke_unmatched: bool = False


class Ceiling(_Strict):
    """The highest level people who match may hold. ``match`` is ``group:<DN or name>``,
    ``kind:<employee|contractor|agency>`` or ``department:<name>`` (case-insensitive)."""

    match: Annotated[str, Field(pattern=r"^(group|kind|department):.+")]
    max_level: LEVEL_NAMES


class Engagement(_Strict):
    """An agency engagement: who the partner is, what it may touch, how high, and until when.

    ``partner_accounts`` are the partner's accounts on the networks as ``system:account-id``
    (a Meta partner business, a TikTok partner); ``email_domains`` identify its staff;
    ``assets`` are the resources in scope as ``system:resource-id`` (empty: every asset);
    ``roster_source`` names the identity source that lists its current staff.
    """

    name: str
    sponsor: str = ""
    partner_accounts: list[str] = Field(default_factory=list)
    email_domains: list[str] = Field(default_factory=list)
    assets: list[str] = Field(default_factory=list)
    max_level: LEVEL_NAMES = "full_publishing"
    start: date | None = None
    end: date | None = None
    roster_source: str | None = None


class OffboardingPolicy(_Strict):
    """What an offboarding does in the identity providers: sessions always end; disabling is a choice."""

    disable_account: bool = False


class PolicySettings(_Strict):
    """Safety knobs first; every rule starts in flag-only mode (invariant 6)."""

    max_revocations: Annotated[int, Field(ge=0)] = 25
    # Invariant 8: whoever started a plan cannot approve it; nobody decides on their own access.
    four_eyes: bool = True
    max_revocation_share: Annotated[float, Field(ge=0, le=1)] = 0.10
    # The share is judged only from this many revocations up, so one leaver in a small estate
    # does not need a second pair of eyes.
    min_revocations_for_share: Annotated[int, Field(ge=1)] = 5
    stale_after_hours: Annotated[float, Field(gt=0)] = 36
    max_drop: Annotated[float, Field(ge=0, le=1)] = 0.30
    break_glass: list[str] = Field(default_factory=list)
    # Treat "alex+social@example.com" on a network as "alex@example.com" when correlating.
    plus_addressing: bool = False
    role_ceilings: list[Ceiling] = Field(default_factory=list)
    agencies: list[Engagement] = Field(default_factory=list)
    rules: dict[str, RuleSettings] = Field(default_factory=dict)
    offboarding: OffboardingPolicy = Field(default_factory=OffboardingPolicy)

    @field_validator("rules")
    @classmethod
    def _known_rules(cls, rules: dict[str, RuleSettings]) -> dict[str, RuleSettings]:
        unknown = sorted(set(rules) - set(RULE_NAMES))
        if unknown:
            raise ValueError(f"unknown rule(s) {', '.join(unknown)}; known: {', '.join(RULE_NAMES)}")
        return rules

    def rule(self, name: str) -> RuleSettings:
        return self.rules.get(name, RuleSettings())
