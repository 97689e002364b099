"""API tokens with roles. A token is shown once, when created; the store keeps only its SHA-256."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from accessward.sync import audit
from accessward.sync.clock import utcnow
from accessward.sync.service_models import ApiToken

ROLES = ("hr", "service_desk", "auditor", "reviewer", "admin")
PREFIX = "aw_"
_TOUCH_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often per token


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create(engine: Engine, *, name: str, role: str, actor: str) -> str:
    """Create a token and return it: the only time its value exists outside the caller's hands."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    if not name.strip():
        raise ValueError("give the token a name (who or what uses it)")
    token = PREFIX + secrets.token_urlsafe(32)
    try:
        with Session(engine) as session:
            session.add(ApiToken(name=name.strip(), role=role, token_hash=hash_token(token), created_by=actor))
            session.flush()
            audit.append(session.connection(), "token.created", f"token:{name.strip()}", {"role": role}, actor=actor)
            session.commit()
    except IntegrityError:
        raise ValueError(f"a token named {name.strip()!r} exists already") from None
    return token


def authenticate(engine: Engine, token: str) -> ApiToken | None:
    """The live token with this value, or None (unknown or revoked)."""
    if not token.startswith(PREFIX):
        return None
    now = utcnow()
    with Session(engine) as session:
        found: ApiToken | None = session.execute(select(ApiToken).where(
            col(ApiToken.token_hash) == hash_token(token),
                                                       col(ApiToken.revoked_at).is_(None))).scalars().first()
        if found is None:
            return None
        if found.last_used_at is None or now - found.last_used_at > _TOUCH_EVERY:
            found.last_used_at = now
            session.add(found)
            session.commit()
            session.refresh(found)
        return found


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
