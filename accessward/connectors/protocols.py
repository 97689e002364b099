"""The small protocols a connector implements. Reading and writing are kept apart."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable

from accessward.connectors.records import (
    AccessRecord,
    GrantRef,
    PersonChange,
    PersonRecord,
    RequestPreview,
    RevokeResult,
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
