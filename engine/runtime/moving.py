"""The QMR moves time: a task's due date, a waiting timer's date, or a timer fired now, with a reason.

A timer's moment lives in SpiffWorkflow's own task data (``event_value``), so moving it is
a step like any other: the new moment is written there and the timer row follows from the
stored workflow. A task's interrupting boundary timer that falls due with the task moves
with its due date, so "overdue" still means past the date the QMR set.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import audit, policy
from ..errors import InvalidState, NotFound, ValidationFailed
from ..models import HumanTask, ProcessInstance, Timer, User
from ..moments import set_timer_moment
from .types import StepResult

MAX_REASON = 500


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed({"reason": ["give the reason; it is kept in the case's history"]})
    if len(reason) > MAX_REASON:
        raise ValidationFailed({"reason": [f"at most {MAX_REASON} characters"]})
    return reason


class MoveMixin:
    def _running(self, session: Session, instance_id: int, actor: User, action: str) -> ProcessInstance:
        policy.check_may_manage(actor, instance_id, action)
        instance = self._lock(session, instance_id)
        if instance.status != "running":
            raise InvalidState(f"case {instance_id} is {instance.status}; only a running case's dates move")
        return instance

    def _waiting_timer(self, session: Session, timer_id: int) -> Timer:
        timer = session.get(Timer, timer_id)
        if timer is None or timer.kind != "instance" or timer.instance_id is None:
            raise NotFound(f"no waiting timer {timer_id} of a case")
        if timer.status != "waiting":
            raise InvalidState(f"timer {timer_id} ({timer.bpmn_id}) is {timer.status}, not waiting")
        return timer

    def move_timer(
        self, session: Session, timer_id: int, actor: User, when: datetime, reason: str
    ) -> StepResult:
        """Let a waiting timer fall due at ``when`` instead (a moment past is a fire-now)."""
        reason = _reason(reason)
        timer = self._waiting_timer(session, timer_id)
        instance = self._running(session, timer.instance_id, actor, "move a timer of")
        now = self.clock.now()
        if when <= now:
            return self.fire_now(session, timer_id, actor, reason)
        workflow = self._load(instance)
        audit.record(
            session,
            "timer_moved",
            now,
            instance=instance,
            actor=actor,
            task_guid=timer.task_guid,
            bpmn_id=timer.bpmn_id,
            data={"from": timer.fire_at.isoformat(), "to": when.isoformat(), "reason": reason},
        )

        def apply(wf: BpmnWorkflow) -> None:
            set_timer_moment(wf.get_task_from_id(UUID(timer.task_guid)), when)

        return self._advance(
            session, instance, actor, workflow, {"action": "move_timer", "timer_id": timer_id}, apply
        )

    def fire_now(self, session: Session, timer_id: int, actor: User, reason: str) -> StepResult:
        """Fire a waiting timer at once: the waiting period is over by the QMR's decision."""
        reason = _reason(reason)
        timer = self._waiting_timer(session, timer_id)
        instance = self._running(session, timer.instance_id, actor, "fire a timer of")
        now = self.clock.now()
        workflow = self._load(instance)
        if self._set_timer(session, timer.id, "waiting", "fired", now) != 1:
            raise InvalidState(f"timer {timer_id} fired meanwhile")
        audit.record(
            session,
            "timer_fired_now",
            now,
            instance=instance,
            actor=actor,
            task_guid=timer.task_guid,
            bpmn_id=timer.bpmn_id,
            data={"due": timer.fire_at.isoformat(), "reason": reason},
        )

        def apply(wf: BpmnWorkflow) -> None:
            set_timer_moment(wf.get_task_from_id(UUID(timer.task_guid)), now - timedelta(microseconds=1))
            wf.refresh_timers()

        result = self._advance(
            session, instance, actor, workflow, {"action": "timer", "timer_id": timer_id}, apply
        )
        if result.incident is not None:
            self._set_timer(session, timer.id, "fired", "waiting", None)
        return result

    def set_due(self, session: Session, task_id: int, actor: User, due: datetime, reason: str) -> HumanTask:
        """A task's new due date; its interrupting boundary timer due with it moves too."""
        reason = _reason(reason)
        row = session.get(HumanTask, task_id)
        if row is None:
            raise NotFound(f"no task {task_id}")
        if row.status != "open":
            raise InvalidState(f"task {task_id} is {row.status}")
        instance = self._running(session, row.instance_id, actor, "change a due date in")
        now = self.clock.now()
        if due <= now:
            raise ValidationFailed({"due": ["the new due date must be in the future"]})
        old = row.due_at
        audit.record(
            session,
            "due_changed",
            now,
            instance=instance,
            actor=actor,
            task_guid=row.task_guid,
            bpmn_id=row.bpmn_id,
            data={"from": old.isoformat() if old else None, "to": due.isoformat(), "reason": reason},
        )
        workflow = self._load(instance)
        attached = self._attached_timers(session, instance, workflow, row, old)
        if attached:

            def apply(wf: BpmnWorkflow) -> None:
                for timer in attached:
                    set_timer_moment(wf.get_task_from_id(UUID(timer.task_guid)), due)

            self._advance(
                session, instance, actor, workflow, {"action": "move_timer", "task_id": task_id}, apply
            )
        row.due_at = due
        self._touch(instance)
        session.flush()
        return row

    def _attached_timers(
        self,
        session: Session,
        instance: ProcessInstance,
        workflow: BpmnWorkflow,
        row: HumanTask,
        old: datetime | None,
    ) -> list[Timer]:
        """Interrupting timers on the task's boundary that fall due with it (within a minute)."""
        if old is None:
            return []
        timers = session.execute(
            select(Timer).where(Timer.instance_id == instance.id, Timer.status == "waiting")
        ).scalars()
        out = []
        for timer in timers:
            if abs((timer.fire_at - old).total_seconds()) > 60:
                continue
            task = workflow.get_task_from_id(UUID(timer.task_guid)) if timer.task_guid else None
            if task is None or not getattr(task.task_spec, "cancel_activity", False) or task.parent is None:
                continue
            if any(str(s.id) == row.task_guid for s in task.parent.children):
                out.append(timer)
        return out
