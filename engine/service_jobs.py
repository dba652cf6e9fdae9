"""Asynchronous service tasks: queued by the step that reaches them, run by a worker.

A service task whose diagram sets the property ``async`` to ``true`` waits (STARTED) in
the step that reached it, and that step writes a ``service_job`` row in its own
transaction. A worker (the scheduler's ``service-tasks`` job, or the Celery task
``mutu.service_tasks`` with a broker) claims the row, calls the operator and completes the
task in one step of the case, marking the row done in that same transaction: a job run
twice finds it done, one killed mid-way rolls back and is claimed again. An operator that
fails is tried again after ``backoff_base ** attempt`` seconds (``spiffworkflow:retry``,
default 5 retries from 2 s); when the retries are spent the case gets an incident, and
the manager's retry calls the operator once more.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from SpiffWorkflow import TaskState
from SpiffWorkflow.bpmn import BpmnWorkflow
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from .db import claim_waiting, run_waiting
from .models import ProcessInstance, ServiceJob
from .spiff import DeferredServiceTask

log = logging.getLogger(__name__)

DEFAULT_RETRIES = 5
DEFAULT_BACKOFF_BASE = 2
MAX_DELAY = timedelta(hours=1)


def _has_deferred(workflow: BpmnWorkflow) -> bool:
    """Whether the case's specs hold any asynchronous service task (cached on the spec)."""
    specs = [workflow.spec, *workflow.subprocess_specs.values()]
    found = False
    for spec in specs:
        flag = spec.__dict__.get("_mutu_deferred")
        if flag is None:
            flag = any(isinstance(t, DeferredServiceTask) for t in spec.task_specs.values())
            spec.__dict__["_mutu_deferred"] = flag
        found = found or flag
    return found


def waiting_tasks(workflow: BpmnWorkflow) -> list[Any]:
    if not _has_deferred(workflow):
        return []
    return [
        t for t in workflow.get_tasks(state=TaskState.STARTED) if isinstance(t.task_spec, DeferredServiceTask)
    ]


def queue_started(session: Session, instance: ProcessInstance, workflow: BpmnWorkflow, now: datetime) -> int:
    """Write a job for each asynchronous service task this step left waiting (in the step)."""
    tasks = waiting_tasks(workflow)
    if not tasks:
        return 0
    known = set(
        session.execute(select(ServiceJob.task_guid).where(ServiceJob.instance_id == instance.id)).scalars()
    )
    added = 0
    for task in tasks:
        if str(task.id) in known:
            continue
        spec = task.task_spec
        base = spec.retry_backoff_base
        session.add(
            ServiceJob(
                instance_id=instance.id,
                task_guid=str(task.id),
                element_id=spec.bpmn_id,
                status="waiting",
                attempts=0,
                retries=DEFAULT_RETRIES if spec.retries is None else max(0, int(spec.retries)),
                backoff_base=DEFAULT_BACKOFF_BASE if base is None else base,
                due_at=now,
                created_at=now,
                updated_at=now,
            )
        )
        added += 1
    return added


def delay(job: ServiceJob) -> timedelta:
    """How long a failed job waits before its next attempt."""
    seconds = float(max(job.backoff_base, 1)) ** job.attempts
    return min(timedelta(seconds=seconds), MAX_DELAY)


def claim_due(session: Session, now: datetime, handled: set[int]) -> ServiceJob | None:
    """The next due job no other worker holds, locked for this transaction."""
    return claim_waiting(session, ServiceJob, now, handled)


def run_due(factory: sessionmaker[Session], engine: Any, limit: int = 100) -> dict[str, int]:
    """Run up to ``limit`` due jobs, each in its own transaction; count them by outcome."""
    return run_waiting(factory, ServiceJob, engine.clock.now, engine.run_service_job, limit)
