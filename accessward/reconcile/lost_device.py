"""A device reported lost or stolen: end the owner's sessions, remove its MFA method, flag the rest.

In every identity provider that knows the owner: their sign-in sessions end, and the MFA methods
bound to the device (matched by the IdP's id or the device name it keeps, e.g. the Authenticator's
phone name or a security key's label) are removed. When the report names no device, or no method
matches, nothing is removed and the owner's device-bound methods are listed so the service desk
can name the right one. Access that ending SSO sessions does not cut (a native login on a network,
or one whose sign-in is unknown) is flagged as a ``lost_device`` finding: a session on the lost
device may still be signed in there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any

from sqlalchemy import Engine, Table, select, text
from sqlmodel import Session, col

from accessward.connectors.errors import ConnectorError, NotFoundError
from accessward.connectors.idp import IdentityProvider, MfaMethod
from accessward.reconcile.idp_calls import DISABLING_STEPS, Retry, call_idp, disable_hold
from accessward.reconcile.subject import open_grants, resolve
from accessward.sync import audit
from accessward.sync.bulk import upsert
from accessward.sync.clock import utcnow
from accessward.sync.models import Finding, Person
from accessward.sync.service_models import DeviceReport

_F: Table = Finding.__table__  # type: ignore[attr-defined]
FINAL = ("done", "already_gone")


@dataclass
class DeviceTools:
    idps: Mapping[str, IdentityProvider]
    retry: Retry = field(default_factory=Retry)
    severity: str = "high"
    break_glass: tuple[str, ...] = ()


def find(engine: Engine, request_id: str) -> DeviceReport | None:
    with Session(engine) as session:
        return session.execute(select(DeviceReport).where(col(DeviceReport.request_id) == request_id)).scalars().first()


def report(engine: Engine, *, person_key: str, device: str, status: str, reported_by: str, tools: DeviceTools,
           request_id: str | None = None) -> tuple[DeviceReport, bool]:
    """Handle a lost-device report once per request id; answer (report, created)."""
    if request_id and (existing := find(engine, request_id)) is not None:
        return existing, False
    subject = resolve(engine, person_key)  # PersonNotFound: nothing is recorded
    with Session(engine) as session:
        rep = DeviceReport(request_id=request_id, device=device, person_key=person_key,
                           person_ids=list(subject.person_ids), status=status, reported_by=reported_by,
                           outcome="in_progress")
        session.add(rep)
        session.commit()
        session.refresh(rep)
        people = list(session.execute(select(Person).where(col(Person.id).in_(subject.person_ids))).scalars())
    assert rep.id is not None
    idps = [_idp_side(engine, idp, p, device, tools) for p in people if (idp := tools.idps.get(p.source))]
    flagged, central = _flag(engine, subject.person_ids, device, rep.id, tools.severity)
    notes = []
    if not idps:
        notes.append("no account in a configured identity provider was found for this person: "
                     "no session could be ended centrally")
    if not device:
        notes.append("no device named: no MFA method was removed; name one of the methods listed")
    ok = all(a["state"] in FINAL for side in idps for a in side["actions"])
    result = {
        "person": {"key": person_key, "name": subject.name, "employee_id": subject.employee_id},
        "identity_providers": idps, "flagged": flagged, "cut_centrally": central, "notes": notes,
    }
    with Session(engine) as session:
        saved = session.get(DeviceReport, rep.id)
        assert saved is not None
        saved.result, saved.outcome = result, "done" if ok else "partially_done"
        session.add(saved)
        audit.append(session.connection(), "device.reported", f"device_report:{rep.id}", {
            "device": device, "status": status, "person": person_key, "outcome": saved.outcome,
            "actions": [{k: a[k] for k in ("action", "state")} | {"system": s["system"]}
                        for s in idps for a in s["actions"]],
            "flagged": len(flagged)}, actor=reported_by)
        session.commit()
        session.refresh(saved)
        return saved, True


def _idp_side(engine: Engine, idp: IdentityProvider, person: Person, device: str,
              tools: DeviceTools) -> dict[str, Any]:
    user, retry = person.source_key, tools.retry
    actions: list[dict[str, Any]] = []
    try:
        steps = idp.lost_device_steps(user)  # an Entra guest: disabled or deleted, never "sessions ended"
    except NotFoundError as exc:
        actions.append({"action": "end_sessions", "state": "already_gone",
                        "detail": f"not in the identity provider any more ({exc})"})
        return {"system": idp.name, "user": user, "actions": actions, "device_methods_left": []}
    except ConnectorError as exc:
        actions.append({"action": "end_sessions", "state": "failed", "detail": f"{exc.kind}: {exc}"})
        steps = []
    for step in steps:
        held = disable_hold(engine, [person.id or 0], tools.break_glass, idp.name) \
            if step.kind in DISABLING_STEPS else None
        if held is not None:  # a guest's disable would lock out a last admin or break-glass account
            actions.append({"action": step.kind, "request": step.preview.render(), "state": "held", "detail": held})
            continue
        state, detail = call_idp(step.run, retry)
        actions.append({"action": step.kind, "request": step.preview.render(), "state": state, "detail": detail})
    left: list[dict[str, Any]] = []
    try:
        methods = [m for m in idp.mfa_methods(user) if m.device_bound]
    except ConnectorError as exc:
        actions.append({"action": "list_mfa_methods", "state": "failed", "detail": f"{exc.kind}: {exc}"})
        methods = []
    for method in methods:
        if device and method.matches(device):
            state, detail = call_idp(partial(idp.remove_mfa_method, user, method), retry)
            actions.append({"action": "remove_mfa_method", "method": _method(method),
                            "request": idp.preview_remove_mfa_method(user, method).render(),
                            "state": state, "detail": detail})
        else:
            left.append(_method(method))
    return {"system": idp.name, "user": user, "actions": actions, "device_methods_left": left}


def _method(m: MfaMethod) -> dict[str, Any]:
    return {k: v for k, v in asdict(m).items() if k != "device_bound"}


def _flag(engine: Engine, person_ids: tuple[int, ...], device: str, report_id: int,
          severity: str) -> tuple[list[dict[str, Any]], int]:
    """Findings for access a session on the device may keep; answer them and how many SSO cuts."""
    now = utcnow()
    flagged, rows, central = [], [], 0
    for g in open_grants(engine, list(person_ids)):
        if g["person_id"] not in person_ids:
            continue  # a disputed link is not this person's for sure
        if g["sso"] is True:
            central += 1
            continue
        why = "native login: ending SSO sessions does not sign the device out" if g["sso"] is False else \
            "sign-in method unknown: ending SSO sessions may not sign the device out"
        flagged.append({"system": g["system"], "account": g["account"], "account_name": g["account_name"],
                        "resource": g["resource"], "resource_name": g["resource_name"], "role": g["role"],
                        "why": why})
        rows.append({"key": f"lost_device:grant:{g['grant_id']}", "rule": "lost_device", "severity": severity,
                     "system": g["system"], "account_id": g["account_row"], "grant_id": g["grant_id"],
                     "person_id": g["person_id"], "state": "open", "first_seen": now, "last_seen": now,
                     "resolved_at": None,
                     "evidence": {"reason": "lost_device", "why": why, "device": device, "report": report_id}})
    if rows:
        with engine.begin() as conn:
            upsert(conn, _F, rows, keys=("key",),
                   update=["severity", "evidence", "last_seen", "state", "resolved_at", "person_id"])
    return flagged, central


def resolve_closed(engine: Engine) -> int:
    """Lost-device findings whose grant has gone are resolved (no rule run does it for them)."""
    with engine.begin() as conn:
        return int(conn.execute(text(
            "UPDATE finding SET state = 'resolved', resolved_at = :now WHERE rule = 'lost_device' "
            "AND state = 'open' AND grant_id IN (SELECT id FROM access_grant WHERE seen_to IS NOT NULL)"),
            {"now": utcnow()}).rowcount or 0)
