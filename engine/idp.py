"""Sign-in through the organisation's identity provider (OIDC): who the claims say, with the
roles and site their groups map to. Local accounts stay for small installations."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .errors import MutuError, NotAuthorized
from .identity import create_user, ensure_builtin_roles, generate_password
from .models import User
from .policy import SITES

USERNAME = re.compile(r"^[a-z0-9._-]{1,64}$")


def parse_role_map(text: str) -> dict[str, tuple[str, str | None]]:
    """``{"group": "role" | "role@Site"}`` -> group -> (role, site); a wrong map stops start-up."""
    if not text:
        return {}
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise MutuError(f"MUTU_OIDC_ROLE_MAP is not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise MutuError("MUTU_OIDC_ROLE_MAP must map each group to a role or role@Site")
    out: dict[str, tuple[str, str | None]] = {}
    for group, target in raw.items():
        role, _, site = str(target).partition("@")
        if site and site not in SITES:
            raise MutuError(f"MUTU_OIDC_ROLE_MAP: {group!r} names the unknown site {site!r}")
        out[str(group)] = (role, site or None)
    return out


def user_from_claims(
    session: Session,
    claims: dict[str, Any],
    role_map: dict[str, tuple[str, str | None]],
    groups_claim: str,
    now: datetime,
) -> User:
    """The local user for these ID-token claims, made or brought in line with their groups."""
    username = str(claims.get("preferred_username") or claims.get("sub") or "").strip().lower()
    if not USERNAME.match(username):
        raise NotAuthorized(f"the identity provider's username {username!r} is not one Mutu can use")
    groups = claims.get(groups_claim) or []
    if isinstance(groups, str):
        groups = [groups]
    mapped = [role_map[g] for g in groups if g in role_map]
    known = ensure_builtin_roles(session)
    roles = sorted({r for r, _s in mapped if r in known})
    if not roles:
        raise NotAuthorized(f"{username} holds no group that gives a Mutu role")
    sites = sorted({s for _r, s in mapped if s})
    site = sites[0] if sites else None
    email = claims.get("email") if isinstance(claims.get("email"), str) else None
    name = str(claims.get("name") or username)[:200]
    user = session.execute(select(User).where(User.username == username)).unique().scalar_one_or_none()
    if user is None:
        return create_user(
            session, username, generate_password(), roles, now, full_name=name, site=site, email=email
        )
    if not user.active:
        raise NotAuthorized(f"{username} is deactivated in Mutu")
    user.roles = [known[r] for r in roles]  # the provider's groups are the truth
    user.site, user.full_name = site, name
    if email:
        user.email = email
    session.flush()
    return user
