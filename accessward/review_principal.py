"""Who is deciding in an access review: the seam the accountable-approvals work replaces.

Until principals exist (one per person, keyed by the IdP subject, with personal tokens bound to them),
a reviewer is the authenticated API token: its id is ``token:<name>``, and it is known by its name, so a
personal token is named after its holder's email (``accessward token create --role reviewer --name
alex@example.com``). From the CLI the same token is given with ``--token`` or ``ACCESSWARD_TOKEN``; a
decision is never recorded against free text.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from accessward import tokens
from accessward.api.auth import Caller


@dataclass(frozen=True)
class Reviewer:
    id: str  # recorded as decided_by and as the audit event's actor
    keys: frozenset[str]  # every name the principal is known by (lower-case), matched against item reviewers
    role: str = ""

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def _from_token(name: str, role: str) -> Reviewer:
    return Reviewer(id=f"token:{name}", keys=frozenset({name.strip().lower()}), role=role)


def current_principal(caller: Caller, engine: Engine | None = None) -> Reviewer:
    """The reviewer behind an HTTP API call.

    Once tokens are bound to principals (``Caller.principal``, a ``PrincipalRef``), the principal is the
    reviewer: recorded as its actor, known by its key, email and person key.
    """
    who = getattr(caller, "principal", None)
    if who is not None:
        keys = {str(v).strip().lower() for v in (who.key, who.email, who.person_key) if v}
        return Reviewer(id=str(who.actor), keys=frozenset(keys), role=caller.role)
    name = caller.actor.removeprefix("token:")
    return _from_token(name, caller.role)


class NoPrincipal(ValueError):
    pass


def cli_principal(engine: Engine, token: str | None) -> Reviewer:
    """The reviewer behind a CLI call: their personal API token (``--token`` / ``ACCESSWARD_TOKEN``)."""
    if not token:
        raise NoPrincipal("a review decision needs your personal API token: --token or ACCESSWARD_TOKEN")
    found = tokens.authenticate(engine, token)
    if found is None:
        raise NoPrincipal("unknown or revoked API token")
    return _from_token(found.name, found.role)
