"""Assertions shared by the engine tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from SpiffWorkflow import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.models import HumanTask, ProcessInstance
from engine.runtime import ProcessEngine

T = TypeVar("T")


def open_tasks(session: Session, instance_id: int) -> list[HumanTask]:
    return list(
        session.execute(
            select(HumanTask)
            .where(HumanTask.instance_id == instance_id, HumanTask.status == "open")
            .order_by(HumanTask.id)
        ).scalars()
    )


def task_by_bpmn(session: Session, instance_id: int, bpmn_id: str) -> HumanTask:
    matches = [t for t in open_tasks(session, instance_id) if t.bpmn_id == bpmn_id]
    assert len(matches) == 1, (
        f"expected one open {bpmn_id}, have {[t.bpmn_id for t in open_tasks(session, instance_id)]}"
    )
    return matches[0]


def assert_inbox_matches(session: Session, engine: ProcessEngine, instance: ProcessInstance) -> None:
    """The inbox rows of an instance equal its workflow's ready human tasks, exactly."""
    session.refresh(instance)
    workflow = engine._load(instance)
    ready = {str(t.id) for t in workflow.get_tasks(state=TaskState.READY, manual=True)}
    rows = {t.task_guid for t in open_tasks(session, instance.id)}
    assert rows == ready


# A nonconformity report as the start form takes it (the QC officer's usual finding).
NC_REPORT = {
    "source": "tapping",
    "service": "147",
    "site": "Bandung",
    "agent_code": "1001",
    "description": "Agen memberi informasi tarif yang salah kepada pelanggan",
}


def statements_sent(step: Callable[[], T]) -> tuple[T, list[str]]:
    """What ``step`` returns, and the first word of each statement it sent through psycopg's
    cursor (PostgreSQL): how many round trips a step costs, counted where they leave."""
    import psycopg

    sent: list[str] = []
    real_execute = psycopg.Cursor.execute

    def counting(cursor, query, *args, **kwargs):  # type: ignore[no-untyped-def]
        sent.append(str(query).lstrip().split(None, 1)[0].upper())
        return real_execute(cursor, query, *args, **kwargs)

    psycopg.Cursor.execute = counting  # type: ignore[method-assign]
    try:
        result = step()
    finally:
        psycopg.Cursor.execute = real_execute  # type: ignore[method-assign]
    return result, sent
