"""The messages running cases wait for: found in the task tree, kept in ``message_wait`` rows.

A catch event, a receive task, a message boundary event or an event-based gateway with a
message branch waits for a message by name; once the case has sent or received a message
with correlation keys, only a message with the same key values reaches it (SpiffWorkflow's
rule, applied to the rows first so delivery loads only cases that can take the message).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from SpiffWorkflow import TaskState
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from .models_messages import MessageWait

MAX_CANDIDATES = 200  # receivers tried for one message; more waiting cases than this is a design error


@dataclass(frozen=True)
class WaitingMessage:
    guid: str
    bpmn_id: str
    name: str
    correlations: dict[str, Any]
    correlated: bool


def _messages_of(spec: Any) -> list[MessageEventDefinition]:
    definition = getattr(spec, "event_definition", None)
    if isinstance(definition, MessageEventDefinition):
        return [definition]
    if isinstance(definition, MultipleEventDefinition):
        return [d for d in definition.event_definitions if isinstance(d, MessageEventDefinition)]
    return []


def waiting(tasks: list[Any]) -> list[WaitingMessage]:
    """The messages these waiting tasks would catch, one entry per task and message name."""
    out = []
    for task in tasks:
        if task.state != TaskState.WAITING:
            continue
        for definition in _messages_of(task.task_spec):
            out.append(
                WaitingMessage(
                    str(task.id),
                    task.task_spec.bpmn_id or task.task_spec.name,
                    definition.name,
                    dict(task.workflow.top_workflow.correlations or {}),
                    bool(definition.correlation_properties),
                )
            )
    return out


def event_subprocess_starts(workflow: Any) -> list[WaitingMessage]:
    """Message start events of the case's event subprocesses: SpiffWorkflow creates the
    subprocess only when the message comes, so no task waits for it in the tree."""
    if workflow.completed or workflow.last_task is None:  # ended, or not begun: a start step writes them
        return []
    out = []
    for name in getattr(workflow.spec.start, "trigger_specs", ()) or ():
        spec = workflow.subprocess_specs.get(name)
        for start in getattr(spec, "bpmn_start_events", ()) or ():
            for definition in _messages_of(start):
                out.append(
                    WaitingMessage(
                        f"evsub:{start.bpmn_id}"[:36],
                        start.bpmn_id,
                        definition.name,
                        dict(workflow.correlations or {}),
                        False,  # the subprocess it starts takes the message's correlation keys
                    )
                )
    return out


def starts_subprocess(workflow: Any, event: Any) -> bool:
    """Whether an event subprocess of the case starts on this message."""
    for name in getattr(workflow.spec.start, "trigger_specs", ()) or ():
        spec = workflow.subprocess_specs.get(name)
        for start in getattr(spec, "bpmn_start_events", ()) or ():
            if start.event_definition == event.event_definition:
                return True
    return False


_CANCEL = (
    update(MessageWait.__table__)
    .where(
        MessageWait.__table__.c.instance_id == bindparam("of_instance"),
        MessageWait.__table__.c.task_guid.in_(bindparam("guids", expanding=True)),
        MessageWait.__table__.c.status == "waiting",
    )
    .values(status="done")
)


def write(
    session: Session,
    instance_id: int,
    before: frozenset[str],
    now_waiting: list[WaitingMessage],
    at: datetime,
) -> None:
    """Add rows for new waits and close the rows of waits that ended (caught, interrupted, cancelled)."""
    guids = {w.guid for w in now_waiting}
    added = [
        {
            "instance_id": instance_id,
            "task_guid": w.guid,
            "bpmn_id": w.bpmn_id[:200],
            "name": w.name[:200],
            "correlations": w.correlations,
            "correlated": w.correlated,
            "status": "waiting",
            "created_at": at,
        }
        for w in now_waiting
        if w.guid not in before
    ]
    if added:
        session.connection().execute(insert(MessageWait.__table__), added)
    gone = set(before) - guids
    if gone:
        session.connection().execute(_CANCEL, {"of_instance": instance_id, "guids": sorted(gone)})


def correlates(
    row_correlations: dict[str, Any], correlated: bool, event_correlations: dict[str, Any]
) -> bool:
    """SpiffWorkflow's rule: no keys to check, or no values yet, or one key with equal values."""
    if not correlated or not row_correlations:
        return True
    return any(event_correlations.get(key) == row_correlations.get(key) for key in event_correlations)


def candidates(session: Session, name: str, correlations: dict[str, Any], exclude: int | None) -> list[int]:
    """Running cases that wait for ``name`` and may correlate, the longest waiting first."""
    rows = session.execute(
        select(MessageWait.instance_id, MessageWait.correlations, MessageWait.correlated)
        .where(MessageWait.name == name, MessageWait.status == "waiting")
        .order_by(MessageWait.id)
        .limit(MAX_CANDIDATES)
    ).all()
    seen: list[int] = []
    for instance_id, row_correlations, correlated in rows:
        if instance_id == exclude or instance_id in seen:
            continue
        if correlates(row_correlations or {}, correlated, correlations or {}):
            seen.append(instance_id)
    return seen
