"""In-memory sources and a recording revoker for unit tests of sync and reconcile.

The end-to-end tests use a real slapd and the Meta simulator; these doubles let the store,
rules and executor be tested one behaviour at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from accessward.connectors.errors import ConnectorError, TransientError
from accessward.connectors.records import (
    AccessRecord,
    AccountKind,
    AccountRecord,
    GrantRecord,
    GrantRef,
    Level,
    PersonRecord,
    PersonStatus,
    RequestPreview,
    ResourceRecord,
    RevokeOutcome,
    RevokeResult,
)


def person(key: str, email: str | None = None, status: PersonStatus = PersonStatus.active,
           **kw: object) -> PersonRecord:
    return PersonRecord(source_key=key, display_name=key.title(), username=key,
                        emails=(email or f"{key}@example.com",), status=status, **kw)  # type: ignore[arg-type]


@dataclass
class FakeIdentity:
    name: str = "dir"
    people: list[PersonRecord] = field(default_factory=list)
    fail_after: int | None = None
    error: ConnectorError = field(default_factory=lambda: TransientError("connection refused"))

    def list_people(self) -> Iterator[PersonRecord]:
        for i, p in enumerate(self.people):
            if self.fail_after is not None and i >= self.fail_after:
                raise self.error
            yield p
        if self.fail_after is not None and self.fail_after >= len(self.people):
            raise self.error


@dataclass
class FakeAccess:
    """Grants given as (account, resource, role, level); accounts' emails as account@example.com."""

    name: str = "social"
    grants: list[tuple[str, str, str, Level]] = field(default_factory=list)
    kinds: dict[str, AccountKind] = field(default_factory=dict)
    emails: dict[str, str] = field(default_factory=dict)
    facts: dict[str, dict[str, object]] = field(default_factory=dict)  # extra AccountRecord fields
    fail_after: int | None = None

    def list_access(self) -> Iterator[AccessRecord]:
        seen_a: set[str] = set()
        seen_r: set[str] = set()
        for i, (acct, res, role, level) in enumerate(self.grants):
            if self.fail_after is not None and i >= self.fail_after:
                raise TransientError("HTTP 503")
            if acct not in seen_a:
                seen_a.add(acct)
                yield AccountRecord(external_id=acct, kind=self.kinds.get(acct, AccountKind.human),
                                    display_name=acct, email=self.emails.get(acct, f"{acct}@example.com"),
                                    **self.facts.get(acct, {}))  # type: ignore[arg-type]
            if res not in seen_r:
                seen_r.add(res)
                yield ResourceRecord(external_id=res, kind="facebook_page", name=res.title())
            yield GrantRecord(account_id=acct, resource_id=res, role=role, level=level)


@dataclass
class RecordingRevoker:
    """Removes grants from a FakeAccess, recording each call; can be told to fail."""

    source: FakeAccess
    calls: list[GrantRef] = field(default_factory=list)
    fail_with: dict[str, list[ConnectorError]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.source.name

    def preview_revoke(self, grant: GrantRef) -> RequestPreview:
        return RequestPreview("DELETE", f"https://social.test/{grant.resource_id}/assigned_users",
                              {"user": grant.account_id})

    def revoke(self, grant: GrantRef) -> RevokeResult:
        self.calls.append(grant)
        queued = self.fail_with.get(grant.account_id)
        if queued:
            raise queued.pop(0)
        before = len(self.source.grants)
        self.source.grants = [g for g in self.source.grants
                              if not (g[0] == grant.account_id and g[1] == grant.resource_id and g[2] == grant.role)]
        if len(self.source.grants) == before:
            return RevokeResult(RevokeOutcome.already_gone)
        return RevokeResult(RevokeOutcome.done)


@dataclass
class ReducingRevoker(RecordingRevoker):
    """A RecordingRevoker that can also set a lower role in place (the ``Reducer`` protocol).

    ``roles`` maps each level it can set to the platform's role string; empty means the platform has
    no such call (a reduce then becomes a revocation plus a manual step).
    """

    roles: dict[Level, str] = field(default_factory=lambda: {Level.read_only: "ANALYZE",
                                                             Level.full_publishing: "CREATE_CONTENT"})
    reductions: list[tuple[GrantRef, str]] = field(default_factory=list)

    def reduce_roles(self, grant: GrantRef) -> dict[Level, str]:
        return dict(self.roles)

    def preview_reduce(self, grant: GrantRef, role: str) -> list[RequestPreview]:
        return [RequestPreview("POST", f"https://social.test/{grant.resource_id}/assigned_users",
                               {"user": grant.account_id, "tasks": role})]

    def reduce(self, grant: GrantRef, role: str) -> RevokeResult:
        self.reductions.append((grant, role))
        for i, g in enumerate(self.source.grants):
            if g[0] == grant.account_id and g[1] == grant.resource_id and g[2] == grant.role:
                level = next(lvl for lvl, r in self.roles.items() if r == role)
                self.source.grants[i] = (g[0], g[1], role, level)
                return RevokeResult(RevokeOutcome.done)
        return RevokeResult(RevokeOutcome.already_gone)
