"""Who is told what: events written by steps, turned into notifications by the scheduler.

A step only writes one ``notification_event`` row per thing that happened, inside its own
transaction (so a rolled-back step tells nobody). ``dispatch`` later finds the people
concerned through ``policy`` and each person's preference per kind: immediately (a mail
now), a daily digest, or off. The bell shows every notification that is not off.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, select, update
from sqlalchemy.orm import Session

from . import batch, fastsql, policy
from .errors import ValidationFailed
from .models import HumanTask, User
from .models_notify import (
    DEFAULT_MODES,
    KINDS,
    MODES,
    Notification,
    NotificationEvent,
    NotificationPreference,
)

# An event's kind -> the preference kind that decides how it is told.
PREFERENCE_OF = {
    "assigned": "assigned",
    "queued": "queued",
    "escalation": "escalation",
    "due": "due",
    "overdue": "due",
    "reminder": "due",
}
DUE_SOON = timedelta(hours=24)
_INSERT = fastsql.Prepared.insert(NotificationEvent.__table__)


def record(
    session: Session,
    kind: str,
    now: datetime,
    *,
    task_id: int | None = None,
    instance_id: int | None = None,
    user_id: int | None = None,
) -> None:
    """Write one event in the caller's transaction (on PostgreSQL, folded into the step's UPDATE)."""
    if kind not in PREFERENCE_OF:
        raise ValueError(f"unknown notification event {kind!r}")
    values = {
        "kind": kind,
        "task_id": task_id,
        "instance_id": instance_id,
        "user_id": user_id,
        "created_at": now,
        "done_at": None,
    }
    if not batch.defer(session, "notify", values):
        fastsql.execute(session, _INSERT, values)


def on_new_tasks(
    session: Session, instance_id: int, rows: Iterable[Any], now: datetime, *, by_timer: bool
) -> None:
    """New inbox rows: a task naming people is theirs now; a role's task waits in its queue.

    A task that opened because a timer ran out is an escalation, told at once.
    """
    for row in rows:
        if row.owned:
            kind = "escalation" if by_timer else "assigned"
        elif row.role_key is not None:
            kind = "escalation" if by_timer else "queued"
        else:
            continue  # a task outside any lane is its starter's, who is at the screen
        record(session, kind, now, task_id=row.id, instance_id=instance_id)


# -- preferences ------------------------------------------------------------------------------


def preferences(session: Session, user: User) -> dict[str, str]:
    rows = session.execute(
        select(NotificationPreference.kind, NotificationPreference.mode).where(
            NotificationPreference.user_id == user.id
        )
    ).all()
    chosen = dict(DEFAULT_MODES)
    chosen.update({k: m for k, m in rows if k in chosen})
    return chosen


def set_preferences(session: Session, user: User, modes: dict[str, str]) -> dict[str, str]:
    errors: dict[str, list[str]] = {}
    for kind, mode in modes.items():
        if kind not in KINDS:
            errors.setdefault(kind, []).append(f"unknown kind; kinds are {', '.join(KINDS)}")
        elif mode not in MODES:
            errors.setdefault(kind, []).append(f"{mode!r} is not one of {', '.join(MODES)}")
    if errors:
        raise ValidationFailed(errors)
    for kind, mode in modes.items():
        row = session.get(NotificationPreference, {"user_id": user.id, "kind": kind})
        if row is None:
            session.add(NotificationPreference(user_id=user.id, kind=kind, mode=mode))
        else:
            row.mode = mode
    session.flush()
    return preferences(session, user)


# -- from events to notifications -------------------------------------------------------------


@dataclass
class Told:
    user: User
    notification: Notification


def _recipients(session: Session, event: NotificationEvent, task: HumanTask | None) -> list[User]:
    if event.user_id is not None:
        user = session.get(User, event.user_id)
        return [user] if user is not None and user.active else []
    if task is None or task.status != "open":
        return []  # done or cancelled meanwhile: nothing left to tell
    if task.assignee_id is not None:
        holder = session.get(User, task.assignee_id)
        if event.kind == "queued":
            return []  # someone took it from the queue before anyone was told
        return [holder] if holder is not None and holder.active else []
    return policy.users_who_may_act(session, task)


def dispatch(session: Session, now: datetime, limit: int = 500) -> list[Told]:
    """Turn pending events into notifications; the caller commits, then sends what is immediate."""
    events = list(
        session.execute(
            select(NotificationEvent)
            .where(NotificationEvent.done_at.is_(None))
            .order_by(NotificationEvent.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).scalars()
    )
    told: list[Told] = []
    modes: dict[int, dict[str, str]] = {}
    for event in events:
        task = session.get(HumanTask, event.task_id) if event.task_id else None
        kind = PREFERENCE_OF[event.kind]
        for user in _recipients(session, event, task):
            if user.id not in modes:
                modes[user.id] = preferences(session, user)
            mode = modes[user.id][kind]
            if mode == "off":
                continue
            note = Notification(
                user_id=user.id,
                kind=kind,
                event=event.kind,
                task_id=event.task_id,
                instance_id=event.instance_id or (task.instance_id if task else None),
                created_at=now,
                delivery=mode,
            )
            session.add(note)
            told.append(Told(user, note))
        event.done_at = now
    session.flush()
    return told


def scan_due(session: Session, now: datetime, limit: int = 1000) -> int:
    """Events for open tasks that fall due within a day or have passed it, once each."""
    written = 0
    for kind, window in (
        ("due", and_(HumanTask.due_at > now, HumanTask.due_at <= now + DUE_SOON)),
        ("overdue", HumanTask.due_at <= now),
    ):
        told = exists().where(NotificationEvent.task_id == HumanTask.id, NotificationEvent.kind == kind)
        rows = session.execute(
            select(HumanTask.id, HumanTask.instance_id)
            .where(HumanTask.status == "open", HumanTask.due_at.is_not(None), window, ~told)
            .order_by(HumanTask.due_at)
            .limit(limit)
        ).all()
        for task_id, instance_id in rows:
            record(session, kind, now, task_id=task_id, instance_id=instance_id)
        written += len(rows)
    return written


# -- the bell ---------------------------------------------------------------------------------


def unread_count(session: Session, user: User) -> int:
    return session.execute(
        select(func.count())
        .select_from(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
    ).scalar_one()


def list_for(
    session: Session, user: User, *, limit: int = 25, offset: int = 0
) -> tuple[list[Notification], int]:
    where = Notification.user_id == user.id
    total = session.execute(select(func.count()).select_from(Notification).where(where)).scalar_one()
    rows = session.execute(
        select(Notification).where(where).order_by(Notification.id.desc()).limit(limit).offset(offset)
    ).scalars()
    return list(rows), total


def mark_read(session: Session, user: User, now: datetime, ids: list[int] | None = None) -> int:
    """Mark some (or all) of the user's notifications read; another user's ids are ignored."""
    stmt = update(Notification).where(Notification.user_id == user.id, Notification.read_at.is_(None))
    if ids is not None:
        stmt = stmt.where(Notification.id.in_(ids))
    return session.execute(stmt.values(read_at=now).execution_options(synchronize_session=False)).rowcount
