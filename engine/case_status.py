"""What a case waits for, read from the engine's own rows, never from a process variable.

Open tasks (with who holds them and their due dates), then waiting timers, messages, the
asynchronous service tasks a worker is to call (with their attempts and next try) and the
messages the case sent that a worker has still to deliver (likewise); for
an ended case, the end event it reached (kept in its ``instance_completed`` event). One query
per kind for a whole page of cases, so lists show it as cheaply as the case page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import AuditEvent, HumanTask, ProcessInstance, ServiceJob, Timer, User
from .models_messages import MessageWait
from .models_steps import MessageJob


@dataclass
class Waiting:
    # task, timer, message, service (an asynchronous service task a worker calls), sending (a
    # message this case threw, that a worker is to deliver)
    kind: str
    bpmn_id: str
    name: str
    due: datetime | None = None
    task_id: int | None = None
    holder: str | None = None  # online name or username of whoever claimed the task
    role: str | None = None
    timer_id: int | None = None
    attempts: int = 0  # a service task's calls (a message's deliveries) so far; ``due``: the next
    error: str | None = None  # why its last call failed
    message: str | None = None  # the name of the message being sent


@dataclass
class CaseStatus:
    state: str  # running, completed, cancelled, incident, suspended
    waiting: list[Waiting] = field(default_factory=list)
    ended: list[tuple[str, str]] = field(default_factory=list)  # (bpmn id, name) of the ends reached
    reason: str | None = None  # why it was cancelled

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "waiting": [
                {
                    "kind": w.kind,
                    "bpmn_id": w.bpmn_id,
                    "name": w.name,
                    "due": w.due.isoformat() if w.due else None,
                    "task_id": w.task_id,
                    "holder": w.holder,
                    "role": w.role,
                    **({"attempts": w.attempts, "error": w.error} if w.kind == "service" else {}),
                    **({"attempts": w.attempts, "message": w.message} if w.kind == "sending" else {}),
                }
                for w in self.waiting
            ],
            "ended": [{"bpmn_id": b, "name": n} for b, n in self.ended],
            "reason": self.reason,
        }


def element_names(engine: Any, version: Any) -> dict[str, str]:
    """BPMN id -> name of every element of a version (read from its cached spec)."""
    cache = engine.__dict__.setdefault("_element_names", {})
    key = (version.id, version.content_hash)
    names = cache.get(key)
    if names is None:
        spec, subs = engine.specs_for(version)
        names = {}
        for s in (spec, *subs.values()):
            for ts in s.task_specs.values():
                bpmn_id = getattr(ts, "bpmn_id", None)
                if bpmn_id:
                    names[bpmn_id] = getattr(ts, "bpmn_name", None) or bpmn_id
        cache[key] = names
    return names


def statuses(session: Session, engine: Any, instances: list[ProcessInstance]) -> dict[int, CaseStatus]:
    out = {i.id: CaseStatus(i.status) for i in instances}
    if not instances:
        return out
    by_id = {i.id: i for i in instances}
    live = [i.id for i in instances if i.status not in ("completed", "cancelled")]
    if live:
        tasks = session.execute(
            select(HumanTask, User.online_name, User.username)
            .outerjoin(User, User.id == HumanTask.assignee_id)
            .where(HumanTask.instance_id.in_(live), HumanTask.status == "open")
            .order_by(HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.id)
        ).all()
        for task, online, username in tasks:
            out[task.instance_id].waiting.append(
                Waiting(
                    "task", task.bpmn_id, task.name, task.due_at, task.id, online or username, task.role_key
                )
            )
        timers = session.execute(
            select(Timer)
            .where(Timer.instance_id.in_(live), Timer.status == "waiting")
            .order_by(Timer.fire_at, Timer.id)
        ).scalars()
        for timer in timers:
            names = element_names(engine, by_id[timer.instance_id].process_version)
            out[timer.instance_id].waiting.append(
                Waiting(
                    "timer",
                    timer.bpmn_id,
                    names.get(timer.bpmn_id, timer.bpmn_id),
                    timer.fire_at,
                    timer_id=timer.id,
                )
            )
        waits = session.execute(
            select(MessageWait).where(MessageWait.instance_id.in_(live), MessageWait.status == "waiting")
        ).scalars()
        for wait in waits:
            names = element_names(engine, by_id[wait.instance_id].process_version)
            out[wait.instance_id].waiting.append(
                Waiting("message", wait.bpmn_id, names.get(wait.bpmn_id, wait.name))
            )
        calls = session.execute(
            select(ServiceJob)
            .where(ServiceJob.instance_id.in_(live), ServiceJob.status == "waiting")
            .order_by(ServiceJob.due_at, ServiceJob.id)
        ).scalars()
        for job in calls:
            names = element_names(engine, by_id[job.instance_id].process_version)
            out[job.instance_id].waiting.append(
                Waiting(
                    "service",
                    job.element_id,
                    names.get(job.element_id, job.element_id),
                    job.due_at,
                    attempts=job.attempts,
                    error=job.last_error,
                )
            )
    # A sender that has ended may still have a message on its way (a message end event).
    sending = session.execute(
        select(MessageJob)
        .where(MessageJob.sender_id.in_(list(by_id)), MessageJob.status == "waiting")
        .order_by(MessageJob.due_at, MessageJob.id)
    ).scalars()
    for job in sending:
        names = element_names(engine, by_id[job.sender_id].process_version)
        element = job.element_id or ""
        out[job.sender_id].waiting.append(
            Waiting(
                "sending",
                element,
                names.get(element, element or job.name),
                job.due_at,
                attempts=job.attempts,
                message=job.name,
            )
        )
    done = [i.id for i in instances if i.status in ("completed", "cancelled")]
    if done:
        events = session.execute(
            select(AuditEvent.instance_id, AuditEvent.kind, AuditEvent.data).where(
                AuditEvent.instance_id.in_(done), AuditEvent.kind.in_(("instance_completed", "cancelled"))
            )
        ).all()
        for instance_id, kind, data in events:
            status = out[instance_id]
            if kind == "cancelled":
                status.reason = (data or {}).get("reason") or None
                continue
            names = element_names(engine, by_id[instance_id].process_version)
            status.ended = [(b, names.get(b, b)) for b in (data or {}).get("ends", [])]
    return out


def status_of(session: Session, engine: Any, instance: ProcessInstance) -> CaseStatus:
    return statuses(session, engine, [instance])[instance.id]
