"""Months of report figures kept between requests, exact because each is tied to a counter
that every step changing a case of that month moves (``bump``, in the step's transaction).

A dashboard over a year reads twelve cached months and computes only those whose counter
moved, and the partial months at the period's edges; a step costs one upsert.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models_records import ReportCache, ReportGeneration

Compute = Callable[[datetime, datetime], list[list[Any]]]


def _upsert(session: Session) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def bump(session: Session, process_key: str, opened_at: datetime | None) -> None:
    """A case of this month changed: its cached figures are no longer good."""
    if opened_at is None:
        return
    statement = _upsert(session)(ReportGeneration).values(
        process_key=process_key, month=opened_at.strftime("%Y-%m"), generation=1
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["process_key", "month"],
            set_={"generation": ReportGeneration.generation + 1},
        )
    )


def _month_start(day: date) -> date:
    return day.replace(day=1)


def month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def _at(day: date) -> datetime:
    return datetime.combine(day, time.min, UTC)


def rows(
    session: Session, process_key: str, name: str, scope: str, start: date, end: date, compute: Compute
) -> list[list[Any]]:
    """The grouped rows of cases opened from ``start`` to ``end`` (inclusive), whole months cached."""
    out: list[list[Any]] = []
    months: list[date] = []
    day = start
    while day <= end:
        last = min(month_end(day), end)
        if day == _month_start(day) and last == month_end(day):
            months.append(day)
        else:  # a part of a month: computed each time
            out.extend(compute(_at(day), _at(last + timedelta(days=1))))
        day = last + timedelta(days=1)
    if not months:
        return out
    keys = [m.strftime("%Y-%m") for m in months]
    generations = dict(
        session.execute(
            select(ReportGeneration.month, ReportGeneration.generation).where(
                ReportGeneration.process_key == process_key, ReportGeneration.month.in_(keys)
            )
        ).all()
    )
    cached = {
        c.month: c
        for c in session.execute(
            select(ReportCache).where(
                ReportCache.name == name, ReportCache.scope == scope, ReportCache.month.in_(keys)
            )
        ).scalars()
    }
    for month, key in zip(months, keys, strict=True):
        generation = generations.get(key, 0)
        hit = cached.get(key)
        if hit is not None and hit.generation == generation:
            out.extend(hit.rows)
            continue
        fresh = compute(_at(month), _at(month_end(month) + timedelta(days=1)))
        out.extend(fresh)
        statement = _upsert(session)(ReportCache).values(
            name=name,
            month=key,
            scope=scope[:300],
            generation=generation,
            rows=fresh,
            computed_at=datetime.now(UTC),
        )
        session.execute(
            statement.on_conflict_do_update(
                index_elements=["name", "month", "scope"],
                set_={"generation": generation, "rows": fresh, "computed_at": statement.excluded.computed_at},
            )
        )
    return out
