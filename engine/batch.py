"""Fold a step's write-only statements into its instance UPDATE on PostgreSQL.

A completion writes the finished inbox row, one or two audit events and perhaps the case
row; nobody reads their results. On PostgreSQL each is a round trip, so while a step is
written they queue here and then ride along as data-modifying CTEs of the instance UPDATE
(PostgreSQL runs every such CTE exactly once, referenced or not): one round trip instead of
up to five. SQLite runs in-process, so there they execute at once, as before.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import Table, bindparam, insert, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Update

from . import fastsql
from .models import AuditEvent, CaseRecord, HumanTask
from .models_notify import NotificationEvent

QUEUE = "mutu_write_queue"


def _columns_insert(table: Table) -> Callable[[int], Any]:
    def build(i: int) -> Any:
        return insert(table).values(
            {c.key: bindparam(f"{c.key}_{i}", type_=c.type) for c in table.columns if c.key != "id"}
        )

    return build


def _task_done(i: int) -> Any:
    t = HumanTask.__table__
    return (
        update(t)
        .where(t.c.id == bindparam(f"task_id_{i}"))
        .values(
            status="completed",
            completed_at=bindparam(f"at_{i}", type_=t.c.completed_at.type),
            completed_by_id=bindparam(f"by_{i}"),
        )
    )


def _case_update(i: int) -> Any:
    t = CaseRecord.__table__
    return (
        update(t)
        .where(t.c.instance_id == bindparam(f"case_id_{i}"))
        .values(
            {
                c.key: bindparam(f"{c.key}_{i}", type_=c.type)
                for c in t.columns
                if c.key not in ("instance_id", "process_key", "recurring")
            }
        )
    )


# kind -> builder of that statement with its parameters suffixed by position
BUILDERS: dict[str, Callable[[int], Any]] = {
    "audit": _columns_insert(AuditEvent.__table__),
    "case_insert": _columns_insert(CaseRecord.__table__),
    "notify": _columns_insert(NotificationEvent.__table__),
    "task_done": _task_done,
    "case_update": _case_update,
}
_COMBINED: dict[tuple[Any, tuple[str, ...]], fastsql.Prepared] = {}


def defer(session: Session, kind: str, params: dict[str, Any]) -> bool:
    """Queue a write-only statement when a step is batching; False means: run it now."""
    queue = session.info.get(QUEUE)
    if queue is None:
        return False
    queue.append((kind, params))
    return True


@contextlib.contextmanager
def batching(session: Session, enabled: bool) -> Iterator[None]:
    """Queue write-only statements for the duration of a step's writes (PostgreSQL only)."""
    if not enabled:
        yield
        return
    session.info[QUEUE] = []
    try:
        yield
    finally:
        session.info.pop(QUEUE, None)


def take(session: Session) -> list[tuple[str, dict[str, Any]]]:
    """Hand over what is queued (and stop queueing): the caller writes it with its statement."""
    queue = session.info.pop(QUEUE, None) or []
    return queue


def combined(
    main: Update, queued: list[tuple[str, dict[str, Any]]], params: dict[str, Any]
) -> tuple[fastsql.Prepared, dict]:
    """``main`` with the queued statements as CTEs, and all their parameters in one dict.

    Built and compiled once per shape (the sequence of kinds).
    """
    shape = tuple(kind for kind, _ in queued)
    key = (id(main), shape)
    stmt = _COMBINED.get(key)
    if stmt is None:
        ctes = [BUILDERS[kind](i).cte(f"w{i}") for i, kind in enumerate(shape)]
        stmt = _COMBINED[key] = fastsql.Prepared(main.add_cte(*ctes))
    merged = dict(params)
    for i, (_kind, values) in enumerate(queued):
        merged.update({f"{k}_{i}": v for k, v in values.items()})
    return stmt, merged
