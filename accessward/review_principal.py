"""Who is deciding in an access review: the authenticated principal, never a name typed on a command line.

A decision (and a delegation) is made by a person: a personal API token, bound to a principal
(``accessward token create --principal ID --role reviewer``), over HTTP or with ``--token`` /
``ACCESSWARD_TOKEN`` from the CLI. The principal's actor (``principal:<key>``) is recorded as ``decided_by``
and as the audit event's actor; the principal is known by its key, email and person key, which are matched
against an item's reviewer (an email) and, with the item's subject keys and ``four_eyes.owns_grant``,
against the access under review: nobody decides on their own access.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine

from accessward.api.auth import Caller
from accessward.sync.principals import PrincipalRef


@dataclass(frozen=True)
class Reviewer:
    id: str  # recorded as decided_by and as the audit event's actor
    keys: frozenset[str]  # every name the principal is known by (lower-case), matched against item reviewers
    role: str = ""
    ref: PrincipalRef | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def owns(self, engine: Engine) -> Callable[[int], bool] | None:
        """A check that a grant is this person's own (their linked accounts), for ``reviews.decide``."""
        from accessward.reconcile.four_eyes import owns_grant

        ref = self.ref
        if ref is None:
            return None
        return lambda grant_id: owns_grant(engine, ref, grant_id)


def _from_ref(who: PrincipalRef, role: str) -> Reviewer:
    keys = {str(v).strip().lower() for v in (who.key, who.email, who.person_key) if v}
    return Reviewer(id=who.actor, keys=frozenset(keys), role=role, ref=who)


def current_principal(caller: Caller, engine: Engine | None = None) -> Reviewer:
    """The reviewer behind an HTTP API call (``require_person`` makes sure there is a principal)."""
    if caller.principal is not None:
        return _from_ref(caller.principal, caller.role)
    name = caller.actor.removeprefix("token:")  # a service token: it may read, never decide
    return Reviewer(id=caller.actor, keys=frozenset({name.strip().lower()}), role=caller.role)


class NoPrincipal(ValueError):
    pass


def cli_principal(engine: Engine, token: str | None) -> Reviewer:
    """The reviewer behind a CLI call: their personal API token (``--token`` / ``ACCESSWARD_TOKEN``)."""
    from accessward import tokens
    from accessward.cli_auth import authenticate

    try:
        who = authenticate(engine, token, "reviewer")
    except ValueError as exc:
        raise NoPrincipal(str(exc)) from None
    found, _problem = tokens.lookup(engine, (token or "").strip())
    return _from_ref(who, found.role if found else "")

