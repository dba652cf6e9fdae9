"""Users, roles and memberships; argon2 password hashes. A BPMN lane is a role."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from .errors import Conflict, MutuError, NotFound
from .models import Role, User

BUILTIN_ROLES: dict[str, str] = {
    "qmr": "Quality Management Representative",
    "director": "Director",
    "quality_control": "Quality Control",
    "team_leader": "Team Leader",
    "agent": "Agent",
    "operations_manager": "Operations Manager",
    "procurement": "Procurement",
    "client_liaison": "Client liaison",
    "admin": "Admin",
}

_HASHER = PasswordHasher()


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def check_password(user: User, password: str) -> bool:
    """True when ``password`` matches; a hash with old parameters is upgraded in place."""
    try:
        _HASHER.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    if _HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = _HASHER.hash(password)
    return True


def ensure_builtin_roles(session: Session) -> dict[str, Role]:
    existing = {r.key: r for r in session.execute(select(Role)).scalars()}
    for key, name in BUILTIN_ROLES.items():
        if key not in existing:
            existing[key] = Role(key=key, name=name)
            session.add(existing[key])
    session.flush()
    return existing


def get_user(session: Session, username: str) -> User:
    user = session.execute(select(User).where(User.username == username)).unique().scalar_one_or_none()
    if user is None:
        raise NotFound(f"no user named {username!r}")
    if not user.active:
        raise NotFound(f"user {username!r} is deactivated")
    return user


def create_user(
    session: Session,
    username: str,
    password: str,
    roles: Iterable[str],
    now: datetime,
    *,
    agent_code: str | None = None,
    online_name: str | None = None,
    full_name: str = "",
    site: str | None = None,
    email: str | None = None,
) -> User:
    """Create a user; the agent code is a unique number (manual 8.5.2)."""
    if not username or not username.replace("_", "").replace(".", "").replace("-", "").isalnum():
        raise MutuError(f"username {username!r} may hold only letters, digits, '.', '-' and '_'")
    if email is not None and (len(email) > 200 or email.count("@") != 1 or any(ch <= " " for ch in email)):
        raise MutuError(f"e-mail address {email!r} is not one address like name@example.org")
    if agent_code is not None and not agent_code.isdigit():
        raise MutuError(f"agent code {agent_code!r} must be numeric")
    if session.execute(select(User.id).where(User.username == username)).first():
        raise Conflict(f"user {username!r} already exists")
    if agent_code and session.execute(select(User.id).where(User.agent_code == agent_code)).first():
        raise Conflict(f"agent code {agent_code} is already taken")
    all_roles = ensure_builtin_roles(session)
    unknown = [r for r in roles if r not in all_roles]
    if unknown:
        raise MutuError(f"unknown role(s): {', '.join(unknown)}; known: {', '.join(all_roles)}")
    user = User(
        username=username,
        password_hash=hash_password(password),
        agent_code=agent_code,
        online_name=online_name,
        full_name=full_name,
        site=site,
        email=email,
        active=True,
        created_at=now,
        roles=[all_roles[r] for r in roles],
    )
    session.add(user)
    session.flush()
    return user


def generate_password() -> str:
    return secrets.token_urlsafe(12)
