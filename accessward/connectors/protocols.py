"""The small protocols a connector implements. Reading and writing are kept apart."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Protocol, runtime_checkable

from accessward.connectors.records import (
    AccessRecord,
    GrantRef,
    Level,
    PersonChange,
    PersonRecord,
    RequestPreview,
    RevokeResult,
    StoredDigests,
    Takes,
)


@runtime_checkable
class IdentitySource(Protocol):
    """Yields every person of the source, streaming; raises a ConnectorError on failure."""

    name: str

    def list_people(self) -> Iterator[PersonRecord]: ...


class ChangeRun(Protocol):
    """One incremental round: iterate it once; then ``cursor`` is the cursor for the next round.

    ``full`` is True when the round started without a cursor and so returned everyone.
    """

    full: bool

    @property
    def cursor(self) -> str: ...

    def __iter__(self) -> Iterator[PersonChange]: ...


@runtime_checkable
class IncrementalIdentitySource(Protocol):
    """An identity source that can return only what changed since a cursor.

    Raises ``ResyncRequired`` when the cursor is no longer valid.
    """

    name: str

    def list_people(self) -> Iterator[PersonRecord]: ...

    def list_changes(self, cursor: str | None) -> ChangeRun: ...


@runtime_checkable
class DigestingSource(Protocol):
    """An incremental identity source that can skip the people whose raw answer did not change.

    ``expect(stored)`` hands it what the store holds (read only if the round turns out full: an
    incremental round lists few people and skips nothing); its next ``list_changes`` round yields an
    :class:`~connectors.records.UnchangedPerson` for each person it recognises as unchanged (and only
    when that is provably the same mapped person), and records carrying ``source_digest`` otherwise.
    """

    name: str

    def expect(self, stored: Callable[[], StoredDigests]) -> None: ...


@runtime_checkable
class AccessSource(Protocol):
    """Yields accounts, resources and grants, each account/resource before its grants."""

    name: str

    def list_access(self) -> Iterator[AccessRecord]: ...


@runtime_checkable
class Revoker(Protocol):
    """Removes one grant. Already gone is success (RevokeOutcome.already_gone)."""

    name: str

    def preview_revoke(self, grant: GrantRef) -> RequestPreview: ...

    def revoke(self, grant: GrantRef) -> RevokeResult: ...


@runtime_checkable
class WideRevoker(Protocol):
    """A revoker some of whose revocations remove more than the grant they name.

    A revoker without this method removes exactly one grant per revocation.
    """

    name: str

    def revocation_takes(self, grant: GrantRef) -> Takes: ...


@runtime_checkable
class Reducer(Protocol):
    """Sets a lower role on one grant in place (an access review's "reduce"), where the platform can.

    ``reduce_roles`` names the platform role for each lower level it can set (empty: no such call, so a
    reduce becomes a revocation plus a manual step to grant the lower role). A downgrade from admin
    counts as the removal of an admin for the last-admin guard.
    """

    name: str

    def reduce_roles(self, grant: GrantRef) -> Mapping[Level, str]: ...

    def preview_reduce(self, grant: GrantRef, role: str) -> Sequence[RequestPreview]: ...

    def reduce(self, grant: GrantRef, role: str) -> RevokeResult: ...
