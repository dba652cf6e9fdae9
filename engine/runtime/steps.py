"""One step: lock, load, advance SpiffWorkflow to the next wait state, queue thrown messages."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any
from uuid import UUID

from SpiffWorkflow import TaskState
from SpiffWorkflow.bpmn import BpmnWorkflow
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, object_session

from .. import audit, batch, limits, message_jobs, metrics
from .. import clock as clock_mod
from ..case_rows import CASE_INSERT
from ..db import is_postgres
from ..errors import Conflict, InvalidState, NotFound
from ..models import (
    CaseRecord,
    HumanTask,
    Incident,
    ProcessInstance,
    User,
)
from ..projection import (
    pending,
    snapshot,
)
from ..prune import history
from ..spiff import load_state
from .locks import lock_instance, lock_task
from .types import (
    _ENGINE_ERRORS,
    StepResult,
    _Step,
)
from .writes import _conflict_guard, _write_instance

log = logging.getLogger(__name__)


class StepMixin:
    # -- internals ----------------------------------------------------------------------

    def _lock(self, session: Session, instance_id: int) -> ProcessInstance:
        try:
            instance = lock_instance(session, instance_id)
        except OperationalError as exc:
            raise Conflict(f"instance {instance_id} is busy; try again ({exc.orig})") from None
        if instance is None:
            raise NotFound(f"no instance {instance_id}")
        if self.hook:
            self.hook("locked", {"instance_id": instance_id})
        return instance

    def _lock_task(self, session: Session, task_id: int) -> tuple[HumanTask, ProcessInstance]:
        """Lock a task and its instance in one statement; the loser of a race waits here."""
        try:
            found = lock_task(session, task_id)
        except OperationalError as exc:
            raise Conflict(f"task {task_id} is busy; try again ({exc.orig})") from None
        if found is None:
            raise NotFound(f"no task {task_id}")
        instance, row = found
        if self.hook:
            self.hook("locked", {"instance_id": instance.id})
        if row.status != "open":
            raise Conflict(f"task {row.id} ({row.bpmn_id}) is already {row.status}")
        return row, instance

    def _require_running(self, instance: ProcessInstance) -> None:
        if instance.status in ("suspended", "cancelled", "completed"):
            raise InvalidState(f"instance {instance.id} is {instance.status}")

    def _load(self, instance: ProcessInstance) -> BpmnWorkflow:
        spec, subs = self.specs_for(instance.process_version)
        workflow = load_state(instance.state_json, instance.serializer_version, spec, subs)
        workflow.script_engine = self.script_engine
        _reconnect_triggered(workflow)
        return workflow

    def element_states(self, instance: ProcessInstance) -> dict[str, list[str]]:
        """BPMN element ids that have run and that wait now, to mark on the case's diagram."""
        workflow = self._load(instance)
        done: set[str] = set()
        active: set[str] = set()
        for task in workflow.get_tasks():
            bpmn_id = getattr(task.task_spec, "bpmn_id", None)
            if not bpmn_id:
                continue
            if task.state == TaskState.COMPLETED:
                done.add(bpmn_id)
            elif task.state in (TaskState.READY, TaskState.WAITING, TaskState.STARTED, TaskState.ERROR):
                active.add(bpmn_id)
        done |= set(history(workflow)["done"])  # what a long case's compaction took from the tree
        failed = self._incident_element(instance)
        return {
            "completed": sorted(done - active),
            "active": sorted(active),
            "incident": [failed] if failed else [],
        }

    @staticmethod
    def _incident_element(instance: ProcessInstance) -> str | None:
        session = object_session(instance)
        if session is None or instance.status != "incident":
            return None
        return session.execute(
            select(Incident.element_id)
            .where(Incident.instance_id == instance.id, Incident.resolved_at.is_(None))
            .order_by(Incident.id.desc())
            .limit(1)
        ).scalar_one_or_none()

    @staticmethod
    def _ready_task(workflow: BpmnWorkflow, row: HumanTask) -> Any:
        task = workflow.get_task_from_id(UUID(row.task_guid))
        if task is None or task.state != TaskState.READY:
            raise Conflict(f"task {row.id} ({row.bpmn_id}) is no longer ready")
        return task

    def _open_incident(self, session: Session, instance_id: int) -> Incident | None:
        return session.execute(
            select(Incident)
            .where(Incident.instance_id == instance_id, Incident.resolved_at.is_(None))
            .order_by(Incident.id.desc())
            .limit(1)
        ).scalar_one_or_none()

    def _touch(self, instance: ProcessInstance) -> None:
        instance.updated_at = self.clock.now()

    def _set_case_status(self, session: Session, instance: ProcessInstance) -> None:
        if CASE_INSERT in instance.__dict__:  # a start that failed before its first step wrote
            session.add(
                CaseRecord(
                    instance_id=instance.id,
                    process_key=instance.process_key,
                    number=instance.__dict__.pop(CASE_INSERT),
                    status=instance.status,
                    fields={},
                    updated_at=self.clock.now(),
                )
            )
            session.flush()
        case = session.get(CaseRecord, instance.id)
        glue = self.glue_of(session, instance.process_version)
        if case is not None and "status" not in glue.case_fields:
            case.status = instance.status
            instance.case_hash = None  # written here, not by a step: the next step writes it again

    def _advance(
        self,
        session: Session,
        instance: ProcessInstance,
        actor: User | None,
        workflow: BpmnWorkflow,
        action: dict[str, Any],
        apply: Callable[[BpmnWorkflow], None],
        *,
        completed: HumanTask | None = None,
        first: Callable[[], None] | None = None,
    ) -> StepResult:
        """Run SpiffWorkflow in memory first; only a step that succeeded touches the step's rows.

        ``first`` writes what must come before the step's own events (a start's audit event),
        inside the step's writes, so on PostgreSQL it travels in the same round trip.
        """
        started_at = time.perf_counter()
        now = self.clock.now()
        before = pending(workflow)
        try:
            with (
                clock_mod.using(self.clock),
                self.services.bound(session, now, instance.id),
                limits.bounded(self.memory_bytes),
            ):
                apply(workflow)
                workflow.do_engine_steps(did_complete_task=limits.StepBudget(self.step_seconds))
                snap = snapshot(workflow, now)
            # Thrown and caught by nobody in this case: a worker delivers them after this step.
            messages = message_jobs.thrown(workflow.get_events(), workflow)
        except _ENGINE_ERRORS as exc:
            if first is not None:
                first()
            incident = self._record_incident(session, instance, actor, action, exc, now, workflow)
            metrics.STEPS.labels(instance.process_key, "incident").inc()
            return StepResult(instance, incident)
        if self.hook:
            self.hook("advanced", {"instance_id": instance.id, "action": action})
        step = _Step(instance, actor, workflow, action, before, snap, now, completed)
        with _conflict_guard(instance), session.no_autoflush, batch.batching(session, is_postgres(session)):
            if first is not None:
                first()
            message_jobs.queue(session, instance, messages, now)
            for name, _event, element in messages:
                audit.record(
                    session, "message_sent", now, instance=instance, bpmn_id=element, data={"name": name}
                )
            new_rows = self._write_step(session, step)
            _write_instance(session, instance)
            session.flush()
        new_rows = [replace(r, id=r.id.value) if isinstance(r.id, batch.Ref) else r for r in new_rows]
        if self.hook:
            self.hook("written", {"instance_id": instance.id, "action": action})
        metrics.STEPS.labels(instance.process_key, "ok").inc()
        metrics.STEP_SECONDS.labels(instance.process_key).observe(time.perf_counter() - started_at)
        return StepResult(instance, None, new_rows)


def _reconnect_triggered(workflow: BpmnWorkflow) -> None:
    """Connect the event subprocesses this case has triggered, as SpiffWorkflow did when it did.

    SpiffWorkflow connects a message- or signal-started event subprocess into the spec only
    when its event comes (``BpmnStartTask.trigger_wf``); a worker that loads the spec from the
    database after that, or after a restart, lacks the link, and the subprocess cannot finish.
    """
    for wf in [workflow, *workflow.subprocesses.values()]:
        start = wf.spec.start
        triggers = set(getattr(start, "trigger_specs", ()) or ())
        if not triggers:
            continue
        for task in wf.get_tasks():
            spec = task.task_spec
            if spec.name in triggers and start not in spec.inputs:
                start.connect(spec)
                spec.connect(wf.spec.end)
