"""API tokens with roles. A token is shown once, when created; the store keeps only its SHA-256.

A *personal* token is bound to a person principal (``accessward.sync.principals``): what it does is
recorded against that person. A token can carry an expiry; from then on it is refused like a
revoked one.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from accessward.sync import audit
from accessward.sync.clock import utcnow
from accessward.sync.service_models import ApiToken

ROLES = ("hr", "service_desk", "auditor", "approver", "reviewer", "admin")
PREFIX = "aw_"
_TOUCH_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often per token
_DURATION = re.compile(r"^\s*(\d{1,5})\s*([hdw])\s*$")
_UNITS = {"h": "hours", "d": "days", "w": "weeks"}


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def parse_duration(value: str) -> timedelta:
    """``90d``, ``12h``, ``2w`` -> a timedelta (what ``token create --expires`` takes)."""
    found = _DURATION.match(value)
    if found is None or int(found.group(1)) == 0:
        raise ValueError(f"--expires {value!r}: give a duration such as 90d, 12h or 2w")
    return timedelta(**{_UNITS[found.group(2)]: int(found.group(1))})


def create(engine: Engine, *, name: str, role: str, actor: str, principal_id: int | None = None,
           expires_at: datetime | None = None) -> str:
    """Create a token and return it: the only time its value exists outside the caller's hands."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    if not name.strip():
        raise ValueError("give the token a name (who or what uses it)")
    if expires_at is not None and expires_at <= utcnow():
        raise ValueError("a token must expire in the future")
    token = PREFIX + secrets.token_urlsafe(32)
    try:
        with Session(engine) as session:
            session.add(ApiToken(name=name.strip(), role=role, token_hash=hash_token(token), created_by=actor,
                                 principal_id=principal_id, expires_at=expires_at))
            session.flush()
            audit.append(session.connection(), "token.created", f"token:{name.strip()}", {
                "role": role, "principal_id": principal_id,
                "expires_at": expires_at.isoformat() if expires_at else None}, actor=actor)
            session.commit()
    except IntegrityError:
        raise ValueError(f"a token named {name.strip()!r} exists already") from None
    return token


def lookup(engine: Engine, token: str) -> tuple[ApiToken | None, str]:
    """The live token with this value and "", or None and why it is refused."""
    if not token.startswith(PREFIX):
        return None, "unknown or revoked API token"
    now = utcnow()
    with Session(engine) as session:
        found: ApiToken | None = session.execute(select(ApiToken).where(
            col(ApiToken.token_hash) == hash_token(token), col(ApiToken.revoked_at).is_(None))).scalars().first()
        if found is None:
            return None, "unknown or revoked API token"
        if found.expires_at is not None and found.expires_at <= now:
            return None, f"API token {found.name!r} expired at {found.expires_at:%Y-%m-%d %H:%M} UTC"
        if found.last_used_at is None or now - found.last_used_at > _TOUCH_EVERY:
            found.last_used_at = now
            session.add(found)
            session.commit()
            session.refresh(found)
        return found, ""


def authenticate(engine: Engine, token: str) -> ApiToken | None:
    """The live token with this value, or None (unknown, revoked or expired)."""
    return lookup(engine, token)[0]


def revoke(engine: Engine, name: str, *, actor: str) -> None:
    with Session(engine) as session:
        found = session.execute(select(ApiToken).where(col(ApiToken.name) == name)).scalars().first()
        if found is None or found.revoked_at is not None:
            raise ValueError(f"no live token named {name!r}")
        found.revoked_at = utcnow()
        session.add(found)
        audit.append(session.connection(), "token.revoked", f"token:{name}", {"role": found.role}, actor=actor)
        session.commit()


def listing(engine: Engine) -> list[ApiToken]:
    with Session(engine) as session:
        return list(session.execute(select(ApiToken).order_by(col(ApiToken.name))).scalars())
