"""Messages: a thrown message reaches one waiting case that correlates, or starts new ones.

BPMN's order is kept: a running case waiting for the message (catch event, receive task,
boundary event, event-based gateway) whose correlation keys match takes it, the longest
waiting first; only when none does, each process in effect with a message start event of
that name starts; a process whose key is the name starts as the library's convention; and
a message nobody receives is an incident on its sender. A message one case throws to
another is delivered by a worker after the sender's step (``message_jobs``), in the
receiver's step, exactly once; one from outside Mutu is delivered in its request.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from SpiffWorkflow import TaskState
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition as DiagramMessage
from sqlalchemy.orm import Session

from .. import audit, message_jobs, message_waits
from ..errors import NotFound, ValidationFailed
from ..models import MessageJob, ProcessInstance, User
from ..spiff import load_event
from .types import MessageUndelivered

MAX_DEPTH = 10  # a message that causes a message ... this deep is a loop between processes


class MessageMixin:
    def send_message(
        self,
        session: Session,
        name: str,
        payload: dict[str, Any],
        correlations: dict[str, Any] | None,
        actor: User | None,
    ) -> dict[str, list[int]]:
        """A message from outside Mutu (a supplier portal, the client's ticketing), delivered as BPMN says."""
        # Diagrams are parsed with SpiffWorkflow's own definitions: a message equals only its kind.
        event = BpmnEvent(DiagramMessage(name), payload=dict(payload), correlations=dict(correlations or {}))
        received, started = self._route(session, None, event, {"sent_by": actor.username if actor else None})
        _arrived(session, received, started, self.clock.now(), actor, name=name, **{"from": "outside"})  # type: ignore[attr-defined]
        return {"received": [i.id for i in received], "started": [i.id for i in started]}

    def deliver_message_job(self, session: Session, job: MessageJob) -> str:
        """Deliver one queued message; say what happened ("done", "retry", "incident", "skipped").

        The caller holds the job's row. Delivery runs in a savepoint: one that finds no
        receiver writes nothing but the attempt.
        """
        if job.status != "waiting":
            return "skipped"
        now = self.clock.now()  # type: ignore[attr-defined]
        sender = session.get(ProcessInstance, job.sender_id)
        assert sender is not None  # the foreign key keeps it
        job.attempts, job.updated_at = job.attempts + 1, now
        try:
            event = load_event(job.event_json)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:  # no retry can read it
            job.attempts = max(job.attempts, message_jobs.RETRIES + 1)
            unreadable = MessageUndelivered(f"message {job.name!r} cannot be read back: {exc}")
            return self._undelivered(session, job, unreadable, now)
        raised = {"raised_by": {"process_key": sender.process_key, "instance_id": sender.id}}
        token = message_jobs.DEPTH.set(job.depth - 1)  # _route counts this delivery itself
        try:
            with session.begin_nested():
                received, started = self._route(session, sender, event, raised)
        except MessageUndelivered as exc:
            return self._undelivered(session, job, exc, now)
        finally:
            message_jobs.DEPTH.reset(token)
        job.status, job.received, job.last_error = "done", [i.id for i in received + started], None
        _arrived(session, received, started, now, None, name=job.name, job=job.id, **{"from": sender.id})
        session.flush()
        return "done"

    def _undelivered(self, session: Session, job: MessageJob, exc: MessageUndelivered, now: datetime) -> str:
        job.last_error = str(exc)
        if job.attempts <= message_jobs.RETRIES and job.depth <= MAX_DEPTH:
            job.due_at = now + message_jobs.delay(job.attempts)
            return "retry"
        job.status = "failed"
        sender = self._lock(session, job.sender_id)  # type: ignore[attr-defined]
        if sender.status != "cancelled":
            action = {"action": "deliver", "job_id": job.id, "name": job.name}
            workflow = self._load(sender)  # type: ignore[attr-defined]
            exc.task_spec = _spec_of(workflow, job.element_id)  # type: ignore[attr-defined]  # where it stopped
            self._record_incident(session, sender, None, action, exc, now, workflow)  # type: ignore[attr-defined]
        session.flush()
        return "incident"

    def _redeliver(self, session: Session, action: dict[str, Any]) -> None:
        """The manager's retry of an undelivered message: queue it again, due now."""
        job = session.get(MessageJob, action["job_id"])
        if job is not None and job.status == "failed":
            job.status, job.attempts, job.due_at = "waiting", 0, self.clock.now()  # type: ignore[attr-defined]
            job.updated_at = job.due_at
            session.flush()

    def _route(
        self, session: Session, sender: ProcessInstance | None, event: Any, raised: dict[str, Any]
    ) -> tuple[list[ProcessInstance], list[ProcessInstance]]:
        name = event.event_definition.name
        depth = message_jobs.DEPTH.get()
        if depth >= MAX_DEPTH:
            raise MessageUndelivered(
                f"message {name!r} goes round between processes more than {MAX_DEPTH} times"
            )
        token = message_jobs.DEPTH.set(depth + 1)
        try:
            exclude = sender.id if sender is not None else None
            for instance_id in message_waits.candidates(session, name, event.correlations or {}, exclude):
                target = self._receive(session, instance_id, event)
                if target is not None:
                    return [target], []
            return [], self._start_receivers(session, name, event, raised)
        finally:
            message_jobs.DEPTH.reset(token)

    def _receive(self, session: Session, instance_id: int, event: Any) -> ProcessInstance | None:
        """Let one running case catch the message, as its own step; None when it cannot."""
        with session.begin_nested():
            instance = self._lock(session, instance_id)  # type: ignore[attr-defined]
            if instance.status != "running":
                return None
            workflow = self._load(instance)  # type: ignore[attr-defined]
            catching = [
                t
                for t in workflow.get_tasks(state=TaskState.WAITING)
                if getattr(t.task_spec, "event_definition", None) is not None
                and t.task_spec.event_definition.catches(t, event)
            ]
            if not catching and not message_waits.starts_subprocess(workflow, event):
                return None
            action = {"action": "message", "name": event.event_definition.name}
            result = self._advance(  # type: ignore[attr-defined]
                session, instance, None, workflow, action, lambda wf: wf.send_event(event)
            )
            return result.instance

    def _start_receivers(
        self, session: Session, name: str, event: Any, raised: dict[str, Any]
    ) -> list[ProcessInstance]:
        payload = event.payload if isinstance(event.payload, dict) else {"payload": event.payload}
        receivers = [(key, event) for key in self.message_starts(session, name)] or [(name, None)]  # type: ignore[attr-defined]
        started: list[ProcessInstance] = []
        for key, catching in receivers:
            try:
                with session.begin_nested():
                    # The sender chose the payload: a start form, where there is one, still
                    # decides what of it the new case takes.
                    _version, form, _schema = self.start_form(session, key)  # type: ignore[attr-defined]
                    data, extra = (payload, raised) if form else ({}, {**payload, **raised})
                    result = self.start(  # type: ignore[attr-defined]
                        session, key, None, data, validate=True, engine_data=extra, message=catching
                    )
                    started.append(result.instance)
            except NotFound:
                raise MessageUndelivered(f"no deployed process receives message {name!r}") from None
            except ValidationFailed as exc:
                raise MessageUndelivered(f"message {name!r} does not fit its start form: {exc}") from None
        return started


def _arrived(
    session: Session,
    received: list[ProcessInstance],
    started: list[ProcessInstance],
    now: datetime,
    actor: User | None,
    **data: Any,
) -> None:
    """Say in each reached case's history which message came, from where, and if it started it."""
    for target in received + started:
        audit.record(
            session,
            "message_received",
            now,
            instance=target,
            actor=actor,
            data={**data, "started": target in started},
        )


def _spec_of(workflow: Any, element_id: str | None) -> Any:
    """The task spec of a BPMN element of the case (its diagram marks the incident there)."""
    if element_id is None:
        return None
    for spec in (workflow.spec, *workflow.subprocess_specs.values()):
        for task_spec in spec.task_specs.values():
            if getattr(task_spec, "bpmn_id", None) == element_id:
                return task_spec
    return None
