"""Bulk work of the QMR and team leaders: claim or hand out many tasks, and saved inbox views.

Each task of a bulk action is its own savepoint: one a colleague took a second earlier is
reported with its reason, and the rest still go through in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .errors import Conflict, MutuError, ValidationFailed
from .models import User
from .models_notify import SavedView

MAX_BULK = 200
MAX_VIEWS = 30
VIEW_KEYS = ("scope", "process", "site", "service", "due", "q", "sort", "role", "assignee")


@dataclass
class BulkResult:
    done: list[int] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)  # task id, reason


def bulk(
    session: Session, engine: Any, actor: User, task_ids: list[int], action: str, assignee: User | None = None
) -> BulkResult:
    """Claim (for oneself) or assign (to ``assignee``) each task; the caller commits."""
    if action not in ("claim", "assign"):
        raise ValidationFailed({"action": ["must be claim or assign"]})
    if action == "assign" and assignee is None:
        raise ValidationFailed({"assignee": ["choose whom to give the tasks to"]})
    ids = list(dict.fromkeys(task_ids))
    if not ids:
        raise ValidationFailed({"task_ids": ["choose at least one task"]})
    if len(ids) > MAX_BULK:
        raise ValidationFailed({"task_ids": [f"at most {MAX_BULK} tasks at once"]})
    result = BulkResult()
    for task_id in ids:
        savepoint = session.begin_nested()
        try:
            if action == "claim":
                engine.claim(session, task_id, actor)
            else:
                assert assignee is not None
                engine.assign(session, task_id, actor, assignee)
            savepoint.commit()
            result.done.append(task_id)
        except (MutuError, Conflict) as exc:
            savepoint.rollback()
            result.refused.append((task_id, str(exc)))
    return result


def views(session: Session, user: User) -> list[SavedView]:
    return list(
        session.execute(
            select(SavedView).where(SavedView.user_id == user.id).order_by(SavedView.name)
        ).scalars()
    )


def save_view(session: Session, user: User, name: str, params: dict[str, str], now: datetime) -> SavedView:
    """Name the inbox's current filter; the same name again replaces it."""
    name = (name or "").strip()
    if not 0 < len(name) <= 80:
        raise ValidationFailed({"name": ["give the view a name of 1 to 80 characters"]})
    kept = {k: str(v)[:200] for k, v in params.items() if k in VIEW_KEYS and v not in (None, "")}
    existing = session.execute(
        select(SavedView).where(SavedView.user_id == user.id, SavedView.name == name)
    ).scalar_one_or_none()
    if existing is not None:
        existing.params = kept
        session.flush()
        return existing
    if len(views(session, user)) >= MAX_VIEWS:
        raise ValidationFailed({"name": [f"at most {MAX_VIEWS} saved views; delete one first"]})
    view = SavedView(user_id=user.id, name=name, params=kept, created_at=now)
    try:
        with session.begin_nested():
            session.add(view)
    except IntegrityError:  # the same name saved at the same moment elsewhere
        raise Conflict(f"a view named {name!r} was just saved") from None
    return view


def delete_view(session: Session, user: User, view_id: int) -> bool:
    view = session.get(SavedView, view_id)
    if view is None or view.user_id != user.id:
        return False
    session.delete(view)
    session.flush()
    return True
