"""Messages a running case waits for: one row per waiting catch event, receive task or gateway branch."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base, UTCDateTime


class MessageWait(Base):
    """A case waiting for the message ``name``, with the correlation values it has so far.

    Kept equal to the stored workflow by each step, like inbox and timer rows, so a thrown
    message finds its receivers without loading every running case.
    """

    __tablename__ = "message_wait"
    __table_args__ = (Index("ix_message_wait_name", "name", "status", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    task_guid: Mapped[str] = mapped_column(String(36))
    bpmn_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200))
    correlations: Mapped[dict[str, Any]] = mapped_column(JSON)
    correlated: Mapped[bool] = mapped_column(Boolean)  # its definition checks correlation keys
    status: Mapped[str] = mapped_column(String(20))  # waiting, done
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
