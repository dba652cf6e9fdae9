"""Fold a step's write-only statements into its instance UPDATE on PostgreSQL.

A completion writes the finished inbox row, the next inbox row, one or two audit events,
a notification and perhaps the case row. On PostgreSQL each is a round trip of about
0.1 ms, so while a step is written they queue here and then ride along as data-modifying
CTEs of the instance UPDATE (PostgreSQL runs every such CTE exactly once, referenced or
not): one round trip instead of up to six. A new inbox row's id, which its notification and
the step's caller need, comes back as a ``Ref``: the notification's CTE reads it from the
INSERT's, and the UPDATE returns it. SQLite runs in-process, so there they execute at once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import String, Table, any_, bindparam, insert, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Update

from . import fastsql
from .models import AuditEvent, CaseRecord, HumanTask, HumanTaskOwner, HumanTaskRole, Timer
from .models_notify import NotificationEvent

QUEUE = "mutu_write_queue"


def _columns_insert(table: Table) -> Callable[[int, dict[str, Any]], Any]:
    def build(i: int, refs: dict[str, Any]) -> Any:
        return insert(table).values(
            {
                c.key: refs[c.key] if c.key in refs else bindparam(f"{c.key}_{i}", type_=c.type)
                for c in table.columns
                if c.key != "id"
            }
        )

    return build


def _task_done(i: int, _refs: dict[str, Any]) -> Any:
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


def _case_update(i: int, _refs: dict[str, Any]) -> Any:
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


def _cancel(table: Table, waiting: str, stamped: bool) -> Callable[[int, dict[str, Any]], Any]:
    """An instance's rows (inbox or timer) of some task guids that still wait, cancelled."""

    def build(i: int, _refs: dict[str, Any]) -> Any:
        # Named by position: two cancels in one statement must not share a bound value's name.
        values: dict[str, Any] = {"status": bindparam(f"cancelled_{i}", "cancelled")}
        if stamped:
            values["completed_at"] = bindparam(f"at_{i}", type_=table.c.completed_at.type)
        guids = bindparam(f"guids_{i}", type_=ARRAY(String))  # one parameter, however many
        return (
            update(table)
            .where(
                table.c.instance_id == bindparam(f"of_instance_{i}"),
                table.c.task_guid == any_(guids),
                table.c.status == bindparam(f"waiting_{i}", waiting),
            )
            .values(values)
        )

    return build


# kind -> builder of that statement with its parameters suffixed by position; ``refs`` maps
# the columns whose value is the id an earlier INSERT of the same statement returns.
BUILDERS: dict[str, Callable[[int, dict[str, Any]], Any]] = {
    "audit": _columns_insert(AuditEvent.__table__),
    "case_insert": _columns_insert(CaseRecord.__table__),
    "notify": _columns_insert(NotificationEvent.__table__),
    "task_insert": _columns_insert(HumanTask.__table__),
    "task_owner": _columns_insert(HumanTaskOwner.__table__),
    "task_role": _columns_insert(HumanTaskRole.__table__),
    "task_done": _task_done,
    "case_update": _case_update,
    "timer_insert": _columns_insert(Timer.__table__),
    "tasks_cancel": _cancel(HumanTask.__table__, "open", stamped=True),
    "timers_cancel": _cancel(Timer.__table__, "waiting", stamped=False),
}
_Shape = tuple[tuple[str, bool, tuple[tuple[str, int], ...]], ...]
_COMBINED: dict[tuple[int, _Shape], fastsql.Prepared] = {}


class Ref:
    """The id a queued INSERT returns: given to later queued rows, known once the step ran."""

    __slots__ = ("index", "value")

    def __init__(self, index: int) -> None:
        self.index = index
        self.value: int | None = None


# A step that opens hundreds of tasks at once (a multi-instance over a site's agents) would
# make one statement of thousands of CTEs and parameters (PostgreSQL takes 65,535 at most):
# past these sizes its rows are written at once instead, a statement each.
MAX_QUEUED = 256
MAX_FOLDED_INSERTS = 16


def active(session: Session) -> bool:
    return QUEUE in session.info


def defer(session: Session, kind: str, params: dict[str, Any]) -> bool:
    """Queue a write-only statement when a step is batching; False means: run it now.

    A parameter may be a ``Ref``: the id of a row a queued INSERT creates; such a row is
    always queued, since only the step's statement knows that id.
    """
    queue = session.info.get(QUEUE)
    if queue is None:
        return False
    if len(queue) >= MAX_QUEUED and not any(isinstance(v, Ref) for v in params.values()):
        return False
    queue.append((kind, params, None))
    return True


def may_fold(session: Session, rows: int) -> bool:
    """Whether a step's ``rows`` new rows may be written inside its statement (``defer_insert``)."""
    return active(session) and rows <= MAX_FOLDED_INSERTS


def defer_insert(session: Session, kind: str, params: dict[str, Any]) -> Ref:
    """Queue an INSERT whose new id the step needs: a ``Ref`` to it (only while batching)."""
    queue = session.info[QUEUE]
    ref = Ref(len(queue))
    queue.append((kind, params, ref))
    return ref


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


Queued = list[tuple[str, dict[str, Any], Ref | None]]


def take(session: Session) -> Queued:
    """Hand over what is queued (and stop queueing): the caller writes it with its statement."""
    queue = session.info.pop(QUEUE, None) or []
    return queue


def combined(
    main: Update, queued: Queued, params: dict[str, Any]
) -> tuple[fastsql.Prepared, dict, list[Ref]]:
    """``main`` with the queued statements as CTEs, all their parameters in one dict, and the
    refs whose ids the statement returns, in the order of its RETURNING columns.

    Built and compiled once per shape (the sequence of kinds and of the refs between them).
    """
    shape: _Shape = tuple(
        (kind, ref is not None, tuple((k, v.index) for k, v in values.items() if isinstance(v, Ref)))
        for kind, values, ref in queued
    )
    key = (id(main), shape)
    stmt = _COMBINED.get(key)
    if stmt is None:
        ctes: list[Any] = []
        returned = []
        for i, (kind, returns, refs) in enumerate(shape):
            built = BUILDERS[kind](i, {name: select(ctes[j].c.id).scalar_subquery() for name, j in refs})
            if returns:
                built = built.returning(built.table.c.id)
            ctes.append(built.cte(f"w{i}"))
            if returns:
                returned.append(select(ctes[i].c.id).scalar_subquery())
        full = main.add_cte(*ctes)
        stmt = _COMBINED[key] = fastsql.Prepared(full.returning(*returned) if returned else full)
    merged = dict(params)
    for i, (_kind, values, _ref) in enumerate(queued):
        merged.update({f"{k}_{i}": v for k, v in values.items() if not isinstance(v, Ref)})
    return stmt, merged, [ref for _kind, _values, ref in queued if ref is not None]
