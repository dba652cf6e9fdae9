"""Tables of the engine's own bookkeeping: incidents, case counters, drafts, service and message jobs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base, UTCDateTime


class Incident(Base):
    __tablename__ = "incident"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    element_id: Mapped[str | None] = mapped_column(String(200))
    element_name: Mapped[str | None] = mapped_column(String(300))
    message: Mapped[str] = mapped_column(Text)
    pending_action: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CaseCounter(Base):
    """Gap-free case numbers per process and year: bumped in the starting transaction."""

    __tablename__ = "case_counter"

    process_key: Mapped[str] = mapped_column(String(100), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(Integer)


class ProcessDraft(Base):
    """A version being edited: the bundle's files, private to the editors until published."""

    __tablename__ = "process_draft"
    __table_args__ = (Index("ix_process_draft_key", "process_key", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    process_key: Mapped[str] = mapped_column(String(100))
    base_version: Mapped[int | None] = mapped_column(Integer)
    files: Mapped[dict[str, str]] = mapped_column(JSON)
    revision: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))  # open, published, discarded
    created_by_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    published_version: Mapped[int | None] = mapped_column(Integer)


class ServiceJob(Base):
    """A service task the diagram marks asynchronous, waiting for a worker to run it.

    Written in the step that reached the task; done in the step that completes it, so a
    job run twice (a redelivered Celery task) finds it done and calls nothing again.
    """

    __tablename__ = "service_job"
    __table_args__ = (
        Index("ux_service_job_task", "instance_id", "task_guid", unique=True),
        Index("ix_service_job_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    task_guid: Mapped[str] = mapped_column(String(36))
    element_id: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))  # waiting, done, failed, cancelled
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    retries: Mapped[int] = mapped_column(Integer)
    backoff_base: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MessageJob(Base):
    """A BPMN message a step threw, waiting for a worker to deliver it to its receivers.

    Written in the sender's step; delivered in the receiver's step, which marks it done in
    the same transaction: a delivery run twice finds it done, one killed mid-way rolls back.
    """

    __tablename__ = "message_job"
    __table_args__ = (Index("ix_message_job_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sender_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    element_id: Mapped[str | None] = mapped_column(String(200))  # the send task or throw event
    event_json: Mapped[str] = mapped_column(Text)  # the thrown BpmnEvent, as SpiffWorkflow writes it
    depth: Mapped[int] = mapped_column(Integer)  # messages caused by messages, to stop a loop
    status: Mapped[str] = mapped_column(String(20))  # waiting, done, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    received: Mapped[list[int] | None] = mapped_column(JSON)  # the cases it reached or started
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
