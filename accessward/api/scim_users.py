"""Inbound SCIM users in the store, and the deprovisioning they trigger.

Each write knows whether it turned an active user inactive (PATCH/PUT ``active=false``, a POST
of a user already inactive) or deleted an active one; that transition, and only that, starts an
offboarding, under the request id ``scim:<user id>:<n>`` (the n-th deactivation): a client
repeating the same PATCH, as Entra does on its next cycle, starts nothing new.

The lifecycle (the ``active`` column) moves only on an explicit ``active``: a PUT without it or
a PATCH that removes it leaves a deprovisioned user deprovisioned (the attribute is then simply
unassigned in the representation, as RFC 7644 says of a removed attribute). An explicit
``active: true`` on a deprovisioned user is a *reactivation*: recorded and shown, it re-grants
nothing and starts nothing.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from accessward.api.scim_patch import ENTERPRISE_SCHEMA, USER_SCHEMA, ScimProblem, attr_key
from accessward.api.scim_resource import clean
from accessward.reconcile.subject import PersonNotFound, resolve
from accessward.sync.clock import utcnow
from accessward.sync.service_models import ScimUser

_EQ = re.compile(r'^\s*(userName|externalId|id)\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$', re.IGNORECASE)


@dataclass(frozen=True)
class Written:
    user: ScimUser
    deactivated: bool  # this write turned an active user inactive (or deleted one)
    reactivated: bool = False  # an explicit active=true on a deprovisioned user
    created: bool = False


def representation(user: ScimUser, base: str) -> dict[str, Any]:
    body = clean(user.resource, strict=False)  # what older versions stored is shown as the schemas allow
    schemas = [USER_SCHEMA] + ([ENTERPRISE_SCHEMA] if ENTERPRISE_SCHEMA in body else [])
    return {"schemas": schemas, "id": user.id, **body, "meta": {
        "resourceType": "User", "created": user.created_at.isoformat(timespec="seconds") + "Z",
        "lastModified": user.updated_at.isoformat(timespec="seconds") + "Z",
        "location": f"{base}/Users/{user.id}", "version": f'W/"{user.version}"'}}


def _clean(body: Any) -> dict[str, Any]:
    out = clean(body)
    name = out.pop("userName", None)
    if not isinstance(name, str) or not name.strip():
        raise ScimProblem(400, "userName is required", "invalidValue")
    out["userName"] = name.strip()
    return out


def _store(session: Session, user: ScimUser, resource: dict[str, Any]) -> tuple[bool, bool]:
    """Write ``resource`` onto ``user``; answer (deactivated, reactivated) by this write."""
    was = user.active
    asserted = resource.get("active")  # None: unassigned, the lifecycle stays as it is
    user.resource = resource
    user.user_name = str(resource["userName"]).lower()
    user.external_id = resource.get("externalId")
    if asserted is not None:
        user.active = bool(asserted)
    user.updated_at = utcnow()
    user.version += 1
    deactivated = was and not user.active
    reactivated = not was and user.active
    if deactivated:
        user.deactivations += 1
    if reactivated:
        user.reactivations += 1
        user.reactivated_at = user.updated_at
    session.add(user)
    return deactivated, reactivated


def _commit(session: Session, user_name: str) -> None:
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise ScimProblem(409, f"userName {user_name!r} is taken", "uniqueness") from None


def create(engine: Engine, body: Any) -> Written:
    """A new user; one created already inactive counts as deactivated (its offboarding may start)."""
    resource = _clean(body)
    with Session(engine) as session:
        user = ScimUser(id=str(uuid.uuid4()), user_name=resource["userName"].lower(), version=0, active=True)
        deactivated, _ = _store(session, user, resource)
        _commit(session, resource["userName"])
        session.refresh(user)
        return Written(user, deactivated, created=True)


def get(engine: Engine, user_id: str) -> ScimUser:
    with Session(engine) as session:
        user = session.get(ScimUser, user_id)
        if user is None:
            raise ScimProblem(404, f"no User {user_id}")
        return user


def list_users(engine: Engine, filter_text: str | None, predicate: Callable[[dict[str, Any]], bool] | None,
            base: str) -> list[dict[str, Any]]:
    """Every User the filter selects, in a stable order (by creation)."""
    stmt = select(ScimUser).order_by(col(ScimUser.created_at), col(ScimUser.id))
    quick = _EQ.match(filter_text or "")
    if quick:  # the lookups clients make before every write: by index
        attr, value = quick[1].lower(), re.sub(r"\\(.)", r"\1", quick[2])
        column = {"username": func.lower(col(ScimUser.user_name)), "externalid": col(ScimUser.external_id),
                  "id": col(ScimUser.id)}[attr]
        stmt = stmt.where(column == (value.lower() if attr == "username" else value))
    with Session(engine) as session:
        users = [representation(u, base) for u in session.execute(stmt).scalars()]
    return [u for u in users if predicate is None or predicate(u)]


def replace(engine: Engine, user_id: str, body: Any) -> Written:
    resource = _clean(body)
    with Session(engine) as session:
        user = session.get(ScimUser, user_id)
        if user is None:
            raise ScimProblem(404, f"no User {user_id}")
        deactivated, reactivated = _store(session, user, resource)
        _commit(session, resource["userName"])
        session.refresh(user)
        return Written(user, deactivated, reactivated)


def patch(engine: Engine, user_id: str, change: Callable[[dict[str, Any]], dict[str, Any]]) -> Written:
    with Session(engine) as session:
        user = session.get(ScimUser, user_id)
        if user is None:
            raise ScimProblem(404, f"no User {user_id}")
        resource = _clean(change(clean(user.resource, strict=False)))
        deactivated, reactivated = _store(session, user, resource)
        _commit(session, resource["userName"])
        session.refresh(user)
        return Written(user, deactivated, reactivated)


def delete(engine: Engine, user_id: str) -> Written:
    with Session(engine) as session:
        user = session.get(ScimUser, user_id)
        if user is None:
            raise ScimProblem(404, f"no User {user_id}")
        deactivated = user.active
        if deactivated:
            user.deactivations += 1
        snapshot = ScimUser.model_validate(user.model_dump())
        session.delete(user)
        session.commit()
        return Written(snapshot, deactivated)


def person_keys(user: ScimUser) -> list[str]:
    """What may name the person, strongest first: employee number, userName, externalId, emails."""
    res = user.resource
    ext = res.get(attr_key(res, ENTERPRISE_SCHEMA))
    keys = [ext.get(attr_key(ext, "employeeNumber"))] if isinstance(ext, dict) else []
    keys += [res.get("userName"), res.get("externalId")]
    emails = res.get(attr_key(res, "emails"))
    for e in sorted(emails if isinstance(emails, list) else [], key=lambda e: not (isinstance(e, dict)
                                                                                    and e.get("primary"))):
        if isinstance(e, dict):
            keys.append(e.get("value"))
    return [k for k in dict.fromkeys(keys) if isinstance(k, str) and k.strip()]


def person_key(engine: Engine, user: ScimUser) -> tuple[str, bool]:
    """The first key that names exactly one person, and True; else the userName and False."""
    for key in person_keys(user):
        try:
            resolve(engine, key)
        except PersonNotFound:
            continue
        return key, True
    return str(user.resource.get("userName") or user.user_name), False
