"""Idempotency keys: a client that lost the answer to a start or a completion asks again safely.

The key is stored in the step's own transaction with the answer it got, so a request whose
transaction committed is answered again from here, and one that rolled back left no key.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import JSON, ForeignKey, Integer, String, bindparam, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from . import fastsql
from .models import Base, UTCDateTime

MAX_KEY = 200
KEEP = timedelta(hours=24)


class IdempotencyKey(Base):
    __tablename__ = "idempotency_key"

    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(MAX_KEY), primary_key=True)
    request: Mapped[str] = mapped_column(String(300))  # "POST /api/v1/tasks/7/complete"
    status: Mapped[int] = mapped_column(Integer)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


def valid(key: str) -> bool:
    return 0 < len(key) <= MAX_KEY and key.isascii() and key.isprintable()


_KEYS = IdempotencyKey.__table__
# Built once and run on the session's connection: every keyed start and completion runs both,
# and the ORM's load and flush of one small row cost more than the database takes for it.
_FIND = select(_KEYS.c.request, _KEYS.c.status, _KEYS.c.body).where(
    _KEYS.c.user_id == bindparam("user_id"), _KEYS.c.key == bindparam("key")
)
_REMEMBER = fastsql.Prepared.insert(_KEYS)


class Answer(NamedTuple):
    """What a keyed request answered: its method and path, status and body."""

    request: str
    status: int
    body: dict[str, Any]


def find(session: Session, user_id: int, key: str) -> Answer | None:
    """The answer stored for this user's key, if any."""
    row = session.connection().execute(_FIND, {"user_id": user_id, "key": key}).first()
    return None if row is None else Answer(row.request, row.status, row.body)


def remember(
    session: Session, user_id: int, key: str, request: str, status: int, body: dict[str, Any], now: datetime
) -> None:
    """Store the answer in the step's transaction; an IntegrityError: a parallel retry stored it."""
    fastsql.execute(
        session,
        _REMEMBER,
        {
            "user_id": user_id,
            "key": key,
            "request": request[:300],
            "status": status,
            "body": body,
            "created_at": now,
        },
    )


def forget_old(session: Session, now: datetime) -> int:
    """Keys older than a day: a client retries within minutes, not days."""
    return session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < now - KEEP)).rowcount
