"""Long work that leaves the web request (evidence packs, large exports): a row per job, taken
by one builder at a time, progress committed as it goes, and taken up again when the process
that held it died (its row stays "running" past ``STALE``).

The tables share the columns used here: status, progress, stage, error, started_at,
finished_at. The scheduler runs ``run_pending`` for each kind, or a Celery worker does.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from .db import session_scope

STALE = timedelta(minutes=10)  # a job "running" this long lost its process: take it up again
Build = Callable[[sessionmaker[Session], int, Callable[[], datetime]], None]


def claim(factory: sessionmaker[Session], model: Any, now: datetime) -> int | None:
    """Take the oldest queued (or abandoned) job; a rival builder's claim makes this one skip it."""
    takeable = (model.status == "queued") | ((model.status == "running") & (model.started_at < now - STALE))
    with session_scope(factory) as session:
        candidates = session.execute(select(model.id).where(takeable).order_by(model.id).limit(5)).scalars()
        for job_id in candidates:
            won = session.execute(
                update(model)
                .where(model.id == job_id, takeable)
                .values(status="running", started_at=now, progress=1, stage="collecting")
            ).rowcount
            if won:
                return job_id
    return None


def progress(factory: sessionmaker[Session], model: Any, job_id: int, percent: int, stage: str) -> None:
    with session_scope(factory) as session:
        session.execute(update(model).where(model.id == job_id).values(progress=percent, stage=stage))


def run_pending(
    factory: sessionmaker[Session], model: Any, build: Build, clock: Callable[[], datetime], limit: int = 3
) -> int:
    """Build queued jobs of one kind; a job that fails says why on its row and is not retried."""
    built = 0
    while built < limit:
        job_id = claim(factory, model, clock())
        if job_id is None:
            break
        try:
            build(factory, job_id, clock)
        except Exception as exc:
            with session_scope(factory) as session:
                session.execute(
                    update(model)
                    .where(model.id == job_id)
                    .values(status="failed", error=f"{type(exc).__name__}: {exc}"[:2000], finished_at=clock())
                )
            raise
        built += 1
    return built
