"""Running one asynchronous service task: the operator's call, then the case's step."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from SpiffWorkflow import TaskState
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.exceptions import TaskNotFoundException
from sqlalchemy.orm import Session

from .. import clock as clock_mod
from .. import limits
from ..models import ProcessInstance, ServiceJob
from ..service_jobs import delay
from .types import _ENGINE_ERRORS
from .writes import _describe

log = logging.getLogger(__name__)

PAUSED_RECHECK = timedelta(seconds=60)  # a suspended case's job looks again this much later


class ServiceTaskMixin:
    def run_service_job(self, session: Session, job: ServiceJob) -> str:
        """Call the operator of one queued service task and complete it; say what happened.

        The caller holds the job's row. A failed call writes nothing but the attempt; the
        step that completes the task marks the job done in the same transaction.
        """
        outcome = self._run_job(session, job)
        session.flush()
        return outcome

    def _run_job(self, session: Session, job: ServiceJob) -> str:
        now = self.clock.now()  # type: ignore[attr-defined]
        instance: ProcessInstance = self._lock(session, job.instance_id)  # type: ignore[attr-defined]
        if job.status != "waiting":  # another worker finished it while we waited for the lock
            return "skipped"
        if instance.status in ("completed", "cancelled"):
            return _end(job, "cancelled", now)
        if instance.status != "running":  # suspended, or an incident elsewhere in the case
            job.due_at, job.updated_at = now + PAUSED_RECHECK, now
            return "paused"
        workflow = self._load(instance)  # type: ignore[attr-defined]
        task = _started(workflow, job.task_guid)
        if task is None:  # a boundary event or a cancel ended it before the worker came
            return _end(job, "cancelled", now)
        action = {"action": "service", "job_id": job.id, "task_guid": job.task_guid}
        job.attempts += 1
        try:
            result = self._call_operator(session, instance, task, now)
        except _ENGINE_ERRORS as exc:
            job.last_error, job.updated_at = _describe(exc), now
            if job.attempts <= job.retries:
                job.due_at = now + delay(job)
                log.info("service job %s failed (attempt %s), again at %s", job.id, job.attempts, job.due_at)
                return "retry"
            job.status = "failed"
            self._record_incident(session, instance, None, action, exc, now, workflow)  # type: ignore[attr-defined]
            return "incident"
        step = self._advance(session, instance, None, workflow, action, _completing(task, result))  # type: ignore[attr-defined]
        _end(job, "failed" if step.incident is not None else "done", now)
        return "incident" if step.incident is not None else "done"

    def _call_operator(self, session: Session, instance: ProcessInstance, task: Any, now: datetime) -> Any:
        spec = task.task_spec
        with (
            clock_mod.using(self.clock),  # type: ignore[attr-defined]
            self.services.bound(session, now, instance.id),  # type: ignore[attr-defined]
            limits.bounded(self.memory_bytes),  # type: ignore[attr-defined]
        ):
            params = spec.evaluate_params(task)
            raw = self.script_engine.call_service(  # type: ignore[attr-defined]
                task, operation_name=spec.operation_name, operation_params=params
            )
        return json.loads(raw)

    def _service_retry(
        self, session: Session, instance: ProcessInstance, workflow: BpmnWorkflow, action: dict[str, Any]
    ) -> Callable[[BpmnWorkflow], None]:
        """The manager's retry of a service task whose retries were spent: one more call, now."""
        task = _started(workflow, action["task_guid"])

        def apply(wf: BpmnWorkflow) -> None:
            if task is not None:
                spec = task.task_spec
                params = spec.evaluate_params(task)
                raw = self.script_engine.call_service(  # type: ignore[attr-defined]
                    task, operation_name=spec.operation_name, operation_params=params
                )
                _completing(task, json.loads(raw))(wf)

        return apply

    def _service_retried(self, session: Session, action: dict[str, Any], succeeded: bool) -> None:
        job = session.get(ServiceJob, action["job_id"])
        if job is not None:
            job.attempts += 1
            _end(job, "done" if succeeded else "failed", self.clock.now())  # type: ignore[attr-defined]
            session.flush()


def _started(workflow: BpmnWorkflow, guid: str) -> Any:
    try:
        task = workflow.get_task_from_id(UUID(guid))
    except TaskNotFoundException:
        return None
    return task if task is not None and task.state == TaskState.STARTED else None


def _completing(task: Any, result: Any) -> Callable[[BpmnWorkflow], None]:
    def apply(wf: BpmnWorkflow) -> None:
        task.data[task.task_spec.result_variable] = result
        task.complete()

    return apply


def _end(job: ServiceJob, status: str, now: datetime) -> str:
    job.status, job.updated_at = status, now
    return status
