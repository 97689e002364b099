"""What a revocation really takes away, and the guard that judges all of it (invariant 5).

Some revocations remove more than the grant they name: removing a Meta business membership ends
every Page and Instagram assignment the person holds through the business; removing a partnership
ends the partner's access to every asset. A revoker says so through ``WideRevoker.revocation_takes``
(a :class:`~accessward.connectors.records.Takes`); :func:`expand` turns that declaration into the
concrete open grants of the store, and :class:`Guard` judges every one of them: the last admin of
a resource is never removed, a break-glass account is never touched, a disputed link is never
acted on. The planner runs the guard when it writes a plan and the executor runs it again just
before the call, counting what other unfinished plans are about to remove (expanded the same way).

A revoker without ``revocation_takes`` removes exactly the grant it names. ``revocation_takes``
must not call the network: it runs for every candidate at plan time and again at execution.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Boolean, Connection, Engine, bindparam, text

from accessward.connectors.errors import ConnectorError
from accessward.connectors.protocols import Revoker, WideRevoker
from accessward.connectors.records import AccountKind, GrantRef, Level, RevocationScope, Takes

_TAKEN_SELECT = """
SELECT g.id AS grant_id, g.system, g.role, g.level, g.resource_id, g.account_id,
       a.external_id AS account, a.email, a.kind AS account_kind,
       r.external_id AS resource, r.name AS resource_name, r.kind AS resource_kind,
       COALESCE(l.disputed, :no) AS disputed
FROM access_grant g
JOIN account a ON a.id = g.account_id
JOIN resource r ON r.id = g.resource_id
LEFT JOIN link l ON l.account_id = a.id
WHERE g.seen_to IS NULL AND {where}
ORDER BY g.id
"""

IN_FLIGHT_SQL = """
SELECT x.id AS action_id, g.id AS grant_id, g.system, g.role, g.resource_id, g.account_id,
       a.external_id AS account, a.kind AS account_kind, r.external_id AS resource, r.kind AS resource_kind
FROM action x
JOIN plan p ON p.id = x.plan_id
JOIN access_grant g ON g.id = x.grant_id
JOIN account a ON a.id = g.account_id
JOIN resource r ON r.id = g.resource_id
WHERE x.state IN ('planned', 'executing') AND p.status IN ('approved', 'applying') AND g.seen_to IS NULL
"""


@dataclass(frozen=True)
class Taken:
    """One open grant a revocation removes."""

    grant_id: int
    system: str
    account: str
    account_id: int
    email: str | None
    resource: str
    resource_id: int
    resource_name: str
    role: str
    level: int
    disputed: bool

    def describe(self) -> str:
        name = f" {self.resource_name!r}" if self.resource_name else ""
        return f"{self.resource}{name} ({self.role})"


def declared(revoker: Revoker | None, ref: GrantRef) -> Takes:
    """What the revoker says this revocation takes away (one grant unless it is a WideRevoker)."""
    if revoker is not None and isinstance(revoker, WideRevoker):
        return revoker.revocation_takes(ref)
    return Takes()


def _ref(row: Mapping[Any, Any]) -> GrantRef:
    return GrantRef(account_id=str(row["account"]), resource_id=str(row["resource"]), role=str(row["role"]),
                    resource_kind=str(row["resource_kind"]), account_kind=AccountKind(str(row["account_kind"])))


def _taken(row: Mapping[Any, Any]) -> Taken:
    return Taken(
        grant_id=int(row["grant_id"]), system=str(row["system"]), account=str(row["account"]),
        account_id=int(row["account_id"]), email=row["email"], resource=str(row["resource"]),
        resource_id=int(row["resource_id"]), resource_name=str(row["resource_name"] or ""), role=str(row["role"]),
        level=int(row["level"]), disputed=bool(row["disputed"]),
    )


def expand(conn: Connection, grant_id: int, takes: Takes) -> list[Taken]:
    """The open grants a revocation of ``grant_id`` removes: always the grant itself, plus the declared scope."""
    params: dict[str, Any] = {"no": False, "g": grant_id}
    if takes.scope is RevocationScope.account_on_system:
        where = ("(g.id = :g OR (g.account_id = (SELECT account_id FROM access_grant WHERE id = :g) "
                 "AND g.system = (SELECT system FROM access_grant WHERE id = :g)))")
        stmt = text(_TAKEN_SELECT.format(where=where))
    elif takes.scope is RevocationScope.account_on_resources and takes.resource_ids:
        where = ("(g.id = :g OR (g.account_id = (SELECT account_id FROM access_grant WHERE id = :g) "
                 "AND g.system = (SELECT system FROM access_grant WHERE id = :g) AND r.external_id IN :rids))")
        stmt = text(_TAKEN_SELECT.format(where=where)).bindparams(bindparam("rids", expanding=True))
        params["rids"] = list(takes.resource_ids)
    else:
        stmt = text(_TAKEN_SELECT.format(where="g.id = :g"))
    rows = conn.execute(stmt.columns(disputed=Boolean), params).mappings().all()
    return [_taken(r) for r in rows]


def takes_for(conn: Connection, revoker: Revoker | None, row: Mapping[Any, Any]) -> tuple[Takes, list[Taken]]:
    """The declaration and its expansion for a planner/executor row (``grant_id``, ``account``, ...)."""
    takes = declared(revoker, _ref(row))
    if takes.scope is RevocationScope.grant and _ROW_KEYS <= set(row.keys()):
        # the common case needs no query: the planner's candidate row has everything (one grant)
        return takes, [_taken({**row, "account_id": row.get("account_id", 0)})]
    return takes, expand(conn, int(row["grant_id"]), takes)


_ROW_KEYS = frozenset({"grant_id", "system", "account", "email", "resource", "resource_id", "resource_name", "role",
                       "level", "disputed"})


def in_flight_removals(engine: Engine, revokers: Mapping[str, Revoker], *,
                       besides_action: int | None = None) -> dict[int, Taken]:
    """Every open grant that an unfinished action of an approved/applying plan is about to remove, expanded.

    A revoker that cannot be asked (not configured now, or its declaration fails) counts its named
    grant only: the guard then errs on the side of holding, never of removing.
    """
    out: dict[int, Taken] = {}
    with engine.connect() as conn:
        rows = conn.execute(text(IN_FLIGHT_SQL)).mappings().all()
        for row in rows:
            if besides_action is not None and int(row["action_id"]) == besides_action:
                continue
            try:
                takes = declared(revokers.get(str(row["system"])), _ref(row))
            except ConnectorError:
                takes = Takes()
            for t in expand(conn, int(row["grant_id"]), takes):
                out[t.grant_id] = t
    return out


def open_admin_grants(conn: Connection, resource_ids: Iterable[int]) -> dict[int, set[int]]:
    """Per resource (store id): the ids of its open admin-level grants (a handful per resource)."""
    ids = sorted(set(resource_ids))
    if not ids:
        return {}
    stmt = text("SELECT resource_id, id FROM access_grant WHERE seen_to IS NULL AND level >= :admin "
                "AND resource_id IN :ids").bindparams(bindparam("ids", expanding=True))
    out: dict[int, set[int]] = {}
    for rid, gid in conn.execute(stmt, {"admin": int(Level.admin), "ids": ids}):
        out.setdefault(int(rid), set()).add(int(gid))
    return out


def is_break_glass(system: str, account: str, email: str | None, names: Collection[str]) -> bool:
    keys = {account.lower(), f"{system}:{account}".lower()}
    if email:
        keys.add(email.lower())
    return bool(keys & set(names))


@dataclass
class Guard:
    """Judges the grants one revocation takes, against what is already going (other plans, this plan).

    ``going`` maps grant id -> Taken for every grant some other action is about to remove; the
    planner adds each revocation it accepts (:meth:`accept`) so that two revocations in one plan
    cannot together remove a resource's last admin.
    """

    break_glass: Collection[str] = ()
    going: dict[int, Taken] = field(default_factory=dict)
    # The planner reads a resource's admins once per plan (the store does not change under it);
    # the executor leaves this off and reads them fresh before each call.
    cache_admins: bool = False
    _admins: dict[int, set[int]] = field(default_factory=dict)

    def judge(self, conn: Connection, taken: list[Taken], named_grant: int) -> str | None:
        """None if the revocation may go ahead, else why not (naming the grant that stops it)."""
        for t in taken:
            wide = t.grant_id != named_grant
            also = f" (this revocation also removes {t.describe()})" if wide else ""
            if is_break_glass(t.system, t.account, t.email, self.break_glass):
                return f"break-glass account: never revoked{also}"
            if t.disputed:
                return f"disputed link: two people match this account; link it by hand (accessward link){also}"
        admin_resources = {t.resource_id for t in taken if t.level >= int(Level.admin)}
        if not admin_resources:
            return None
        if self.cache_admins:
            missing = admin_resources - self._admins.keys()
            self._admins.update({rid: set() for rid in missing})
            self._admins.update(open_admin_grants(conn, missing))
            admins = self._admins
        else:
            admins = open_admin_grants(conn, admin_resources)
        mine = {t.grant_id for t in taken}
        for rid in sorted(admin_resources):
            # the admins still open now, less everything this and every unfinished revocation removes
            if not any(g not in mine and g not in self.going for g in admins.get(rid, ())):
                hit = next(t for t in taken if t.resource_id == rid and t.level >= int(Level.admin))
                if hit.grant_id == named_grant:
                    return "last admin of the resource: never removed automatically"
                return (f"last admin of the resource: never removed automatically — this revocation also "
                        f"removes {hit.describe()}, whose last admin it is")
        return None

    def accept(self, taken: list[Taken]) -> None:
        self.going.update({t.grant_id: t for t in taken})


def describe_takes(takes: Takes, taken: list[Taken], named_grant: int) -> str:
    """The lines a plan shows under a wide revocation's request: every other grant it takes away."""
    others = [t for t in taken if t.grant_id != named_grant]
    if takes.scope is RevocationScope.grant and not others:
        return ""
    head = f"takes away {len(taken)} grant(s)" + (f": {takes.note}" if takes.note else "")
    return "\n".join([f"# {head}", *(f"#   also {t.describe()}" for t in others)])
