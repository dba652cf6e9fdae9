"""Starting cases: the start form, who may start, case numbers, timer start events passed."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from SpiffWorkflow import TaskState
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs import BpmnProcessSpec
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import audit, policy
from .. import deploy as deploy_mod
from ..case_rows import CASE_INSERT, CASE_NUMBER
from ..errors import NotAuthorized, NotFound
from ..forms import allow_listed
from ..forms import validate as validate_form
from ..models import (
    CaseCounter,
    ProcessInstance,
    ProcessVersion,
    User,
)
from ..spiff import SERIALIZER_VERSION, dump_state
from .types import (
    StepResult,
)

log = logging.getLogger(__name__)


class StartMixin:
    # -- instances ----------------------------------------------------------------------

    def start(
        self,
        session: Session,
        process_key: str,
        actor: User | None,
        data: dict[str, Any] | None = None,
        *,
        validate: bool = False,
        engine_data: dict[str, Any] | None = None,
        message: Any | None = None,
    ) -> StepResult:
        """Start the latest version of ``process_key`` as ``actor`` (None: the scheduler).

        ``data`` comes from outside and may hold only the start form's fields (none, when
        the process has no start form); ``engine_data`` is what the engine itself adds.
        ``message`` is a thrown message its message start event catches.
        """
        version = self.latest_version(session, process_key)
        if actor is not None:
            self._check_may_start(version, actor)
        spec, subs = self.specs_for(version)
        workflow = BpmnWorkflow(spec, subs, script_engine=self.script_engine)
        start_form = self._start_form(workflow.spec)
        schema = (
            self._version_meta(session, version)[1].get(f"{process_key}/{start_form}") if start_form else None
        )
        data = dict(allow_listed(schema, data or {}))
        if schema is not None and (actor is not None or validate):
            validate_form(schema, data)
        elif data:
            validate_form({"type": "object"}, data)  # still no NaN, NUL or deep nesting
        data.update(engine_data or {})
        self._pass_timer_start(workflow)
        now = self.clock.now()
        glue = self.glue_of(session, version)
        number = self._next_number(session, process_key, glue.number_format, now)
        if number:
            data[CASE_NUMBER] = number
        for task in workflow.get_tasks(state=TaskState.READY):
            task.data.update(data)
        instance = ProcessInstance(
            process_version_id=version.id,
            process_key=process_key,
            status="running",
            state_json=dump_state(workflow),
            serializer_version=SERIALIZER_VERSION,
            started_by_id=actor.id if actor else None,
            started_at=now,
            updated_at=now,
        )
        instance.process_version = version
        session.add(instance)
        session.flush()
        # The step writes the case row with its first values (one INSERT, no UPDATE after);
        # a start that ends in an incident writes it from _set_case_status instead.
        instance.__dict__[CASE_INSERT] = number

        def record_start() -> None:
            audit.record(
                session,
                "started",
                now,
                instance=instance,
                actor=actor,
                data={"process_key": process_key, "version": version.version, "data": data, "number": number},
            )

        def catch(wf: BpmnWorkflow) -> None:
            if message is not None:  # the message start event waits first, then catches it
                wf.do_engine_steps()
                wf.catch(message)

        result = self._advance(
            session, instance, actor, workflow, {"action": "run"}, catch, first=record_start
        )
        result.number = number
        return result

    def message_starts(self, session: Session, name: str) -> list[str]:
        """Processes in effect whose message start event receives the message ``name``."""
        keys = session.execute(
            select(ProcessVersion.process_key).where(ProcessVersion.state == "approved").distinct()
        ).scalars()
        out = []
        for key in sorted(set(keys)):
            try:
                version = self.latest_version(session, key)
            except NotFound:
                continue
            cached = self._message_names.get((version.id, version.content_hash))
            if cached is None:
                spec, _subs = self.specs_for(version)
                cached = frozenset(
                    task_spec.event_definition.name
                    for task_spec in spec.task_specs.values()
                    if isinstance(task_spec, StartEvent)
                    and isinstance(getattr(task_spec, "event_definition", None), MessageEventDefinition)
                )
                self._message_names[(version.id, version.content_hash)] = cached
            if name in cached:
                out.append(key)
        return out

    def start_form(
        self, session: Session, process_key: str
    ) -> tuple[ProcessVersion, str | None, dict[str, Any] | None]:
        """The latest version, its start form reference and schema, for a start page."""
        version = self.latest_version(session, process_key)
        spec, _subs = self.specs_for(version)
        name = self._start_form(spec)
        if not name:
            return version, None, None
        ref = f"{process_key}/{name}"
        return version, ref, self._version_meta(session, version)[1].get(ref)

    def form_schema(self, session: Session, version: ProcessVersion, form_ref: str) -> dict[str, Any] | None:
        return self._version_meta(session, version)[1].get(form_ref)

    def may_start(self, version: ProcessVersion, actor: User) -> bool:
        return policy.may_start(version.startable_by, actor)

    def _check_may_start(self, version: ProcessVersion, actor: User) -> None:
        if not policy.may_start(version.startable_by, actor):
            raise NotAuthorized(
                f"{actor.username} may not start {version.process_key}; it needs one of: "
                + ", ".join(sorted(version.startable_by))
            )

    @staticmethod
    def _start_form(spec: BpmnProcessSpec) -> str | None:
        for task_spec in spec.task_specs.values():
            if isinstance(task_spec, StartEvent):
                props = (getattr(task_spec, "extensions", None) or {}).get("properties", {})
                if props.get(deploy_mod.FORM_PROPERTY):
                    return props[deploy_mod.FORM_PROPERTY]
        return None

    @staticmethod
    def _pass_timer_start(workflow: BpmnWorkflow) -> None:
        """Let a timer start event pass at once: a start, by hand or by the scheduler, means now.

        The start-timer row is what repeats, by starting new instances; left alone, a cycle
        start event would repeat inside this one instance, and a manual start would wait.
        """
        for task in workflow.get_tasks():
            definition = getattr(task.task_spec, "event_definition", None)
            if (
                isinstance(task.task_spec, StartEvent)
                and isinstance(definition, TimerEventDefinition)
                and task.workflow is workflow
            ):
                task._set_internal_data(event_fired=True)
                if not task.children:  # cycle start events predict no children
                    for output in task.task_spec.outputs:
                        child = task._add_child(output, TaskState.FUTURE)
                        child.task_spec._predict(child, mask=TaskState.NOT_FINISHED_MASK)

    def _next_number(self, session: Session, key: str, fmt: str | None, now: datetime) -> str | None:
        if not fmt:
            return None
        year = now.astimezone(self.zone).year
        counter = session.execute(
            select(CaseCounter)
            .where(CaseCounter.process_key == key, CaseCounter.year == year)
            .with_for_update()
        ).scalar_one_or_none()
        if counter is None:
            counter = CaseCounter(process_key=key, year=year, value=0)
            session.add(counter)
        counter.value += 1
        return fmt.format(year=year, seq=counter.value)
