"""Typed records that cross the boundary between connectors and the store.

Connectors yield these; the sync layer writes them. They are frozen so that a record seen by
the sync layer is exactly the one the connector produced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum, StrEnum


class Level(IntEnum):
    """The publishing ladder every system's role is mapped onto (DESIGN.md, Grant)."""

    read_only = 0
    needs_approval = 1
    can_reply = 2
    full_publishing = 3
    admin = 4


class PersonKind(StrEnum):
    employee = "employee"
    contractor = "contractor"
    agency = "agency"


class PersonStatus(StrEnum):
    active = "active"
    suspended = "suspended"
    terminated = "terminated"


class AccountKind(StrEnum):
    human = "human"
    system = "system"
    agency = "agency"


@dataclass(frozen=True, slots=True)
class PersonRecord:
    """A staff identity as an identity source reports it.

    ``source_key`` is the source's immutable id (entryUUID, objectGUID, Entra object id); a DN
    or a display name is never a key because both change on rename.
    """

    source_key: str
    display_name: str = ""
    employee_id: str | None = None
    username: str | None = None
    upn: str | None = None
    emails: tuple[str, ...] = ()
    kind: PersonKind = PersonKind.employee
    status: PersonStatus = PersonStatus.active
    leave_date: datetime | None = None
    manager_key: str | None = None
    department: str | None = None
    groups: tuple[str, ...] = ()
    # Sign-in posture, when the source is an IdP that knows it; None means "not reported",
    # never "off". ``mfa_methods`` names the registered methods (authenticator, otp, webauthn...).
    sso: bool | None = None
    mfa: bool | None = None
    mfa_methods: tuple[str, ...] | None = None
    last_sign_in: datetime | None = None
    # What the source's raw answer digested to, and until when the same answer maps to the same
    # person (None: for good); only a source that can skip unchanged answers sets them (LDAP).
    source_digest: str | None = None
    stable_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class UnchangedPerson:
    """A source recognised this stored person's raw answer as unchanged and did not map it again.

    Only a source handed the stored digests (``DigestingSource.expect``) yields it; the writer
    counts the person as seen (``person_id``) and writes nothing.
    """

    person_id: int
    source_key: str


@dataclass(frozen=True, slots=True)
class StoredDigests:
    """What the store holds about a source's present people, for a source that skips unchanged answers.

    ``rows``: (person id, source key, manager key, source digest, stable until (naive UTC) or None) of
    every present person with a source digest; ``cursor``: the last good run's cursor, if any.
    """

    rows: list[tuple[int, str, str | None, str, datetime | None]]
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class RemovedPerson:
    """An incremental identity source says this person was deleted (``permanent``) or soft-deleted."""

    source_key: str
    permanent: bool = False


PersonChange = PersonRecord | RemovedPerson | UnchangedPerson


@dataclass(frozen=True, slots=True)
class AccountRecord:
    """An identity on a target system (a Meta business user, a system user, a partner...)."""

    external_id: str
    kind: AccountKind = AccountKind.human
    display_name: str = ""
    login: str | None = None
    email: str | None = None
    employee_id: str | None = None
    sso: bool | None = None
    mfa: bool | None = None
    last_active: datetime | None = None


@dataclass(frozen=True, slots=True)
class ResourceRecord:
    """What access is to: a Facebook page, an Instagram account, a LinkedIn organization..."""

    external_id: str
    kind: str
    name: str = ""


@dataclass(frozen=True, slots=True)
class GrantRecord:
    """Account x resource x role, with the system's own role string and the ladder level.

    A connector yields the account and the resource of a grant before the grant itself.
    """

    account_id: str
    resource_id: str
    role: str
    level: Level
    # False for grants nobody can check through an API (a manual inventory of X or YouTube).
    verifiable: bool = True


AccessRecord = AccountRecord | ResourceRecord | GrantRecord


@dataclass(frozen=True, slots=True)
class GrantRef:
    """What the executor hands a revoker: the external ids of one grant on one system."""

    account_id: str
    resource_id: str
    role: str
    resource_kind: str = ""
    account_kind: AccountKind = AccountKind.human


@dataclass(frozen=True, slots=True)
class RequestPreview:
    """The exact request a revocation would send, shown in a plan before anything is sent."""

    method: str
    url: str
    params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)  # never credentials
    body: str | None = None

    def render(self) -> str:
        query = "&".join(f"{k}={v}" for k, v in sorted(self.params.items()))
        text = f"{self.method} {self.url}" + (f"?{query}" if query else "")
        for name, value in sorted(self.headers.items()):
            text += f"\n{name}: {value}"
        if self.body is not None:
            text += f"\n\n{self.body}"
        return text


class RevokeOutcome(StrEnum):
    done = "done"
    already_gone = "already_gone"


@dataclass(frozen=True, slots=True)
class RevokeResult:
    outcome: RevokeOutcome
    detail: str = ""


class RevocationScope(StrEnum):
    """How far one revocation reaches (invariant 5: a revocation declares everything it removes)."""

    grant = "grant"  # the named grant only
    account_on_system = "account_on_system"  # every grant the account holds on this system (a business
    # membership, a Business Center member, a SCIM user deactivated or deleted)
    account_on_resources = "account_on_resources"  # the grants of the account on the listed resources
    # (a partnership removal takes every asset the partner holds)


@dataclass(frozen=True, slots=True)
class Takes:
    """What a revocation takes away besides (and including) the grant it names.

    The planner expands it against the store into concrete grants; the last-admin guard, break-glass
    and disputed-link checks judge every one of them, at plan time and again at execution, and the
    executor closes every one of them when the revocation succeeds.
    """

    scope: RevocationScope = RevocationScope.grant
    resource_ids: tuple[str, ...] = ()  # external resource ids, for account_on_resources
    note: str = ""  # in words, for the plan: "removing the business membership removes every asset"
    # Non-empty: no API call performs this revocation (Pinterest system users, Meta Page roles of people
    # outside the business). The planner holds the grant as a manual step and shows these instructions.
    manual_step: str = ""
