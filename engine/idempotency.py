"""Idempotency keys: a client that lost the answer to a start or a completion asks again safely.

The key is stored in the step's own transaction with the answer it got, so a request whose
transaction committed is answered again from here, and one that rolled back left no key.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, delete
from sqlalchemy.orm import Mapped, Session, mapped_column

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


def find(session: Session, user_id: int, key: str) -> IdempotencyKey | None:
    return session.get(IdempotencyKey, {"user_id": user_id, "key": key})


def remember(
    session: Session, user_id: int, key: str, request: str, status: int, body: dict[str, Any], now: datetime
) -> None:
    session.add(
        IdempotencyKey(
            user_id=user_id, key=key, request=request[:300], status=status, body=body, created_at=now
        )
    )


def forget_old(session: Session, now: datetime) -> int:
    """Keys older than a day: a client retries within minutes, not days."""
    return session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < now - KEEP)).rowcount
