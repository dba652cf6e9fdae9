"""Register exports too large for a web request: queued by the page, built by the scheduler or a
worker a thousand rows at a time with the progress shown, kept for the one who asked, and
recorded in the ``exports`` audit chain like every export."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from . import exports, jobs, policy, registers
from .db import session_scope
from .errors import NotFound
from .models import User
from .models_records import ExportJob

PAGE = 1000


def request(
    session: Session,
    user: User,
    register: str,
    filters: dict[str, Any],
    fmt: str,
    headers: list[str],
    now: datetime,
) -> ExportJob:
    policy.check_may_read_register(user, register)
    job = ExportJob(
        register=register,
        filters=registers.clean_filters(register, filters),
        format="xlsx" if fmt == "xlsx" else "csv",
        headers=headers,
        status="queued",
        progress=0,
        stage="queued",
        requested_by_id=user.id,
        created_at=now,
    )
    session.add(job)
    session.flush()
    return job


def visible(session: Session, user: User, job_id: int) -> ExportJob:
    """An export is its requester's alone (it holds what that person's rules let them read)."""
    job = session.get(ExportJob, job_id)
    if job is None or job.requested_by_id != user.id:
        raise NotFound(f"no export {job_id}")
    return job


def build(factory: sessionmaker[Session], job_id: int, clock: Callable[[], datetime]) -> None:
    rows: list[dict[str, Any]] = []
    with session_scope(factory) as session:
        job = session.get(ExportJob, job_id)
        if job is None:
            return
        user = session.get(User, job.requested_by_id)
        assert user is not None
        register, filters, fmt, headers = job.register, dict(job.filters), job.format, list(job.headers)
        today = clock().date()
        first = registers.page(session, user, register, filters, today, 1, PAGE)
        total, rows = max(first.total, 1), list(first.rows)
        number = 1
        while len(rows) < min(first.total, exports.MAX_ROWS):
            number += 1
            jobs.progress(factory, ExportJob, job_id, min(90, int(90 * len(rows) / total)), "rows")
            chunk = registers.page(session, user, register, filters, today, number, PAGE)
            if not chunk.rows:
                break
            rows.extend(chunk.rows)
    jobs.progress(factory, ExportJob, job_id, 92, "file")
    columns = registers.COLUMNS[register]
    if fmt == "xlsx":
        content = exports.xlsx_bytes(columns, headers, rows, register)
    else:
        content = exports.csv_bytes(columns, headers, rows)
    with session_scope(factory) as session:
        job = session.get(ExportJob, job_id, with_for_update=True)
        assert job is not None
        if job.status == "done":
            return
        user = session.get(User, job.requested_by_id)
        assert user is not None
        digest = exports.record(
            session, user, f"register:{register}", fmt, filters, len(rows), content, clock()
        )
        job.content, job.sha256, job.size, job.rows = content, digest, len(content), len(rows)
        job.status, job.progress, job.stage, job.finished_at = "done", 100, "done", clock()


def run_pending(factory: sessionmaker[Session], clock: Callable[[], datetime], limit: int = 3) -> int:
    return jobs.run_pending(factory, ExportJob, build, clock, limit)
