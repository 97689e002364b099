"""The small protocols a connector implements. Reading and writing are kept apart."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable

from connectors.records import AccessRecord, GrantRef, PersonRecord, RequestPreview, RevokeResult


@runtime_checkable
class IdentitySource(Protocol):
    """Yields every person of the source, streaming; raises a ConnectorError on failure."""

    name: str

    def list_people(self) -> Iterator[PersonRecord]: ...


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
