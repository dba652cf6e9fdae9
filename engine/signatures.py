"""Electronic signatures: a step the glue marks as signed needs the user's password again.

The glue's ``signatures`` maps a task's BPMN id to what the signature means ("approved",
"verified_effective"...). Completing such a task needs a :class:`Confirmation` made by
:func:`confirm` (the password checked again, failures counting towards the sign-in
lockout) for the same user a moment before; sandboxes and the demo loader make theirs with
:func:`witnessed`, and the audit chain says which method it was. The signature joins the
audit chain in the completing step's own transaction, with a hash of the data submitted.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from . import signin
from .db import session_scope
from .errors import MutuError, NotAuthorized
from .identity import get_user
from .models import User

# What a signature may mean; pages show their words in the reader's language.
MEANINGS = ("approved", "verified_effective", "accepted", "decided", "reviewed", "released")
# A confirmation is good for the one completion it was made for, and not long after.
FRESH_FOR = timedelta(minutes=5)
METHODS = ("password", "sandbox", "demo")


class SignatureRequired(MutuError):
    code = "signature_required"
    http_status = 422


class SignatureRefused(MutuError):
    code = "signature_refused"
    http_status = 403


@dataclass(frozen=True)
class Confirmation:
    """Proof that ``user_id`` confirmed who they are at ``at`` (by ``method``)."""

    user_id: int
    at: datetime
    method: str


def meaning_of(meta: dict[str, Any], bpmn_id: str) -> str | None:
    """What signing this task means, from the process glue; None when it is not signed."""
    value = (meta.get("signatures") or {}).get(bpmn_id)
    return value if isinstance(value, str) else None


def glue_problems(meta: dict[str, Any], task_ids: set[str]) -> list[str]:
    """What is wrong with a process's ``signatures``: unknown meanings or tasks."""
    value = meta.get("signatures")
    if value is None:
        return []
    if not isinstance(value, dict):
        return ["signatures: map each task's BPMN id to what its signature means"]
    found = []
    for task, meaning in value.items():
        if meaning not in MEANINGS:
            found.append(f"signatures {task}: {meaning!r} is not one of {', '.join(MEANINGS)}")
        if task_ids and task not in task_ids:
            found.append(f"signatures {task}: no user task has this id")
    return found


def confirm(
    session: Session,
    user: User,
    password: str,
    now: datetime,
    *,
    max_failures: int = 5,
    window: timedelta = timedelta(minutes=15),
) -> Confirmation:
    """The password checked again; a wrong one is a SignatureRefused the caller must commit."""
    try:
        signin.confirm_password(session, user, password, now, max_failures=max_failures, window=window)
    except signin.BadCredentials:
        raise SignatureRefused("the password is wrong; the signature was not given") from None
    return Confirmation(user.id, now, "password")


def confirm_apart(
    sessions: sessionmaker[Session],
    username: str,
    password: str,
    now: datetime,
    *,
    max_failures: int = 5,
    window: timedelta = timedelta(minutes=15),
) -> Confirmation:
    """:func:`confirm` in a transaction of its own, for edges (the CLI) that step in another."""
    with session_scope(sessions) as session:
        user = get_user(session, username)
        try:
            return confirm(session, user, password, now, max_failures=max_failures, window=window)
        except (SignatureRefused, signin.LoginThrottled):
            session.commit()  # a wrong password counts towards the lockout
            raise


def witnessed(user: User, at: datetime, method: str) -> Confirmation:
    """A confirmation for sandboxes (scenario runs) and the demo loader, recorded as such."""
    if method not in ("sandbox", "demo"):
        raise ValueError(f"unknown method {method!r}")
    return Confirmation(user.id, at, method)


def data_hash(data: dict[str, Any]) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sign(
    meaning: str | None,
    actor: User,
    confirmation: Confirmation | None,
    data: dict[str, Any],
    now: datetime,
) -> dict[str, Any] | None:
    """The signature record for a completion, or None when the task is not signed.

    Refused when the task is signed and there is no fresh confirmation by the actor.
    """
    if meaning is None:
        return None
    if confirmation is None:
        raise SignatureRequired(f"this step is signed ({meaning}): enter your password to sign it")
    if confirmation.user_id != actor.id:
        raise NotAuthorized("a signature is given by the person completing the step")
    if not (timedelta(0) <= now - confirmation.at <= FRESH_FOR):
        raise SignatureRequired("the password confirmation is too old; enter it again")
    return {
        "meaning": meaning,
        "name": actor.full_name or actor.username,
        "online_name": actor.online_name,
        "agent_code": actor.agent_code,
        "username": actor.username,
        "signed_at": confirmation.at.isoformat(),
        "method": confirmation.method,
        "data_sha256": data_hash(data),
    }
