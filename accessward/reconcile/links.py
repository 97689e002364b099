"""Manual links: a person says which person an account belongs to, and correlation keeps it.

Used where nothing can be matched automatically (a LinkedIn member is a bare URN) or where two
people matched (a disputed link). The person is named by something that identifies exactly one
person: employee id, email, username/UPN, or the source's own key.
"""

from __future__ import annotations

from sqlalchemy import Engine, or_, select
from sqlmodel import Session, col

from accessward.sync import audit
from accessward.sync.bulk import upsert
from accessward.sync.clock import utcnow
from accessward.sync.models import Account, Link, Person, PersonEmail


def find_person(session: Session, key: str) -> Person:
    needle = key.strip().lower()
    ids = set(session.execute(select(col(Person.id)).where(or_(
        col(Person.employee_id) == key.strip(), col(Person.username) == needle, col(Person.upn) == needle,
        col(Person.source_key) == key.strip()))).scalars())
    ids |= set(session.execute(select(col(PersonEmail.person_id)).where(col(PersonEmail.email) == needle)).scalars())
    if not ids:
        raise ValueError(f"no person matches {key!r}")
    if len(ids) > 1:
        raise ValueError(f"{len(ids)} people match {key!r}; use a key that names one (employee id, source key)")
    person = session.get(Person, ids.pop())
    assert person is not None
    return person


def link(engine: Engine, system: str, account: str, person_key: str, *, actor: str) -> tuple[int, int]:
    with Session(engine) as session:
        acct = session.execute(select(Account).where(col(Account.system) == system,
                                                     col(Account.external_id) == account)).scalars().first()
        if acct is None or acct.id is None:
            raise ValueError(f"no account {account!r} on {system!r}")
        person = find_person(session, person_key)
        assert person.id is not None
        conn = session.connection()
        upsert(conn, Link.__table__, [{  # type: ignore[attr-defined]
            "account_id": acct.id, "person_id": person.id, "method": "manual", "disputed": False,
            "candidates": [person.id], "updated_at": utcnow()}],
            keys=("account_id",), update=["person_id", "method", "disputed", "candidates", "updated_at"])
        audit.append(conn, "link.manual", f"account:{acct.id}",
                     {"system": system, "account": account, "person": person.id, "person_name": person.display_name},
                     actor=actor)
        session.commit()
        return acct.id, person.id


def unlink(engine: Engine, system: str, account: str, *, actor: str) -> None:
    """Drop a manual link; the next correlation decides again."""
    with Session(engine) as session:
        acct = session.execute(select(Account).where(col(Account.system) == system,
                                                     col(Account.external_id) == account)).scalars().first()
        if acct is None:
            raise ValueError(f"no account {account!r} on {system!r}")
        lk = session.execute(select(Link).where(col(Link.account_id) == acct.id)).scalars().first()
        if lk is None or lk.method != "manual":
            raise ValueError(f"account {account!r} on {system!r} has no manual link")
        lk.method, lk.person_id = "none", None
        session.add(lk)
        audit.append(session.connection(), "link.removed", f"account:{acct.id}", {"system": system, "account": account},
                     actor=actor)
        session.commit()
