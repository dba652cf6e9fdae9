"""Due times live in the ``timer`` table; the scheduler is only a clock that fires due rows.

A scheduler that was down fires, when it starts, everything that fell due meanwhile.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from SpiffWorkflow.bpmn.specs import BpmnProcessSpec
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from .db import session_scope
from .errors import Conflict
from .models import Timer

if TYPE_CHECKING:
    from .runtime import ProcessEngine

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


def fire_due_timers(factory: sessionmaker[Session], engine: ProcessEngine, limit: int = 100) -> int:
    """Fire due timers, each in its own transaction; return how many fired.

    A timer that loses a race to another scheduler is skipped, not retried: the winner fired it.
    Start timers that repeat are fired once per pass, so a long outage catches up one
    period per tick instead of starting a burst of instances at once.
    """
    fired = 0
    with session_scope(factory) as session:
        ids = due_timer_ids(session, engine.clock.now(), limit)
    for timer_id in ids:
        try:
            with session_scope(factory) as session:
                if engine.fire_timer(session, timer_id):
                    fired += 1
        except Conflict as exc:
            log.info("timer %s skipped: %s", timer_id, exc)
        except OperationalError as exc:
            log.warning("timer %s skipped, database busy: %s", timer_id, exc.orig)
    return fired
