"""Meta's task and role strings, ranked on the publishing ladder.

Every documented task is ranked (the Page tasks Graph lists when it refuses an unknown one, the
new-Pages-experience ``PROFILE_PLUS_*`` tasks of the business SDKs' ``Page.Tasks`` /
``BusinessAssetGroup::PAGE_TASKS``, the Instagram asset tasks, and the business user roles and
tasks of ``BusinessUser.Tasks``). **A task this module does not know ranks admin**, never
read-only: an unknown right ranked low would hide it from every rule (role ceilings, agency
ceilings) — the failure this ladder exists to prevent. The raw strings stay in the grant's role.

Two choices, each the conservative reading of Meta's help pages:

- ``PROFILE_PLUS_FULL_CONTROL`` (full control of a new-experience Page, Meta's "admin") and
  ``MANAGE`` (classic Pages) are ``admin``; so is ``*GLOBAL_STRUCTURE_MANAGEMENT`` (the global
  Pages structure). ``PROFILE_PLUS_MANAGE`` ("Facebook access with partial control": everything
  but managing people's access) is ``full_publishing``: ranking it admin would let the last-admin
  guard count a partial-control holder as an admin who "remains" when the only full-control admin
  is removed.
- Reading (``ANALYZE``, insights, revenue, leads, mailboxes) is ``read_only``; answering
  (messaging, moderation) is ``can_reply``; anything that publishes or advertises as the brand is
  ``full_publishing``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from accessward.connectors.records import Level

#: Page tasks (classic and new Pages experience) -> ladder.
TASK_LEVELS: dict[str, Level] = {
    # classic Pages
    "MANAGE": Level.admin,
    "GLOBAL_STRUCTURE_MANAGEMENT": Level.admin,
    "CREATE_CONTENT": Level.full_publishing,
    "ADVERTISE": Level.full_publishing,
    "MANAGE_JOBS": Level.full_publishing,  # posts job offers as the Page
    "MODERATE": Level.can_reply,
    "MODERATE_COMMUNITY": Level.can_reply,
    "MESSAGING": Level.can_reply,
    "PAGES_MESSAGING": Level.can_reply,
    "PAGES_MESSAGING_SUBSCRIPTIONS": Level.can_reply,
    "READ_PAGE_MAILBOXES": Level.read_only,
    "ANALYZE": Level.read_only,
    "VIEW_MONETIZATION_INSIGHTS": Level.read_only,
    "MANAGE_LEADS": Level.read_only,
    "CASHIER_ROLE": Level.read_only,  # takes payments at a Page shop; publishes nothing
    # new Pages experience
    "PROFILE_PLUS_FULL_CONTROL": Level.admin,
    "PROFILE_PLUS_GLOBAL_STRUCTURE_MANAGEMENT": Level.admin,
    "PROFILE_PLUS_MANAGE": Level.full_publishing,  # partial control: see the module docstring
    "PROFILE_PLUS_FACEBOOK_ACCESS": Level.full_publishing,  # switches into the Page and acts as it
    "PROFILE_PLUS_CREATE_CONTENT": Level.full_publishing,
    "PROFILE_PLUS_ADVERTISE": Level.full_publishing,
    "PROFILE_PLUS_CREATIVE_MANAGEMENT": Level.full_publishing,
    "PROFILE_PLUS_CREATOR_MANAGEMENT": Level.full_publishing,
    "PROFILE_PLUS_MODERATE": Level.can_reply,
    "PROFILE_PLUS_MODERATE_DELEGATE_COMMUNITY": Level.can_reply,
    "PROFILE_PLUS_MESSAGING": Level.can_reply,
    "PROFILE_PLUS_ANALYZE": Level.read_only,
    "PROFILE_PLUS_REVENUE": Level.read_only,
    "PROFILE_PLUS_MANAGE_LEADS": Level.read_only,
}

#: Instagram asset tasks (SDK: ADVERTISE, ANALYZE, COMMUNITY_ACTIVITY, CONTENT, MESSAGES); MANAGE is
#: kept in case full control shows as a task (unverified).
INSTAGRAM_TASK_LEVELS: dict[str, Level] = {
    "MANAGE": Level.admin,
    "CONTENT": Level.full_publishing,
    "ADVERTISE": Level.full_publishing,
    "COMMUNITY_ACTIVITY": Level.can_reply,
    "MESSAGES": Level.can_reply,
    "ANALYZE": Level.read_only,
}

#: Business user roles and tasks (``BusinessUser.Role`` / ``.Tasks`` in the SDK) -> ladder, at business
#: level. ADMIN and MANAGE can grant themselves any asset of the business; the others give no asset
#: by themselves (asset access is granted per asset and listed there).
BUSINESS_TASK_LEVELS: dict[str, Level] = {
    "ADMIN": Level.admin,
    "MANAGE": Level.admin,
    "PARTNER_CENTER_ADMIN": Level.admin,
    "EMPLOYEE": Level.read_only,
    "DEFAULT": Level.read_only,
    "DEVELOPER": Level.read_only,
    "ADS_RIGHTS_REVIEWER": Level.read_only,
    "FINANCE_EDITOR": Level.read_only,
    "FINANCE_EDIT": Level.read_only,
    "FINANCE_ANALYST": Level.read_only,
    "FINANCE_VIEW": Level.read_only,
    "PARTNER_CENTER_ANALYST": Level.read_only,
    "PARTNER_CENTER_EDUCATION": Level.read_only,
    "PARTNER_CENTER_MARKETING": Level.read_only,
    "PARTNER_CENTER_OPERATIONS": Level.read_only,
}

#: What a task nobody listed ranks: high, never low.
UNKNOWN_TASK_LEVEL = Level.admin


def task_level(task: str, ladder: Mapping[str, Level] = TASK_LEVELS) -> Level:
    return ladder.get(task.strip().upper(), UNKNOWN_TASK_LEVEL)


def role_and_level(tasks: Iterable[str], ladder: Mapping[str, Level] = TASK_LEVELS) -> tuple[str, Level]:
    """The grant's role (sorted tasks, comma-joined) and its ladder level (the highest task's)."""
    names = sorted({t.strip().upper() for t in tasks if t.strip()})
    level = max((task_level(t, ladder) for t in names), default=Level.read_only)
    return ",".join(names), level


def business_role_and_level(role: str, tasks: Iterable[str]) -> tuple[str, Level]:
    """A business user's grant on the business: ``ROLE`` or ``ROLE:TASK,TASK`` and the highest rank.

    The ``tasks`` of a business user are what they can do in the business (a user whose role reads
    EMPLOYEE but whose tasks hold MANAGE can give themselves every asset).
    """
    names = sorted({t.strip().upper() for t in tasks if t.strip()} - {role})
    level = max((task_level(t, BUSINESS_TASK_LEVELS) for t in [role, *names]), default=Level.read_only)
    return (f"{role}:{','.join(names)}" if names else role), level
