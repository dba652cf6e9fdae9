"""Keep the inbox, timer and case tables equal to the workflow, in the step's own transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from SpiffWorkflow import TaskState
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.task import Task as SpiffTask
from sqlalchemy import select
from sqlalchemy.orm import Session

from .deploy import FORM_PROPERTY
from .models import CaseRecord, HumanTask, HumanTaskOwner, ProcessInstance, Timer, User
from .registry import CASE_COLUMNS, ProcessGlue

DUE_PROPERTY = "due"
LANE_OWNERS = "lane_owners"
CASE_NUMBER = "case_number"


@dataclass
class ReadyTask:
    """What the inbox needs of one ready human task, computed while the workflow is in memory."""

    guid: str
    bpmn_id: str
    name: str
    process_key: str
    lane: str | None
    form_ref: str | None
    due_at: datetime | None
    owner_names: list[str]


@dataclass
class WaitingTimer:
    guid: str
    bpmn_id: str
    process_key: str
    fire_at: datetime


@dataclass
class Snapshot:
    """Everything a step writes besides the state JSON; built before any row is touched."""

    ready: list[ReadyTask]
    timers: list[WaitingTimer]
    case_data: dict[str, Any]
    completed: bool


def _properties(task: SpiffTask) -> dict[str, str]:
    return (getattr(task.task_spec, "extensions", None) or {}).get("properties", {}) or {}


def _due_at(task: SpiffTask, now: datetime) -> datetime | None:
    expression = _properties(task).get(DUE_PROPERTY)
    if not expression:
        return None
    value = task.workflow.script_engine.evaluate(task, expression)
    return to_instant(value, now)


def to_instant(value: Any, now: datetime) -> datetime | None:
    """Turn a due value (ISO duration, ISO date/time text, date, datetime) into a UTC instant."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, timedelta):
        return now + value
    text = str(value)
    if text.upper().startswith("P"):
        parsed = TimerEventDefinition.parse_iso_duration(text)
        return now + TimerEventDefinition.get_timedelta_from_start(parsed, now)
    parsed_dt = datetime.fromisoformat(text)
    return parsed_dt if parsed_dt.tzinfo else parsed_dt.replace(tzinfo=UTC)


def _timer_fire_at(task: SpiffTask) -> datetime | None:
    definition = task.task_spec.event_definition
    details = definition.details(task)
    if details.value is None:
        return None
    if isinstance(definition, CycleTimerEventDefinition):
        return datetime.fromisoformat(details.value)
    return TimerEventDefinition.get_datetime(details.value)


def snapshot(workflow: BpmnWorkflow, now: datetime) -> Snapshot:
    """Read the workflow once for ready human tasks, waiting timers and case data."""
    ready: list[ReadyTask] = []
    for task in workflow.get_tasks(state=TaskState.READY, manual=True):
        spec = task.task_spec
        owning = task.workflow.spec.name
        form = _properties(task).get(FORM_PROPERTY)
        lane = getattr(spec, "lane", None)
        owners = (task.data.get(LANE_OWNERS) or {}).get(lane, []) if lane else []
        ready.append(
            ReadyTask(
                guid=str(task.id),
                bpmn_id=spec.bpmn_id,
                name=spec.bpmn_name or spec.bpmn_id,
                process_key=owning,
                lane=lane,
                form_ref=f"{owning}/{form}" if form else None,
                due_at=_due_at(task, now),
                owner_names=[str(o) for o in owners] if isinstance(owners, list | tuple) else [str(owners)],
            )
        )
    timers: list[WaitingTimer] = []
    for task in workflow.get_tasks(state=TaskState.WAITING):
        definition = getattr(task.task_spec, "event_definition", None)
        if isinstance(definition, TimerEventDefinition):
            fire_at = _timer_fire_at(task)
            if fire_at is not None:
                timers.append(
                    WaitingTimer(str(task.id), task.task_spec.bpmn_id, task.workflow.spec.name, fire_at)
                )
    case_data: dict[str, Any] = {}
    for task in workflow.get_tasks(state=TaskState.READY | TaskState.WAITING):
        case_data.update(task.data)
    if workflow.last_task is not None:
        case_data.update(workflow.last_task.data)
    return Snapshot(ready, timers, case_data, workflow.completed)


def apply_snapshot(
    session: Session,
    instance: ProcessInstance,
    snap: Snapshot,
    glue: ProcessGlue,
    now: datetime,
    completed_guid: str | None = None,
    completed_by: User | None = None,
    fired_timer_id: int | None = None,
) -> list[HumanTask]:
    """Write inbox rows, timer rows and the case row; return the newly created inbox rows."""
    lane_roles = instance.process_version.lane_roles
    open_rows = {
        row.task_guid: row
        for row in session.execute(
            select(HumanTask).where(HumanTask.instance_id == instance.id, HumanTask.status == "open")
        ).scalars()
    }
    ready_by_guid = {r.guid: r for r in snap.ready}
    for guid, row in open_rows.items():
        if guid in ready_by_guid:
            continue
        row.status = "completed" if guid == completed_guid else "cancelled"
        row.completed_at = now
        if guid == completed_guid and completed_by is not None:
            row.completed_by_id = completed_by.id
    wanted_owners = {name for r in snap.ready if r.guid not in open_rows for name in r.owner_names}
    owner_ids = (
        dict(session.execute(select(User.username, User.id).where(User.username.in_(wanted_owners))).all())
        if wanted_owners
        else {}
    )
    created: list[HumanTask] = []
    for ready in snap.ready:
        if ready.guid in open_rows:
            continue
        row = HumanTask(
            instance_id=instance.id,
            task_guid=ready.guid,
            bpmn_id=ready.bpmn_id,
            name=ready.name,
            process_key=ready.process_key,
            lane=ready.lane,
            role_key=lane_roles.get(ready.lane) if ready.lane else None,
            assignee_id=None if ready.lane else instance.started_by_id,
            form_ref=ready.form_ref,
            due_at=ready.due_at,
            status="open",
            created_at=now,
        )
        row.owners = [HumanTaskOwner(user_id=owner_ids[n]) for n in ready.owner_names if n in owner_ids]
        session.add(row)
        created.append(row)

    waiting = {
        t.task_guid: t
        for t in session.execute(
            select(Timer).where(Timer.instance_id == instance.id, Timer.status == "waiting")
        ).scalars()
    }
    seen: set[str] = set()
    for timer in snap.timers:
        seen.add(timer.guid)
        row = waiting.get(timer.guid)
        if row is None:
            session.add(
                Timer(
                    instance_id=instance.id,
                    process_key=timer.process_key,
                    task_guid=timer.guid,
                    bpmn_id=timer.bpmn_id,
                    kind="instance",
                    fire_at=timer.fire_at,
                    status="waiting",
                    created_at=now,
                )
            )
        elif row.fire_at != timer.fire_at:
            row.fire_at = timer.fire_at
    for guid, row in waiting.items():
        if guid not in seen:
            row.status = "fired" if row.id == fired_timer_id else "cancelled"
            row.fired_at = now if row.id == fired_timer_id else row.fired_at

    _write_case(session, instance, snap.case_data, glue, now)
    return created


def _write_case(
    session: Session,
    instance: ProcessInstance,
    data: dict[str, Any],
    glue: ProcessGlue,
    now: datetime,
) -> None:
    case = session.get(CaseRecord, instance.id)
    if case is None:
        case = CaseRecord(instance_id=instance.id, process_key=instance.process_key, fields={})
        session.add(case)
    values: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for column, key in glue.case_fields.items():
        value = data.get(key)
        if column in CASE_COLUMNS:
            values[column] = None if value is None else str(value)[:300]
        elif value is not None:
            extra[column] = value
    if "number" not in glue.case_fields:
        values["number"] = data.get(CASE_NUMBER)  # given at start from number_format
    for column in CASE_COLUMNS:
        setattr(case, column, values.get(column))
    if "status" not in glue.case_fields:
        case.status = instance.status
    case.fields = extra
    case.updated_at = now
