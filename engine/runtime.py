"""Process instances: start, complete, claim, assign, cancel, suspend, resume, retry, fire timers.

Every public method takes the caller's session and never commits: the edge (web request,
CLI command, scheduler tick) owns the transaction. Each method locks the instance
(``SELECT ... FOR UPDATE`` where the database has it, and the ``lock_version`` column
checked on flush), runs SpiffWorkflow to the next wait state in memory, then writes the
state and its projections. An error inside SpiffWorkflow leaves the stored state at the
last wait state and records an incident instead.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from SpiffWorkflow import TaskState
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs import BpmnProcessSpec
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.bpmn.util.diff import diff_workflow, migrate_workflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from sqlalchemy import bindparam, inspect, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, object_session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from . import audit, batch, limits, policy
from . import clock as clock_mod
from . import deploy as deploy_mod
from .case_rows import CASE_INSERT, CASE_NUMBER
from .clock import Clock, SystemClock
from .db import is_postgres
from .errors import Conflict, InvalidState, MutuError, NotAuthorized, NotFound, ScriptError, ValidationFailed
from .forms import allow_listed
from .forms import validate as validate_form
from .models import (
    CaseCounter,
    CaseRecord,
    HumanTask,
    Incident,
    ProcessInstance,
    ProcessVersion,
    Timer,
    User,
    UTCDateTime,
)
from .projection import (
    NewTask,
    Pending,
    Snapshot,
    apply_snapshot,
    pending,
    snapshot,
)
from .registry import ProcessGlue, Registry, glue_from_meta
from .scripting import RestrictedScriptEngine
from .services import ServiceRegistry, default_services
from .spiff import FULL_SERIALIZER, SERIALIZER_VERSION, dump_state, load_state, spec_from_json
from .timers import StartTimerPlan, plan_start_timers

log = logging.getLogger(__name__)

Hook = Callable[[str, dict[str, Any]], None]


@dataclass
class StepResult:
    """What an advancing operation did: the instance, and the incident if the step failed."""

    instance: ProcessInstance
    incident: Incident | None = None
    new_tasks: list[NewTask] | None = None
    number: str | None = None  # the case number a start gave


@dataclass
class _Step:
    """One successful step, computed in memory, waiting to be written."""

    instance: ProcessInstance
    actor: User | None
    workflow: BpmnWorkflow
    action: dict[str, Any]
    before: Pending
    snap: Snapshot
    now: datetime
    completed: HumanTask | None = None


# Built once: constructing these per call cost more than running them.
_IN_EFFECT = (
    select(ProcessVersion)
    .where(
        ProcessVersion.process_key == bindparam("key"),
        ProcessVersion.state == "approved",
        ProcessVersion.effective_from <= bindparam("now", type_=UTCDateTime()),
    )
    .order_by(ProcessVersion.version.desc())
    .limit(1)
)
_LOCK_INSTANCE = (
    select(ProcessInstance)
    .where(ProcessInstance.id == bindparam("instance_id"))
    .with_for_update(of=ProcessInstance)
    .execution_options(populate_existing=True)
)
_LOCK_TASK = (
    select(ProcessInstance, HumanTask)
    .join(HumanTask, HumanTask.instance_id == ProcessInstance.id)
    .where(HumanTask.id == bindparam("task_id"))
    .with_for_update(of=(ProcessInstance, HumanTask))
    .execution_options(populate_existing=True)
)


class MessageUndelivered(MutuError):
    """A thrown message no deployed process receives, or whose payload its start refuses."""

    code = "message_undelivered"


# What SpiffWorkflow and scripts raise for a broken diagram or data: these become incidents.
# Database and programming errors of our own are not caught and reach the edge.
_ENGINE_ERRORS = (
    SpiffWorkflowException,
    MessageUndelivered,
    ScriptError,
    ArithmeticError,
    LookupError,
    TypeError,
    ValueError,
    NameError,
    AttributeError,
    MemoryError,
    RecursionError,
)


class ProcessEngine:
    """The engine: stateless between calls except for the per-version spec cache."""

    def __init__(
        self,
        registry: Registry,
        clock: Clock | None = None,
        *,
        zone: ZoneInfo | None = None,
        script_timeout: float = 2.0,
        hook: Hook | None = None,
        services: ServiceRegistry | None = None,
        memory_mb: int = 256,
    ) -> None:
        self.registry = registry
        self.clock = clock or SystemClock()
        self.zone = zone or ZoneInfo("Asia/Jakarta")
        self.services = services if services is not None else default_services()
        self.services.operators.update(registry.operators)  # what the processes bring
        self.script_engine = RestrictedScriptEngine(self.clock, script_timeout, self.services)
        self.hook = hook
        self.memory_bytes = memory_mb * 1024 * 1024
        # A step that runs this long or this many tasks without waiting is a loop that never ends.
        self.step_seconds = max(10 * script_timeout, 10.0)
        self._specs: dict[tuple[int, str], tuple[BpmnProcessSpec, dict[str, BpmnProcessSpec]]] = {}
        self._meta: dict[tuple[int, str], tuple[dict[str, Any], dict[str, Any]]] = {}
        self._glue: dict[tuple[int, str], ProcessGlue] = {}

    # -- deployment -------------------------------------------------------------------

    def deploy(
        self,
        session: Session,
        files: list[deploy_mod.SourceFile],
        actor: User | None = None,
        *,
        registry: Registry | None = None,
        state: str = "approved",
        note: str | None = None,
        only: str | None = None,
    ) -> deploy_mod.DeployResult:
        """Publish changed processes as new versions; those in effect at once (re)plan their start timers.

        ``registry`` is the glue to deploy with (a bundle's own); by default the seed library's.
        """
        now = self.clock.now()
        result, fresh = deploy_mod.deploy(
            session,
            files,
            registry or self.registry,
            now,
            actor,
            self.services.names(),
            state=state,
            note=note,
            only=only,
        )
        for version in result.created:
            self._specs[(version.id, version.content_hash)] = fresh[version.id]
            if version.state == "approved":
                self.plan_start_timers(session, version)
        return result

    def plan_start_timers(self, session: Session, version: ProcessVersion) -> None:
        """A version taking effect replaces its process's start timers with its own."""
        now = self.clock.now()
        spec, _subs = self.specs_for(version)
        with clock_mod.using(self.clock):
            plans = plan_start_timers(spec, self.script_engine, now)
        self._replace_start_timers(session, version.process_key, plans, now)

    def _replace_start_timers(
        self, session: Session, process_key: str, plans: list[StartTimerPlan], now: datetime
    ) -> None:
        session.execute(
            update(Timer)
            .where(Timer.process_key == process_key, Timer.kind == "start", Timer.status == "waiting")
            .values(status="cancelled")
        )
        for plan in plans:
            session.add(
                Timer(
                    instance_id=None,
                    process_key=process_key,
                    task_guid=None,
                    bpmn_id=plan.bpmn_id,
                    kind="start",
                    fire_at=plan.fire_at,
                    status="waiting",
                    cycles_left=plan.cycles_left,
                    interval_seconds=plan.interval_seconds,
                    created_at=now,
                )
            )

    def latest_version(self, session: Session, process_key: str) -> ProcessVersion:
        """The version in effect now: approved, and its effective date reached. New cases start on it."""
        version = session.execute(
            _IN_EFFECT, {"key": process_key, "now": self.clock.now()}
        ).scalar_one_or_none()
        if version is None:
            raise NotFound(f"no process {process_key!r} is deployed")
        return version

    version_in_effect = latest_version

    def glue_of(self, session: Session, version: ProcessVersion) -> ProcessGlue:
        """The glue a version was published with (versions before bundles: the seed library's)."""
        key = (version.id, version.content_hash)
        glue = self._glue.get(key)
        if glue is None:
            stored = session.execute(
                select(ProcessVersion.glue, ProcessVersion.forms).where(ProcessVersion.id == version.id)
            ).one()
            if stored.glue is None:
                glue = self.registry.get(version.process_key)
            else:
                forms = {
                    ref.split("/", 1)[1]: f
                    for ref, f in (stored.forms or {}).items()
                    if ref.startswith(f"{version.process_key}/")
                }
                glue = glue_from_meta(version.process_key, stored.glue, forms)
            self._glue[key] = glue
        return glue

    def _version_meta(
        self, session: Session, version: ProcessVersion
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Lane -> role map and form schemas of a version, read once: versions never change."""
        key = (version.id, version.content_hash)
        meta = self._meta.get(key)
        if meta is None:
            row = session.execute(
                select(ProcessVersion.lane_roles, ProcessVersion.forms).where(ProcessVersion.id == version.id)
            ).one()
            meta = self._meta[key] = (row.lane_roles, row.forms)
        return meta

    def specs_for(self, version: ProcessVersion) -> tuple[BpmnProcessSpec, dict[str, BpmnProcessSpec]]:
        key = (version.id, version.content_hash)
        cached = self._specs.get(key)
        if cached is None:
            cached = spec_from_json(version.spec_json)
            self._specs[key] = cached
        return cached

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
    ) -> StepResult:
        """Start the latest version of ``process_key`` as ``actor`` (None: the scheduler).

        ``data`` comes from outside and may hold only the start form's fields (none, when
        the process has no start form); ``engine_data`` is what the engine itself adds.
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

        result = self._advance(
            session, instance, actor, workflow, {"action": "run"}, lambda wf: None, first=record_start
        )
        result.number = number
        return result

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

    def complete(
        self, session: Session, task_id: int, actor: User, data: dict[str, Any] | None = None
    ) -> StepResult:
        """Complete a human task with form data, validated against its form first."""
        row, instance = self._lock_task(session, task_id)
        self._require_running(instance)
        policy.check_may_work(row, actor)
        schema = (
            self._version_meta(session, instance.process_version)[1].get(row.form_ref)
            if row.form_ref
            else None
        )
        data = dict(allow_listed(schema, data or {}))
        validate_form(schema or {"type": "object"}, data)
        workflow = self._load(instance)
        task = self._ready_task(workflow, row)

        def apply(wf: BpmnWorkflow) -> None:
            task.data.update(data)
            _sign(task, row, actor)
            task.run()

        action = {
            "action": "complete",
            "task_guid": row.task_guid,
            "data": data,
            "actor": actor.username,
        }
        return self._advance(session, instance, actor, workflow, action, apply, completed=row)

    def claim(self, session: Session, task_id: int, actor: User) -> HumanTask:
        row, instance = self._lock_task(session, task_id)
        policy.check_may_act(row, actor)
        if row.assignee_id == actor.id:
            return row
        if row.assignee_id is not None:
            raise Conflict(f"task {row.id} ({row.bpmn_id}) is already claimed by another user")
        row.assignee_id = actor.id
        self._touch(instance)
        audit.record(
            session,
            "claimed",
            self.clock.now(),
            instance=instance,
            actor=actor,
            task_guid=row.task_guid,
            bpmn_id=row.bpmn_id,
        )
        return row

    def unclaim(self, session: Session, task_id: int, actor: User) -> HumanTask:
        row, instance = self._lock_task(session, task_id)
        if row.assignee_id != actor.id:
            policy.check_may_oversee(row, actor, "release")
        if row.assignee_id is None:
            return row
        if row.lane is None:
            raise InvalidState("a task with no lane belongs to whoever started the case")
        row.assignee_id = None
        self._touch(instance)
        audit.record(
            session,
            "unclaimed",
            self.clock.now(),
            instance=instance,
            actor=actor,
            task_guid=row.task_guid,
            bpmn_id=row.bpmn_id,
        )
        return row

    def assign(self, session: Session, task_id: int, actor: User, assignee: User) -> HumanTask:
        """Give a task to a named user; for admins, the QMR and team leaders."""
        row, instance = self._lock_task(session, task_id)
        policy.check_may_oversee(row, actor, "assign")
        policy.check_may_act(row, assignee, who="assignee")
        row.assignee_id = assignee.id
        self._touch(instance)
        audit.record(
            session,
            "assigned",
            self.clock.now(),
            instance=instance,
            actor=actor,
            task_guid=row.task_guid,
            bpmn_id=row.bpmn_id,
            data={"assignee": assignee.username},
        )
        return row

    def cancel(self, session: Session, instance_id: int, actor: User, reason: str = "") -> ProcessInstance:
        instance = self._lock(session, instance_id)
        policy.check_may_manage(actor, instance.id, "cancel")
        if instance.status in ("completed", "cancelled"):
            raise InvalidState(f"instance {instance.id} is already {instance.status}")
        workflow = self._load(instance)
        before = pending(workflow)
        workflow.cancel()
        now = self.clock.now()
        instance.status = "cancelled"
        instance.ended_at = now
        self._store_unadvanced(session, instance, workflow, before)
        audit.record(session, "cancelled", now, instance=instance, actor=actor, data={"reason": reason})
        return instance

    def suspend(self, session: Session, instance_id: int, actor: User) -> ProcessInstance:
        instance = self._lock(session, instance_id)
        policy.check_may_manage(actor, instance.id, "suspend")
        if instance.status not in ("running", "incident"):
            raise InvalidState(f"instance {instance.id} is {instance.status}; only running cases suspend")
        instance.status_before_suspend = instance.status
        instance.status = "suspended"
        self._set_case_status(session, instance)
        self._touch(instance)
        audit.record(session, "suspended", self.clock.now(), instance=instance, actor=actor)
        return instance

    def resume(self, session: Session, instance_id: int, actor: User) -> ProcessInstance:
        instance = self._lock(session, instance_id)
        policy.check_may_manage(actor, instance.id, "resume")
        if instance.status != "suspended":
            raise InvalidState(f"instance {instance.id} is {instance.status}, not suspended")
        instance.status = instance.status_before_suspend or "running"
        instance.status_before_suspend = None
        self._set_case_status(session, instance)
        self._touch(instance)
        audit.record(session, "resumed", self.clock.now(), instance=instance, actor=actor)
        return instance

    def retry(self, session: Session, instance_id: int, actor: User | None) -> StepResult:
        """Re-run the step that raised the open incident, against the current stored state."""
        instance = self._lock(session, instance_id)
        if actor is not None:
            policy.check_may_manage(actor, instance.id, "retry")
        incident = self._open_incident(session, instance.id)
        if incident is None:
            raise InvalidState(f"instance {instance.id} has no open incident")
        action = incident.pending_action
        workflow = self._load(instance)
        completed: HumanTask | None = None
        completer: User | None = None
        if action["action"] == "timer":
            self._set_timer(session, action["timer_id"], "waiting", "fired", self.clock.now())
        if action["action"] == "complete":
            completed = session.execute(
                select(HumanTask).where(
                    HumanTask.instance_id == instance.id, HumanTask.task_guid == action["task_guid"]
                )
            ).scalar_one()
            task = self._ready_task(workflow, completed)
            # The step is the original completer's: their form data, their signature.
            completer = (
                session.execute(select(User).where(User.username == action.get("actor")))
                .unique()
                .scalar_one_or_none()
            )

            def apply(wf: BpmnWorkflow) -> None:
                task.data.update(action.get("data") or {})
                _sign(task, completed, completer)
                task.run()
        else:

            def apply(wf: BpmnWorkflow) -> None:
                wf.refresh_timers()

        audit.record(
            session,
            "retried",
            self.clock.now(),
            instance=instance,
            actor=actor,
            data={"incident": incident.id},
        )
        return self._advance(
            session, instance, completer or actor, workflow, action, apply, completed=completed
        )

    def migrate(
        self, session: Session, instance_id: int, actor: User, to_version: int | None = None
    ) -> ProcessInstance:
        """Move an instance to another version (default: the newest) of its process.

        Refused when anything the instance has started or completed was changed or removed
        in the target version: published history must stay true to what ran.
        """
        instance = self._lock(session, instance_id)
        policy.check_may_manage(actor, instance.id, "migrate")
        if instance.status in ("completed", "cancelled"):
            raise InvalidState(f"instance {instance.id} is {instance.status}")
        if to_version is None:
            target = self.latest_version(session, instance.process_key)
        else:
            target = session.execute(
                select(ProcessVersion).where(
                    ProcessVersion.process_key == instance.process_key, ProcessVersion.version == to_version
                )
            ).scalar_one_or_none()
            if target is None:
                raise NotFound(f"{instance.process_key} has no version {to_version}")
        if target.id == instance.process_version_id:
            raise InvalidState(f"instance {instance.id} already runs version {target.version}")
        workflow = self._load(instance)
        before = pending(workflow)
        new_spec, new_subs = self.specs_for(target)
        top_diff, sub_diffs = diff_workflow(FULL_SERIALIZER.registry, workflow, new_spec, new_subs)
        blockers = _migration_blockers(top_diff, sub_diffs)
        if blockers:
            raise InvalidState(
                f"instance {instance.id} cannot move to version {target.version}: " + "; ".join(blockers)
            )
        with clock_mod.using(self.clock):
            # Reset ready tasks only: waiting timers keep their due time, so moving a case
            # to a fixed version never restarts its deadlines.
            migrate_workflow(top_diff, workflow, new_spec, reset_mask=TaskState.READY)
            for sub_id, sub_diff in sub_diffs.items():
                sub = workflow.subprocesses[sub_id]
                migrate_workflow(sub_diff, sub, new_subs[sub.spec.name], reset_mask=TaskState.READY)
            workflow.subprocess_specs = new_subs
        old_version = instance.process_version.version
        instance.process_version_id = target.id
        instance.process_version = target
        now = self.clock.now()
        self._store_unadvanced(session, instance, workflow, before)
        audit.record(
            session,
            "migrated",
            now,
            instance=instance,
            actor=actor,
            data={"from_version": old_version, "to_version": target.version},
        )
        return instance

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

    # -- internals ----------------------------------------------------------------------

    def _lock(self, session: Session, instance_id: int) -> ProcessInstance:
        try:
            instance = session.execute(_LOCK_INSTANCE, {"instance_id": instance_id}).scalar_one_or_none()
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
            found = session.execute(_LOCK_TASK, {"task_id": task_id}).first()
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
        now = self.clock.now()
        before = pending(workflow)
        try:
            with (
                clock_mod.using(self.clock),
                self.services.bound(session, now),
                limits.bounded(self.memory_bytes),
            ):
                apply(workflow)
                workflow.do_engine_steps(did_complete_task=limits.StepBudget(self.step_seconds))
                snap = snapshot(workflow, now)
            messages = workflow.get_events()  # thrown, and caught by nobody in this instance
            started = self._deliver(session, instance, messages)
        except _ENGINE_ERRORS as exc:
            if first is not None:
                first()
            return StepResult(instance, self._record_incident(session, instance, actor, action, exc, now))
        if self.hook:
            self.hook("advanced", {"instance_id": instance.id, "action": action})
        step = _Step(instance, actor, workflow, action, before, snap, now, completed)
        with _conflict_guard(instance), session.no_autoflush, batch.batching(session, is_postgres(session)):
            if first is not None:
                first()
            for target in started:
                audit.record(
                    session,
                    "message_sent",
                    now,
                    instance=instance,
                    data={"process_key": target.process_key, "instance_id": target.id},
                )
            new_rows = self._write_step(session, step)
            _write_instance(session, instance)
            session.flush()
        if self.hook:
            self.hook("written", {"instance_id": instance.id, "action": action})
        return StepResult(instance, None, new_rows)

    def _deliver(self, session: Session, sender: ProcessInstance, events: list[Any]) -> list[ProcessInstance]:
        """Start the deployed process a thrown message names, with its payload as start data.

        Each start runs in a savepoint: a message no process receives, or a payload its
        start form refuses, raises here and becomes an incident on the sender instead.
        """
        started: list[ProcessInstance] = []
        for event in events:
            name = getattr(event.event_definition, "name", None)
            if not isinstance(event.event_definition, MessageEventDefinition):
                continue
            payload = event.payload if isinstance(event.payload, dict) else {"payload": event.payload}
            raised = {"raised_by": {"process_key": sender.process_key, "instance_id": sender.id}}
            try:
                with session.begin_nested():
                    # The sending diagram chose the payload: a start form, where there is one,
                    # still decides what of it the new case takes.
                    _version, form, _schema = self.start_form(session, name)
                    data, extra = (payload, raised) if form else ({}, {**payload, **raised})
                    started.append(
                        self.start(session, name, None, data, validate=True, engine_data=extra).instance
                    )
            except NotFound:
                raise MessageUndelivered(f"no deployed process receives message {name!r}") from None
            except ValidationFailed as exc:
                raise MessageUndelivered(f"message {name!r} does not fit its start form: {exc}") from None
        return started

    def _write_step(self, session: Session, step: _Step) -> list[NewTask]:
        instance, snap, now = step.instance, step.snap, step.now
        had_incident = instance.status == "incident"
        instance.status = "completed" if snap.completed else "running"
        if snap.completed:
            instance.ended_at = now
        if had_incident and self._resolve_incidents(session, instance, step.action, now):
            instance.status = "incident"
        new_rows = self._store(session, step)
        for row in new_rows:
            if row.rerouted:  # the named agent has no account: say so in the history
                audit.record(
                    session,
                    "rerouted",
                    now,
                    instance=instance,
                    task_guid=row.task_guid,
                    bpmn_id=row.bpmn_id,
                    data={
                        "lane": row.lane,
                        "to_role": row.role_key,
                        "reason": "no user has the agent code named",
                    },
                )
        if step.completed is not None:
            audit.record(
                session,
                "completed",
                now,
                instance=instance,
                actor=step.actor,
                task_guid=step.completed.task_guid,
                bpmn_id=step.completed.bpmn_id,
                data={"name": step.completed.name, "data": step.action.get("data", {})},
            )
        if snap.completed:
            audit.record(session, "instance_completed", now, instance=instance)
        return new_rows

    def _store(self, session: Session, step: _Step) -> list[NewTask]:
        """Write the state and its projections; the caller flushes."""
        instance = step.instance
        instance.state_json = dump_state(step.workflow)
        instance.serializer_version = SERIALIZER_VERSION
        instance.updated_at = step.now
        return apply_snapshot(
            session,
            instance,
            step.before,
            step.snap,
            self.glue_of(session, instance.process_version),
            self._version_meta(session, instance.process_version)[0],
            step.now,
            completed=step.completed,
            completed_by=step.actor,
        )

    def _store_unadvanced(
        self, session: Session, instance: ProcessInstance, workflow: BpmnWorkflow, before: Pending
    ) -> None:
        """Store a workflow changed outside a step (cancel, migrate) and flush it."""
        now = self.clock.now()
        with clock_mod.using(self.clock):
            snap = snapshot(workflow, now)
        self._store(session, _Step(instance, None, workflow, {}, before, snap, now))
        _flush_or_conflict(session, instance)

    def _resolve_incidents(
        self, session: Session, instance: ProcessInstance, action: dict[str, Any], now: datetime
    ) -> bool:
        """Close incidents this successful step has made moot; True when some stay open."""
        open_incidents = session.execute(
            select(Incident).where(Incident.instance_id == instance.id, Incident.resolved_at.is_(None))
        ).scalars()
        remaining = False
        for incident in open_incidents:
            pending = incident.pending_action
            same = pending.get("action") == action.get("action") and (
                pending.get("action") != "complete" or pending.get("task_guid") == action.get("task_guid")
            )
            if same:
                incident.resolved_at = now
            else:
                remaining = True
        return remaining

    def _record_incident(
        self,
        session: Session,
        instance: ProcessInstance,
        actor: User | None,
        action: dict[str, Any],
        exc: Exception,
        now: datetime,
    ) -> Incident:
        spec = getattr(getattr(exc, "task", None), "task_spec", None) or getattr(exc, "task_spec", None)
        element_id = getattr(spec, "bpmn_id", None)
        element_name = getattr(spec, "bpmn_name", None)
        message = _describe(exc)
        log.warning("incident on instance %s at %s: %s", instance.id, element_id, message)
        incident = Incident(
            instance_id=instance.id,
            element_id=element_id,
            element_name=element_name,
            message=message,
            pending_action=action,
            created_at=now,
        )
        session.add(incident)
        instance.status = "incident"
        instance.updated_at = now
        self._set_case_status(session, instance)
        audit.record(
            session,
            "incident",
            now,
            instance=instance,
            actor=actor,
            bpmn_id=element_id,
            data={"message": message, "action": action.get("action")},
        )
        try:
            session.flush()
        except StaleDataError:
            raise Conflict(
                f"instance {instance.id} was changed by someone else; reload and try again"
            ) from None
        return incident


@contextlib.contextmanager
def _conflict_guard(instance: ProcessInstance) -> Iterator[None]:
    """A stale lock_version (or SQLite's stale snapshot) while writing means another step won."""
    instance_id = instance.id  # read now: after a failed flush the session can load nothing
    try:
        yield
    except (StaleDataError, OperationalError) as exc:
        if isinstance(exc, OperationalError) and "locked" not in str(exc.orig):
            raise
        raise Conflict(f"instance {instance_id} was changed by someone else; reload and try again") from None


_INSTANCE_COLUMNS = (
    "process_version_id",
    "status",
    "state_json",
    "serializer_version",
    "updated_at",
    "ended_at",
    "status_before_suspend",
    "audit_seq",
    "audit_hash",
    "case_hash",
)
_INSTANCE_TABLE = ProcessInstance.__table__
_INSTANCE_UPDATE = (
    update(_INSTANCE_TABLE)
    .where(
        _INSTANCE_TABLE.c.id == bindparam("row_id"),
        _INSTANCE_TABLE.c.lock_version == bindparam("expected_version"),
    )
    .values({c: bindparam(c) for c in (*_INSTANCE_COLUMNS, "lock_version")})
)


def _write_instance(session: Session, instance: ProcessInstance) -> None:
    """Write a step's instance row with one constant UPDATE, checking lock_version ourselves.

    The ORM's versioned flush does the same check but costs more than the database
    takes to run it; afterwards the loaded object is marked clean with the new values.
    """
    state = inspect(instance)
    expected = state.attrs.lock_version.loaded_value
    values = {c: getattr(instance, c) for c in _INSTANCE_COLUMNS}
    params = {**values, "row_id": instance.id, "expected_version": expected, "lock_version": expected + 1}
    statement: Any = _INSTANCE_UPDATE
    queued = batch.take(session)
    if queued:  # PostgreSQL: the step's other writes ride along as CTEs, one round trip in all
        statement, params = batch.combined(_INSTANCE_UPDATE, queued, params)
    if session.connection().execute(statement, params).rowcount != 1:
        raise StaleDataError(f"instance {instance.id} changed since it was read")
    for column, value in (*values.items(), ("lock_version", expected + 1)):
        set_committed_value(instance, column, value)
    if not any(attr.history.has_changes() for attr in state.attrs):
        # Nothing of it is left unwritten: mark it clean, as the ORM does after a flush,
        # or every later flush in this transaction would sift through it for nothing.
        state._commit_all(state.dict, session.identity_map)


def _flush_or_conflict(session: Session, instance: ProcessInstance) -> None:
    with _conflict_guard(instance):
        session.flush()


def _describe(exc: BaseException) -> str:
    parts = [str(exc) or exc.__class__.__name__]
    inner = getattr(exc, "exception", None) or exc.__cause__
    if inner is not None and str(inner) not in parts[0]:
        parts.append(f"{inner.__class__.__name__}: {inner}")
    notes = getattr(exc, "__notes__", None)
    if notes:
        parts.extend(notes)
    return " | ".join(parts)[:2000]


COMPLETED_BY = "completed_by"


def _sign(task: Any, row: HumanTask, actor: User | None) -> None:
    """Record in the case data who completed this step (manual 8.5.2), for scripts and reports."""
    if actor is None:
        return
    signed = dict(task.data.get(COMPLETED_BY) or {})
    signed[row.bpmn_id] = {"username": actor.username, "agent_code": actor.agent_code}
    task.data[COMPLETED_BY] = signed


def _migration_blockers(top_diff: Any, sub_diffs: dict[Any, Any]) -> list[str]:
    done = TaskState.COMPLETED | TaskState.STARTED | TaskState.ERROR
    blockers: list[str] = []
    for diff in [top_diff, *sub_diffs.values()]:
        if diff is None:
            blockers.append("a called process it is running is missing from the new version")
            continue
        for task in diff.removed + diff.changed:
            if task.state & done and task.task_spec.bpmn_id:
                verb = "removed" if task in diff.removed else "changed"
                blockers.append(f"{task.task_spec.bpmn_id} already ran and was {verb}")
    return sorted(set(blockers))


__all__ = ["MutuError", "ProcessEngine", "StepResult"]
