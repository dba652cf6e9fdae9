"""Telling people: the outbox a step writes, in-app notifications, mail, preferences, saved views."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base, UTCDateTime

# What a user can be told about, with the default way of telling each.
KINDS = ("assigned", "queued", "due", "escalation")
MODES = ("immediate", "digest", "off")
DEFAULT_MODES = {"assigned": "immediate", "queued": "digest", "due": "immediate", "escalation": "immediate"}


class NotificationEvent(Base):
    """Something happened that people may need to hear of, written in the step's own transaction.

    A rolled-back step leaves no row, so nothing is ever sent for it; the scheduler turns each
    row into notifications for the people concerned (by the rules of ``policy``) and marks it
    done. Writing one row here keeps the step cheap whatever the number of recipients.
    """

    __tablename__ = "notification_event"
    __table_args__ = (Index("ix_notification_event_pending", "done_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # assigned, queued, due, overdue, reminder, escalation
    task_id: Mapped[int | None] = mapped_column(ForeignKey("human_task.id"), index=True)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))  # one person, when it names one
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Notification(Base):
    """One thing one user is told about: the bell, and the source of their mail."""

    __tablename__ = "notification"
    __table_args__ = (
        Index("ix_notification_user", "user_id", "read_at", "id"),
        Index("ix_notification_digest", "delivery", "mailed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    kind: Mapped[str] = mapped_column(String(20))
    event: Mapped[str] = mapped_column(String(20))  # the event's own kind (due or overdue, say)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("human_task.id"))
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivery: Mapped[str] = mapped_column(String(10))  # immediate, digest, off (in-app only)
    mailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MailMessage(Base):
    """A mail waiting to leave, sent by the scheduler with retries; a broken server slows no step."""

    __tablename__ = "mail_outbox"
    __table_args__ = (Index("ix_mail_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    to_addr: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(5))
    status: Mapped[str] = mapped_column(String(10))  # pending, sent, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class NotificationPreference(Base):
    __tablename__ = "notification_preference"

    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    mode: Mapped[str] = mapped_column(String(10))


class SavedView(Base):
    """A named inbox filter of one user, found again in the inbox."""

    __tablename__ = "saved_view"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_saved_view_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
