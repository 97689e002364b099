"""Four-eyes (DESIGN.md invariant 8): who started a plan cannot approve it; nobody decides on their own access.

A principal's *own access* is every account linked to one of their person records (found by the
principal's ``person_key`` — employee id, UPN, username or source key — and by their email), or a
candidate of a disputed link to one of them, or carrying their email. The check errs on the side of
"own": a reviewer who might be the holder is not the one to decide.

A plan the scheduler built belongs to the system: any approver may approve it. An HR offboarding is
HR's decision, recorded as approved by the HR principal when it is written; it never passes here.
"""

from __future__ import annotations

from sqlalchemy import Engine, or_, select
from sqlmodel import Session, col

from accessward.sync.models import Account, Finding, Grant, Link, Person, PersonEmail, Plan
from accessward.sync.principals import PrincipalRef


class FourEyesRefused(ValueError):
    """A decision the four-eyes rule forbids; the message says why."""


def own_person_ids(engine: Engine, who: PrincipalRef) -> set[int]:
    if not who.is_person:
        return set()
    keys = [k for k in (who.person_key, who.email) if k]
    ids: set[int] = set()
    with Session(engine) as session:
        for key in keys:
            raw, low = key.strip(), key.strip().lower()
            ids |= {i for i in session.execute(select(col(Person.id)).where(or_(
                col(Person.employee_id) == raw, col(Person.source_key) == raw, col(Person.upn) == low,
                col(Person.username) == low))).scalars() if i is not None}
            ids |= set(session.execute(select(col(PersonEmail.person_id)).where(col(PersonEmail.email) == low))
                       .scalars())
    return ids


def own_account_ids(engine: Engine, who: PrincipalRef) -> set[int]:
    people = own_person_ids(engine, who)
    out: set[int] = set()
    with Session(engine) as session:
        if people:
            out |= set(session.execute(select(col(Link.account_id)).where(col(Link.person_id).in_(people)))
                       .scalars())
            for link in session.execute(select(Link).where(col(Link.disputed).is_(True))).scalars():
                if people & set(link.candidates or []):
                    out.add(link.account_id)
        if who.email:
            out |= {i for i in session.execute(select(col(Account.id)).where(
                col(Account.email) == who.email.lower())).scalars() if i is not None}
    return out


def owns_grant(engine: Engine, who: PrincipalRef, grant_id: int) -> bool:
    with Session(engine) as session:
        grant = session.get(Grant, grant_id)
    return grant is not None and grant.account_id in own_account_ids(engine, who)


def check_not_own_access(engine: Engine, who: PrincipalRef, *, grant_id: int | None = None,
                         account_id: int | None = None, person_id: int | None = None) -> None:
    """Raise :class:`FourEyesRefused` if the grant, account or person is the principal's own."""
    if grant_id is not None and owns_grant(engine, who, grant_id):
        raise FourEyesRefused(f"{who.display_name or who.key} may not decide on their own access (grant {grant_id})")
    if account_id is not None and account_id in own_account_ids(engine, who):
        raise FourEyesRefused(f"{who.display_name or who.key} may not decide on their own account ({account_id})")
    if person_id is not None and person_id in own_person_ids(engine, who):
        raise FourEyesRefused(f"{who.display_name or who.key} may not decide on their own access (person {person_id})")


def check_finding_not_own(engine: Engine, who: PrincipalRef, finding_id: int) -> None:
    with Session(engine) as session:
        finding = session.get(Finding, finding_id)
    if finding is None:
        return
    check_not_own_access(engine, who, grant_id=finding.grant_id, account_id=finding.account_id,
                         person_id=finding.person_id)


def check_may_approve(plan: Plan, who: PrincipalRef) -> None:
    """Raise :class:`FourEyesRefused` if ``who`` started the plan."""
    if plan.started_by_principal_id is not None and plan.started_by_principal_id == who.id:
        raise FourEyesRefused(f"plan {plan.id} was started by {who.display_name or who.key}: four-eyes needs "
                              "another approver")
    if plan.started_by and plan.started_by == who.actor:
        raise FourEyesRefused(f"plan {plan.id} was started by {who.actor}: four-eyes needs another approver")
