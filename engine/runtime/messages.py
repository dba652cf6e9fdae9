"""Messages: a thrown message reaches one waiting case that correlates, or starts new ones.

BPMN's order is kept: a running case waiting for the message (catch event, receive task,
boundary event, event-based gateway) whose correlation keys match takes it, the longest
waiting first; only when none does, each process in effect with a message start event of
that name starts; a process whose key is the name starts as the library's convention; and
a message nobody receives is an incident on its sender. Delivery happens inside the
sender's step transaction, so it happens exactly once or, with the step, not at all.
"""

from __future__ import annotations

import contextvars
from typing import Any

from SpiffWorkflow import TaskState
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition as DiagramMessage
from sqlalchemy.orm import Session

from .. import audit, message_waits
from ..errors import NotFound, ValidationFailed
from ..models import ProcessInstance, User
from .types import MessageUndelivered

MAX_DEPTH = 10  # a message that causes a message ... this deep is a loop between processes
_DEPTH: contextvars.ContextVar[int] = contextvars.ContextVar("mutu_message_depth", default=0)


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
        now = self.clock.now()  # type: ignore[attr-defined]
        for target in received + started:
            audit.record(
                session,
                "message_received",
                now,
                instance=target,
                actor=actor,
                data={"name": name, "from": "outside", "started": target in started},
            )
        return {"received": [i.id for i in received], "started": [i.id for i in started]}

    def _deliver(self, session: Session, sender: ProcessInstance, events: list[Any]) -> list[ProcessInstance]:
        """Deliver the messages a step threw; return the cases that received one or were started."""
        reached: list[ProcessInstance] = []
        for event in events:
            if not isinstance(event.event_definition, MessageEventDefinition):
                continue
            raised = {"raised_by": {"process_key": sender.process_key, "instance_id": sender.id}}
            received, started = self._route(session, sender, event, raised)
            reached.extend(received + started)
        return reached

    def _route(
        self, session: Session, sender: ProcessInstance | None, event: Any, raised: dict[str, Any]
    ) -> tuple[list[ProcessInstance], list[ProcessInstance]]:
        name = event.event_definition.name
        depth = _DEPTH.get()
        if depth >= MAX_DEPTH:
            raise MessageUndelivered(
                f"message {name!r} goes round between processes more than {MAX_DEPTH} times"
            )
        token = _DEPTH.set(depth + 1)
        try:
            exclude = sender.id if sender is not None else None
            for instance_id in message_waits.candidates(session, name, event.correlations or {}, exclude):
                target = self._receive(session, instance_id, event)
                if target is not None:
                    return [target], []
            return [], self._start_receivers(session, name, event, raised)
        finally:
            _DEPTH.reset(token)

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
