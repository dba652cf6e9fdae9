"""BPMN messages between cases: queued by the sender's step, delivered by a worker.

A message a step throws and nothing in its own case catches becomes a ``message_job`` row,
written in the sender's step transaction. A worker (the scheduler's ``messages`` job, or
the Celery task ``mutu.messages`` with a broker) claims the row and delivers it as BPMN
says (``runtime/messages.py``), in the receiver's step, marking the row done in that same
transaction: a delivery run twice finds it done, one killed mid-way rolls back and is
claimed again. So the sender's request never waits on, nor locks, another case; two cases
that message each other at once cannot deadlock. A message nobody receives is tried again
after 2, 4 and 8 s (the receiver may not have reached its catch event yet), then it is an
incident on the sender, whose retry queues it once more.
"""

from __future__ import annotations

import contextvars
from datetime import datetime, timedelta
from typing import Any

from SpiffWorkflow import TaskState
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from .db import claim_waiting, run_waiting
from .models import MessageJob, ProcessInstance, ServiceJob
from .spiff import dump_event

RETRIES = 3
BACKOFF_BASE = 2
KEEP_FINISHED = timedelta(days=30)  # the audit trail keeps each delivery; the row is for workers
# How many messages deep the delivery now running is: a message its receiver's step
# throws is one deeper, so a loop between processes stops (runtime.messages.MAX_DEPTH).
DEPTH: contextvars.ContextVar[int] = contextvars.ContextVar("mutu_message_depth", default=0)


def thrown(events: list[Any], workflow: Any) -> list[tuple[str, str, str | None]]:
    """The messages among a step's unhandled events as (name, JSON, throwing element); raises
    if one cannot be written. The element is the last finished task that throws that name."""
    out = []
    for event in events:
        if isinstance(event.event_definition, MessageEventDefinition):
            name = event.event_definition.name
            out.append((name, dump_event(event), _thrower(workflow, name)))
    return out


def _thrower(workflow: Any, name: str) -> str | None:
    best, at = None, -1.0
    for wf in (workflow, *workflow.subprocesses.values()):
        for task in wf.tasks.values():
            definition = getattr(task.task_spec, "event_definition", None)
            if (
                isinstance(definition, MessageEventDefinition)
                and definition.name == name
                and task.has_state(TaskState.FINISHED_MASK)
                and task.last_state_change > at
            ):
                best, at = task.task_spec.bpmn_id, task.last_state_change
    return best


def queue(
    session: Session, sender: ProcessInstance, messages: list[tuple[str, str, str | None]], now: datetime
) -> None:
    """Write a job for each message, in the sender's step."""
    depth = DEPTH.get() + 1
    session.add_all(
        MessageJob(
            sender_id=sender.id,
            name=name[:200],
            element_id=element,
            event_json=text,
            depth=depth,
            status="waiting",
            attempts=0,
            due_at=now,
            created_at=now,
            updated_at=now,
        )
        for name, text, element in messages
    )


def delay(attempts: int) -> timedelta:
    return timedelta(seconds=BACKOFF_BASE**attempts)


def claim_due(session: Session, now: datetime, handled: set[int]) -> MessageJob | None:
    """The next due job no other worker holds, locked for this transaction."""
    return claim_waiting(session, MessageJob, now, handled)


def run_due(factory: sessionmaker[Session], engine: Any, limit: int = 100) -> dict[str, int]:
    """Deliver up to ``limit`` due messages, each in its own transaction; count the outcomes."""
    return run_waiting(factory, MessageJob, engine.clock.now, engine.deliver_message_job, limit)


def drain(session: Session, engine: Any) -> int:
    """What the workers would do next, in this session: deliver the messages and call the
    service tasks due now, committing each (the scenario runner's sandbox, the tests)."""
    from . import service_jobs

    messages: set[int] = set()
    services: set[int] = set()
    while True:
        now = engine.clock.now()
        if (message := claim_due(session, now, messages)) is not None:
            messages.add(message.id)
            engine.deliver_message_job(session, message)
        elif (job := service_jobs.claim_due(session, now, services)) is not None:
            services.add(job.id)
            engine.run_service_job(session, job)
        else:
            return len(messages) + len(services)
        session.commit()


def forget_finished(session: Session, now: datetime) -> int:
    """Delete message and service jobs finished a month ago (the hourly housekeeping)."""
    before = now - KEEP_FINISHED
    gone = session.execute(
        delete(MessageJob).where(MessageJob.status == "done", MessageJob.updated_at < before)
    ).rowcount
    return (
        gone
        + session.execute(
            delete(ServiceJob).where(
                ServiceJob.status.in_(("done", "cancelled")), ServiceJob.updated_at < before
            )
        ).rowcount
    )
