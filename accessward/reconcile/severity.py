"""How bad a finding is follows the risk it describes, not the rule that found it.

Reports, charts and reviews group by severity, so one flat "high" per rule tells an auditor
nothing. The score starts from what was found (the rule and its reason: a leaver is worse than a
dormant account), moves with what the access allows (admin one step up, read-only or
needs-approval one step down) and with who holds it (a partner business — every person in it —
one step up). A leaver holding admin is ``critical``; a read-only account that matches nobody is
``low``. A policy that sets a rule's ``severity`` overrides all of this for that rule.
"""

from __future__ import annotations

from accessward.connectors.records import Level
from accessward.reconcile.policy import RuleSettings

SEVERITIES = ("low", "medium", "high", "critical")

#: rule -> reason -> base score (index into SEVERITIES), and each rule's score for other reasons.
BASE: dict[str, dict[str, int]] = {
    "orphaned": {"terminated": 2, "disabled": 2, "past_leave_date": 2, "missing_from_directory": 1,
                 "no_person": 1, "disputed": 1, "unidentifiable": 1},
    "agency": {"engagement_ended": 2, "no_engagement": 2, "not_on_roster": 2, "engagement_not_started": 1,
               "out_of_scope": 1, "above_allowed_role": 1},
    "lost_device": {"": 2},
    "mfa_required": {"": 1},
    "sso_required": {"": 1},
    "role_ceiling": {"": 1},
    "dormant": {"": 0},
}
DEFAULT_BASE = {"orphaned": 2, "agency": 2, "lost_device": 2, "mfa_required": 1, "sso_required": 1,
                "role_ceiling": 1, "dormant": 0}

_LEVEL_STEP = {Level.admin: 1, Level.full_publishing: 0, Level.can_reply: 0, Level.needs_approval: -1,
               Level.read_only: -1}
_KIND_STEP = {"agency": 1, "human": 0, "system": 0}


def computed(rule: str, reason: str, level: int, account_kind: str = "human") -> str:
    """The severity the risk calls for (no policy override)."""
    base = BASE.get(rule, {}).get(reason, DEFAULT_BASE.get(rule, 1))
    try:
        step = _LEVEL_STEP[Level(level)]
    except ValueError:
        step = 0
    score = base + step + _KIND_STEP.get(account_kind, 0)
    return SEVERITIES[max(0, min(len(SEVERITIES) - 1, score))]


def severity(settings: RuleSettings, rule: str, reason: str, level: int, account_kind: str = "human") -> str:
    """The policy's severity for the rule when it sets one, else the computed one."""
    return settings.severity or computed(rule, reason, level, account_kind)


def worst(settings: RuleSettings, rule: str, reasons: list[str], level: int, account_kind: str = "human") -> str:
    """A finding with several reasons (an agency's staff off the roster and above its role) takes the worst."""
    found = [severity(settings, rule, r, level, account_kind) for r in reasons] or [
        severity(settings, rule, "", level, account_kind)]
    return max(found, key=SEVERITIES.index)
