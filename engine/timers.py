"""Due times live in the ``timer`` table; the scheduler is only a clock that fires due rows.

A scheduler that was down fires, when it starts, everything that fell due meanwhile.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from SpiffWorkflow.bpmn.specs import BpmnProcessSpec
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import Timer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StartTimerPlan:
    bpmn_id: str
    fire_at: datetime
    cycles_left: int | None
    interval_seconds: float | None


def plan_start_timers(spec: BpmnProcessSpec, script_engine, now: datetime) -> list[StartTimerPlan]:  # type: ignore[no-untyped-def]
    """When each timer start event of ``spec`` fires first, and how it repeats."""
    plans: list[StartTimerPlan] = []
    for task_spec in spec.task_specs.values():
        definition = getattr(task_spec, "event_definition", None)
        if not isinstance(task_spec, StartEvent) or not isinstance(definition, TimerEventDefinition):
            continue
        value = script_engine.environment.evaluate(definition.expression, {})
        if isinstance(definition, CycleTimerEventDefinition):
            cycles, start, duration = TimerEventDefinition.parse_iso_recurring_interval(value)
            plans.append(StartTimerPlan(task_spec.bpmn_id, start, cycles, duration.total_seconds()))
        elif isinstance(definition, DurationTimerEventDefinition):
            parsed = TimerEventDefinition.parse_iso_duration(value)
            delta = TimerEventDefinition.get_timedelta_from_start(parsed, now)
            plans.append(StartTimerPlan(task_spec.bpmn_id, now + delta, None, None))
        else:
            plans.append(
                StartTimerPlan(task_spec.bpmn_id, TimerEventDefinition.get_datetime(value), None, None)
            )
    return plans


def due_timer_ids(session: Session, now: datetime, limit: int) -> list[int]:
    """Timers past their moment: SpiffWorkflow counts a timer as expired only after it, never at it."""
    return list(
        session.execute(
            select(Timer.id)
            .where(Timer.status == "waiting", Timer.fire_at < now)
            .order_by(Timer.fire_at, Timer.id)
            .limit(limit)
        ).scalars()
    )


def claim_due_timer(session: Session, now: datetime, handled: set[int]) -> int | None:
    """The next due timer no other scheduler holds, locked for this transaction.

    On PostgreSQL ``FOR UPDATE SKIP LOCKED`` lets several schedulers on several machines take
    different timers at once; one that dies mid-way drops its lock with its connection, and
    the timer is taken by the next. SQLite has one writer at a time and needs no claim.
    """
    query = select(Timer.id).where(Timer.status == "waiting", Timer.fire_at < now)
    if handled:
        query = query.where(Timer.id.not_in(sorted(handled)))
    query = query.order_by(Timer.fire_at, Timer.id).limit(1).with_for_update(skip_locked=True)
    return session.execute(query).scalar_one_or_none()
