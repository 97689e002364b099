"""``[[reviews]]`` in the settings: access-review campaigns (certifications), validated like the rest.

A campaign names what is reviewed (its scope), who reviews each grant (the resource's owner, the person's
manager, named reviewers, then a fallback; never the person whose access it is), how long reviewers have,
when they are reminded, whom an overdue review escalates to, and what happens to a grant nobody decided on
(``on_no_response``). Its schedule is ``quarterly`` (the default), ``monthly``, ``yearly``, ``manual`` (only
``accessward review start``) or a five-field crontab in ``service.timezone``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from accessward.reconcile.policy import LEVEL_NAMES

SCHEDULES = {"quarterly": "0 6 1 1,4,7,10 *", "monthly": "0 6 1 * *", "yearly": "0 6 1 1 *"}
ReviewerStrategy = Literal["owner", "manager", "named"]


class ReviewCampaignSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
    description: str = ""
    schedule: str = "quarterly"
    # what is in scope: every grant, agency and guest access only (agency accounts and people, and accounts
    # that match nobody), or risky access only (admins, no MFA, dormant, unverifiable)
    scope: Literal["all", "agency", "risky"] = "all"
    systems: list[str] = Field(default_factory=list)  # empty: every system
    resources: list[str] = Field(default_factory=list)  # "system:resource-id"; empty: every resource
    min_level: LEVEL_NAMES | None = None
    include_system_accounts: bool = False  # tokens and system users have no person to review them for
    # who reviews: tried in order; the first who is not the person themself is chosen, else the fallback
    reviewers: list[ReviewerStrategy] = Field(default_factory=lambda: list[ReviewerStrategy](["owner", "manager"]))
    owners: dict[str, str] = Field(default_factory=dict)  # "system:resource-id" or "system" -> reviewer
    named: list[str] = Field(default_factory=list)
    fallback: str
    duration_days: Annotated[int, Field(ge=1, le=365)] = 14
    remind_days_before: list[Annotated[int, Field(ge=1)]] = Field(default_factory=lambda: [7, 1])
    escalate_to: str | None = None  # default: the fallback reviewer
    on_no_response: Literal["keep", "revoke", "recommendation"] = "keep"
    require_justification: bool = True
    # at the deadline, apply on_no_response and close (revocations through the outbox, every safety check)
    close_at_deadline: bool = True

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        if value in SCHEDULES or value == "manual":
            return value
        from apscheduler.triggers.cron import CronTrigger

        if len(value.split()) != 5:
            raise ValueError("give quarterly, monthly, yearly, manual or a crontab with five fields")
        CronTrigger.from_crontab(value)
        return value

    @field_validator("resources")
    @classmethod
    def _resources(cls, value: list[str]) -> list[str]:
        bad = [r for r in value if ":" not in r]
        if bad:
            raise ValueError(f"name resources as system:resource-id; not: {', '.join(bad)}")
        return value

    @field_validator("fallback", "escalate_to", "named", "owners", mode="after")
    @classmethod
    def _lower(cls, value: object) -> object:
        if isinstance(value, str):
            return value.strip().lower()
        if isinstance(value, list):
            return [str(v).strip().lower() for v in value]
        if isinstance(value, dict):
            return {str(k).lower(): str(v).strip().lower() for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _named_needed(self) -> ReviewCampaignSettings:
        if "named" in self.reviewers and not self.named:
            raise ValueError('reviewers includes "named": list them in named = [...]')
        return self

    @property
    def crontab(self) -> str | None:
        if self.schedule == "manual":
            return None
        return SCHEDULES.get(self.schedule, self.schedule)


def unique_names(campaigns: list[ReviewCampaignSettings]) -> None:
    names = [c.name for c in campaigns]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"review campaign names must be unique; repeated: {', '.join(dupes)}")
