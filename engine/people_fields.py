"""Form fields that name a person (``"widget": "user"``): only people the form allows.

An action plan names each action's owner; the owner becomes the task's owner, so a name
must be an active user holding one of the field's ``roles`` (at the case's site for a
site-held role). The check runs in the engine, for pages and the API alike.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .errors import FieldError, ValidationFailed
from .models import Role, User, UserRole
from .policy import SITE_HELD_ROLES


def person_fields(schema: dict[str, Any] | None, prefix: str = "") -> dict[str, list[str]]:
    """Data path (``actions.*.owner``) -> the roles a person named there must hold."""
    out: dict[str, list[str]] = {}
    for name, spec in ((schema or {}).get("properties") or {}).items():
        meta = spec.get("x-mutu") or {}
        if meta.get("widget") == "user":
            out[f"{prefix}{name}"] = [str(r) for r in meta.get("roles") or []]
        item = spec.get("items") if spec.get("type") == "array" else None
        if isinstance(item, dict) and item.get("type") == "object":
            out.update(person_fields(item, f"{prefix}{name}.*."))
    return out


def eligible(session: Session, roles: list[str], site: str | None) -> list[User]:
    """Active users who may be named: holding one of ``roles`` (a site-held one at ``site``)."""
    query = select(User).where(User.active.is_(True)).order_by(User.online_name, User.username)
    if roles:
        holders = select(UserRole.user_id).join(Role, Role.id == UserRole.role_id).where(Role.key.in_(roles))
        query = query.where(User.id.in_(holders))
    users = list(session.execute(query).unique().scalars())
    if not roles:
        return users

    def fits(user: User) -> bool:
        held = user.role_keys & set(roles)
        return any(r not in SITE_HELD_ROLES or site is None or user.site == site for r in held)

    return [u for u in users if fits(u)]


def values_at(data: Any, path: list[str], at: str = "") -> list[tuple[str, Any]]:
    if not path:
        return [(at, data)]
    head, rest = path[0], path[1:]
    if head == "*":
        if not isinstance(data, list):
            return []
        return [
            v for i, item in enumerate(data) for v in values_at(item, rest, f"{at}.{i}" if at else str(i))
        ]
    if not isinstance(data, dict) or head not in data:
        return []
    return values_at(data[head], rest, f"{at}.{head}" if at else head)


def check(session: Session, schema: dict[str, Any] | None, data: dict[str, Any], site: str | None) -> None:
    """Refuse a name that is not one of the people the field allows."""
    errors: dict[str, list[str]] = {}
    details: list[FieldError] = []
    for path, roles in person_fields(schema).items():
        allowed: set[str] | None = None
        for at, value in values_at(data, path.split(".")):
            if value in (None, ""):
                continue
            if allowed is None:
                allowed = {u.username for u in eligible(session, roles, site)}
            if str(value) not in allowed:
                message = f"{value!r} is not a user who may be named here"
                errors.setdefault(at, []).append(message)
                details.append(FieldError(at, "x-user", roles, message))
    if errors:
        raise ValidationFailed(errors, details)
