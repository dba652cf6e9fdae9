"""The registers of the quality system (manual 8.2, 8.4, 8.5.4, 8.5.5): rows people and
service tasks keep, which the register pages, the agent's page and the reports read."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base, UTCDateTime


class Supplier(Base):
    """The approved-supplier list with evaluation scores (manual 8.4), kept by service tasks."""

    __tablename__ = "supplier"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    approved: Mapped[bool] = mapped_column(Boolean)
    score: Mapped[int | None] = mapped_column(Integer)
    evaluated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deliveries: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SupplierScore(Base):
    """Each change of a supplier's score, with the case whose step changed it."""

    __tablename__ = "supplier_score"
    __table_args__ = (Index("ix_supplier_score_supplier", "supplier_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("supplier.id"))
    score: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(20))  # evaluation | delivery
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class SupplierAction(Base):
    """A supplier corrective action request (SCAR), followed to closure and verification."""

    __tablename__ = "supplier_action"
    __table_args__ = (Index("ix_supplier_action_status", "status", "opened_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    supplier_name: Mapped[str] = mapped_column(String(200), index=True)
    number: Mapped[str] = mapped_column(String(60))
    description: Mapped[str] = mapped_column(Text, default="")
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))
    status: Mapped[str] = mapped_column(String(20))  # open | closed | verified
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_on: Mapped[date | None] = mapped_column(Date)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_note: Mapped[str | None] = mapped_column(Text)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    verified_note: Mapped[str | None] = mapped_column(Text)


class Requirement(Base):
    """A requirement the service must meet (manual 8.2.2), with its current text."""

    __tablename__ = "requirement"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(80), unique=True)
    source: Mapped[str] = mapped_column(String(20))  # customer_pks | internal | statutory | additional
    service: Mapped[str | None] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RequirementVersion(Base):
    """One version of a requirement's text, and the change case that made it (if any)."""

    __tablename__ = "requirement_version"
    __table_args__ = (Index("ix_requirement_version", "requirement_id", "version", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    requirement_id: Mapped[int] = mapped_column(ForeignKey("requirement.id"))
    version: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(20))
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"), index=True)
    by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class Communication(Base):
    """What passed between the company and a client (manual 8.2.1); a complaint can raise a
    nonconformity, which points back here through ``nc_instance_id``."""

    __tablename__ = "communication"
    __table_args__ = (Index("ix_communication_on", "on_date", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client: Mapped[str] = mapped_column(String(120), index=True)
    on_date: Mapped[date] = mapped_column(Date)
    channel: Mapped[str] = mapped_column(String(20))  # email | phone | meeting | letter | portal
    kind: Mapped[str] = mapped_column(String(20))  # product_info | agreement | feedback | complaint
    summary: Mapped[str] = mapped_column(Text)
    site: Mapped[str | None] = mapped_column(String(40))
    service: Mapped[str | None] = mapped_column(String(40))
    logged_by_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    logged_at: Mapped[datetime] = mapped_column(UTCDateTime)
    nc_instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"), index=True)


class PreservationActivity(Base):
    """Socialisation, refreshers, training, reward and punishment (manual 8.5.4)."""

    __tablename__ = "preservation_activity"
    __table_args__ = (Index("ix_preservation_planned", "planned_on", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(200))
    site: Mapped[str | None] = mapped_column(String(40))
    planned_on: Mapped[date] = mapped_column(Date)
    held_on: Mapped[date | None] = mapped_column(Date)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PreservationAttendance(Base):
    """An agent expected at an activity, and whether the agent came (None: not recorded)."""

    __tablename__ = "preservation_attendance"
    __table_args__ = (Index("ix_preservation_agent", "agent_code"),)

    activity_id: Mapped[int] = mapped_column(ForeignKey("preservation_activity.id"), primary_key=True)
    agent_code: Mapped[str] = mapped_column(String(20), primary_key=True)
    attended: Mapped[bool | None] = mapped_column(Boolean)


class MonitoringTool(Base):
    """A recording, tapping or other monitoring system and its verification (manual 8.5.5)."""

    __tablename__ = "monitoring_tool"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # recording | tapping | dialer | other
    site: Mapped[str | None] = mapped_column(String(40))
    interval_days: Mapped[int] = mapped_column(Integer)
    verified_on: Mapped[date | None] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date, index=True)
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
