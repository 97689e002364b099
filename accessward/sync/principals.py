"""Principals: who did something, one per person, whichever way they came in.

A person is known by the IdP subject of their console login (``issuer`` + ``sub``) or, before the
console exists, by the id the settings give them (``[[principals]]``). Their personal API tokens are
bound to the same row. :func:`resolve_or_create` is what the console's OIDC callback calls; it
binds a first login to the settings' principal of the same (verified) email, so the token and the
login stay one principal. The system (scheduler, rules) and services (HR's signed webhook) are
principals of their own kinds, created on first use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from accessward.sync import audit
from accessward.sync.principal_models import Principal

if TYPE_CHECKING:
    from accessward.settings import Settings

SCHEDULER = "system:scheduler"
HR_WEBHOOK = "service:hr-webhook"


@dataclass(frozen=True)
class PrincipalRef:
    """A principal as the layers hand it around (never the ORM row)."""

    id: int
    key: str
    kind: str  # person | system | service
    display_name: str
    email: str | None
    person_key: str | None

    @property
    def actor(self) -> str:
        """The audit trail's ``actor`` for this principal."""
        return f"principal:{self.key}"

    @property
    def is_person(self) -> bool:
        return self.kind == "person"


def _ref(p: Principal) -> PrincipalRef:
    assert p.id is not None
    return PrincipalRef(p.id, p.key, p.kind, p.display_name, p.email, p.person_key)


def _norm(email: str | None) -> str | None:
    return email.strip().lower() if email and email.strip() else None


def get(engine: Engine, principal_id: int) -> PrincipalRef | None:
    with Session(engine) as session:
        found = session.get(Principal, principal_id)
        return _ref(found) if found is not None and found.disabled_at is None else None


def by_key(engine: Engine, key: str) -> PrincipalRef | None:
    with Session(engine) as session:
        found = session.execute(select(Principal).where(col(Principal.key) == key)).scalars().first()
        return _ref(found) if found is not None and found.disabled_at is None else None


def ensure(engine: Engine, key: str, *, kind: str = "person", display_name: str = "", email: str | None = None,
           person_key: str | None = None, issuer: str | None = None, subject: str | None = None,
           actor: str = "system") -> PrincipalRef:
    """The principal with this key, created or brought up to date with what is given."""
    if not key.strip():
        raise ValueError("a principal needs a non-empty id")
    if (issuer is None) != (subject is None):
        raise ValueError("give both issuer and subject, or neither")
    email = _norm(email)
    for _ in range(2):  # a concurrent creation of the same key: read it the second time
        try:
            with Session(engine) as session:
                found = session.execute(select(Principal).where(col(Principal.key) == key)).scalars().first()
                created = found is None
                p = found or Principal(key=key, kind=kind)
                changed = created
                for name, value in (("display_name", display_name), ("email", email), ("person_key", person_key),
                                    ("issuer", issuer), ("subject", subject)):
                    if value not in (None, "") and getattr(p, name) != value:
                        setattr(p, name, value)
                        changed = True
                if changed:
                    session.add(p)
                    session.flush()
                    audit.append(session.connection(), "principal.created" if created else "principal.updated",
                                 f"principal:{key}", {"kind": p.kind, "name": p.display_name, "email": p.email,
                                                      "person_key": p.person_key, "issuer": p.issuer,
                                                      "subject": p.subject}, actor=actor)
                    session.commit()
                    session.refresh(p)
                return _ref(p)
        except IntegrityError:
            continue
    raise ValueError(f"principal {key!r}: its issuer and subject belong to another principal")


def _exists(engine: Engine, key: str) -> bool:
    with Session(engine) as session:
        return session.execute(select(col(Principal.id)).where(col(Principal.key) == key)).first() is not None


def system(engine: Engine, key: str = SCHEDULER) -> PrincipalRef:
    kind = "system" if key.startswith("system:") else "service"
    return ensure(engine, key, kind=kind, display_name=key.split(":", 1)[-1])


def sync_from_settings(engine: Engine, settings: Settings, *, actor: str = "system") -> list[PrincipalRef]:
    """Upsert the ``[[principals]]`` of the settings (the people who approve, review, accept)."""
    return [ensure(engine, p.id, display_name=p.name, email=p.email, person_key=p.person_key, issuer=p.issuer,
                   subject=p.subject, actor=actor) for p in settings.principals]


def resolve_or_create(engine: Engine, *, issuer: str, sub: str, email: str | None, name: str,
                      email_verified: bool = False) -> PrincipalRef:
    """The principal of a console login (OIDC ``iss`` + ``sub``), found, bound or created.

    1. the principal already bound to (issuer, sub);
    2. else, when the IdP says the email is verified, the only person principal with that email
       and no login bound yet (someone the settings named, who may already hold a token): bound now;
    3. else a new person principal ``oidc:<n>``.
    An email is a hint, never an identity: an unverified email never binds, and neither does one
    shared by two principals.
    """
    if not issuer or not sub:
        raise ValueError("a login needs an issuer and a subject")
    email = _norm(email)
    with Session(engine) as session:
        found = session.execute(select(Principal).where(col(Principal.issuer) == issuer,
                                                        col(Principal.subject) == sub)).scalars().first()
        if found is not None:
            if found.disabled_at is not None:
                raise ValueError(f"principal {found.key!r} is disabled")
            return _ref(found)
        if email and email_verified:
            same = list(session.execute(select(Principal).where(
                col(Principal.email) == email, col(Principal.kind) == "person", col(Principal.subject).is_(None),
                col(Principal.disabled_at).is_(None))).scalars())
            if len(same) == 1:
                return ensure(engine, same[0].key, issuer=issuer, subject=sub, actor=f"login:{issuer}")
        n = (session.execute(select(col(Principal.id)).order_by(col(Principal.id).desc()).limit(1)).scalar() or 0) + 1
    for attempt in range(5):
        key = f"oidc:{n + attempt}"
        if not _exists(engine, key):
            return ensure(engine, key, display_name=name, email=email, issuer=issuer, subject=sub,
                          actor=f"login:{issuer}")
    raise ValueError("could not allocate a principal key")
