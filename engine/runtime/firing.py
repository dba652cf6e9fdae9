"""Firing one due timer exactly once, and the start timers that start new cases."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .. import audit, metrics, notify
from ..models import (
    HumanTask,
    Timer,
)

log = logging.getLogger(__name__)


class TimerMixin:
    def fire_timer(self, session: Session, timer_id: int) -> bool:
        """Fire one due timer exactly once; False when it is not due or someone fired it first."""
        now = self.clock.now()
        timer = session.get(Timer, timer_id)
        if timer is None or timer.status != "waiting" or timer.fire_at >= now:
            return False
        if timer.kind == "start":
            return self._fire_start_timer(session, timer, now)
        assert timer.instance_id is not None
        instance = self._lock(session, timer.instance_id)
        if instance.status != "running":
            return False  # suspended or in incident: fires after resume or retry
        if self._set_timer(session, timer.id, "waiting", "fired", now) != 1:
            return False
        workflow = self._load(instance)
        metrics.TIMER_LAG.observe(max((now - timer.fire_at).total_seconds(), 0.0))
        reminded = _reminded_task(workflow, timer.task_guid)
        audit.record(
            session,
            "timer_fired",
            now,
            instance=instance,
            task_guid=timer.task_guid,
            bpmn_id=timer.bpmn_id,
            data={"due": timer.fire_at.isoformat()},
        )
        result = self._advance(
            session,
            instance,
            None,
            workflow,
            {"action": "timer", "timer_id": timer.id},
            lambda wf: wf.refresh_timers(),
        )
        if result.incident is not None:
            # The workflow still waits on this timer: keep its row armed. The scheduler
            # skips instances with an incident, and retry claims the row again.
            self._set_timer(session, timer.id, "fired", "waiting", None)
        elif reminded is not None:
            row = session.execute(
                select(HumanTask.id).where(
                    HumanTask.instance_id == instance.id,
                    HumanTask.task_guid == reminded,
                    HumanTask.status == "open",
                )
            ).scalar()
            if row is not None:
                notify.record(session, "reminder", now, task_id=row, instance_id=instance.id)
        return True

    @staticmethod
    def _set_timer(session: Session, timer_id: int, old: str, new: str, at: datetime | None) -> int:
        return session.execute(
            update(Timer)
            .where(Timer.id == timer_id, Timer.status == old)
            .values(status=new, fired_at=at)
            .execution_options(synchronize_session="evaluate")
        ).rowcount

    def _fire_start_timer(self, session: Session, timer: Timer, now: datetime) -> bool:
        values: dict[str, Any]
        cycles = timer.cycles_left
        if timer.interval_seconds and (cycles is None or cycles < 0 or cycles > 1):
            values = {"fire_at": timer.fire_at + timedelta(seconds=timer.interval_seconds)}
            if cycles is not None and cycles > 0:
                values["cycles_left"] = cycles - 1
        else:
            values = {"status": "fired", "fired_at": now}
        claimed = session.execute(
            update(Timer)
            .where(Timer.id == timer.id, Timer.status == "waiting", Timer.fire_at == timer.fire_at)
            .values(**values)
            .execution_options(synchronize_session=False)
        ).rowcount
        if claimed != 1:
            return False
        result = self.start(session, timer.process_key, None, engine_data={"started_by_timer": timer.bpmn_id})
        audit.record(
            session,
            "timer_fired",
            now,
            instance=result.instance,
            bpmn_id=timer.bpmn_id,
            data={"due": timer.fire_at.isoformat(), "start_timer": timer.id},
        )
        session.refresh(timer)
        return True


def _reminded_task(workflow: BpmnWorkflow, timer_guid: str | None) -> str | None:
    """The task a non-interrupting timer on its boundary reminds of (it stays open), or None."""
    if not timer_guid:
        return None
    try:
        task = workflow.get_task_from_id(UUID(timer_guid))
    except Exception:  # noqa: BLE001 - a timer of a subprocess no longer in the tree
        return None
    if task is None or getattr(task.task_spec, "cancel_activity", True) or task.parent is None:
        return None
    for sibling in task.parent.children:
        if sibling is not task and not hasattr(sibling.task_spec, "cancel_activity"):
            return str(sibling.id)
    return None
