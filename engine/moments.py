"""When things fall due, read from and written to SpiffWorkflow's own task data: a task's due
date and people (its ``due`` and ``owners`` properties), and a waiting timer's moment."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.task import Task as SpiffTask

DUE_PROPERTY = "due"
# An expression naming the task's people (usernames or login codes): each instance of a
# multi-instance task can name its own, as each action of a plan names its owner.
OWNERS_PROPERTY = "owners"


def properties(task: SpiffTask) -> dict[str, str]:
    return (getattr(task.task_spec, "extensions", None) or {}).get("properties", {}) or {}


def due_at(task: SpiffTask, now: datetime) -> datetime | None:
    expression = properties(task).get(DUE_PROPERTY)
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


def timer_of(spec: Any) -> TimerEventDefinition | None:
    """The timer a waiting task waits for: its own, or one branch of an event-based gateway."""
    definition = getattr(spec, "event_definition", None)
    if isinstance(definition, TimerEventDefinition):
        return definition
    if isinstance(definition, MultipleEventDefinition):
        return next((d for d in definition.event_definitions if isinstance(d, TimerEventDefinition)), None)
    return None


def timer_fire_at(task: SpiffTask, definition: TimerEventDefinition) -> datetime | None:
    if isinstance(task.task_spec.event_definition, MultipleEventDefinition):
        # The gateway keeps its timer's moment in its own data, as a timer event does.
        value = task._get_internal_data("event_value")
        if value is None:
            return None
        if isinstance(definition, CycleTimerEventDefinition):
            return datetime.fromisoformat(value["next"]) if isinstance(value, dict) else None
        return TimerEventDefinition.get_datetime(value)
    details = definition.details(task)
    if details.value is None:
        return None
    if isinstance(definition, CycleTimerEventDefinition):
        return datetime.fromisoformat(details.value)
    return TimerEventDefinition.get_datetime(details.value)


def named_owners(task: SpiffTask) -> list[Any] | None:
    """The people the task's ``owners`` property names, or None when it has none."""
    expression = properties(task).get(OWNERS_PROPERTY)
    if not expression:
        return None
    return task.workflow.script_engine.evaluate(task, expression) or []


def set_timer_moment(task: SpiffTask, when: datetime) -> None:
    """Let a waiting timer fall due at ``when`` (for a cycle: its next moment)."""
    value = task._get_internal_data("event_value")
    if isinstance(value, dict):
        task._set_internal_data(event_value={**value, "next": when.isoformat()})
    else:
        task._set_internal_data(event_value=when.isoformat())
