"""What the record pages read besides the registers: monitoring results projected from the
release-monitoring steps, and the evidence packs made for the client."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base, UTCDateTime


class MonitoringResult(Base):
    """One check of one agent (tapping, mystery shopping, Propper test, evaluation), written in
    the step that completed the task, so reports never read workflow data."""

    __tablename__ = "monitoring_result"
    __table_args__ = (
        Index("ix_monitoring_agent", "agent_code", "checked_at"),
        Index("ix_monitoring_site", "site", "checked_at"),
        Index("ix_monitoring_period", "period", "site", "service"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    period: Mapped[str | None] = mapped_column(String(7))
    site: Mapped[str | None] = mapped_column(String(40))
    service: Mapped[str | None] = mapped_column(String(40))
    method: Mapped[str] = mapped_column(String(20))
    agent_code: Mapped[str] = mapped_column(String(20))
    online_name: Mapped[str | None] = mapped_column(String(100))
    team: Mapped[str | None] = mapped_column(String(60))
    score: Mapped[int | None] = mapped_column(Integer)
    passed: Mapped[bool] = mapped_column(Boolean)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    checked_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    checked_by: Mapped[str | None] = mapped_column(String(64))
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime)


class JobRow:
    """What every job row holds (``engine/jobs.py`` moves them): its state and progress, the
    file it made with its SHA-256, who asked and when it ran."""

    status: Mapped[str] = mapped_column(String(20))  # queued | running | done | failed
    progress: Mapped[int] = mapped_column(Integer, default=0)
    stage: Mapped[str | None] = mapped_column(String(40))
    error: Mapped[str | None] = mapped_column(Text)
    rows: Mapped[int | None] = mapped_column(Integer)
    sha256: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int | None] = mapped_column(Integer)
    content: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class EvidencePack(JobRow, Base):
    """A period's evidence pack for the client: made by a job, then kept with its SHA-256."""

    __tablename__ = "evidence_pack"
    __table_args__ = (Index("ix_evidence_pack_status", "status", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    period_from: Mapped[str] = mapped_column(String(10))
    period_to: Mapped[str] = mapped_column(String(10))
    site: Mapped[str | None] = mapped_column(String(40))
    service: Mapped[str | None] = mapped_column(String(40))
    language: Mapped[str] = mapped_column(String(5), default="id")


class MonitoringMonth(Base):
    """Checks and passes of one agent by month, site, service and method: the pass-rate
    reports read these few rows instead of every result. Results never change once written,
    so each step adds to its rows (an atomic upsert) and the sums stay exact. Key columns
    hold "" rather than NULL, so the unique key matches them."""

    __tablename__ = "monitoring_month"
    __table_args__ = (
        Index(
            "uq_monitoring_month", "period", "site", "service", "method", "team", "agent_code", unique=True
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    period: Mapped[str] = mapped_column(String(7))
    site: Mapped[str] = mapped_column(String(40))
    service: Mapped[str] = mapped_column(String(40))
    method: Mapped[str] = mapped_column(String(20))
    team: Mapped[str] = mapped_column(String(60))
    agent_code: Mapped[str] = mapped_column(String(20))
    online_name: Mapped[str | None] = mapped_column(String(100))
    checks: Mapped[int] = mapped_column(Integer)
    passed: Mapped[int] = mapped_column(Integer)


class ReportGeneration(Base):
    """A counter per process and month of opening, moved by every step that changes a case row
    of that month: a cached month of figures is good while its counter has not moved."""

    __tablename__ = "report_generation"

    process_key: Mapped[str] = mapped_column(String(100), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    generation: Mapped[int] = mapped_column(Integer)


class ReportCache(Base):
    """One month's grouped figures for one scope (site, service, targets), as of a generation."""

    __tablename__ = "report_cache"
    __table_args__ = (Index("uq_report_cache", "name", "month", "scope", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    month: Mapped[str] = mapped_column(String(7))
    scope: Mapped[str] = mapped_column(String(300))
    generation: Mapped[int] = mapped_column(Integer)
    rows: Mapped[list[Any]] = mapped_column(JSON)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ExportJob(JobRow, Base):
    """A register export too large for a web request, made by the same builders as the packs."""

    __tablename__ = "export_job"
    __table_args__ = (Index("ix_export_job_status", "status", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    register: Mapped[str] = mapped_column(String(40))
    filters: Mapped[dict[str, Any]] = mapped_column(JSON)
    format: Mapped[str] = mapped_column(String(10))
    headers: Mapped[list[str]] = mapped_column(JSON)  # in the reader's language, given by the page
