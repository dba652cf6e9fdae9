"""Working a case: complete, claim, unclaim, assign, cancel, suspend, resume, retry, migrate."""

from __future__ import annotations

import logging
from typing import Any

from SpiffWorkflow import TaskState
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.util.diff import diff_workflow, migrate_workflow
from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import audit, notify, people_fields, policy, signatures
from .. import clock as clock_mod
from ..errors import Conflict, InvalidState, NotFound
from ..forms import allow_listed
from ..forms import validate as validate_form
from ..models import (
    HumanTask,
    ProcessInstance,
    ProcessVersion,
    User,
)
from ..projection import (
    pending,
)
from ..signatures import Confirmation
from ..spiff import FULL_SERIALIZER
from .types import (
    StepResult,
)

log = logging.getLogger(__name__)


class TaskMixin:
    def complete(
        self,
        session: Session,
        task_id: int,
        actor: User,
        data: dict[str, Any] | None = None,
        *,
        claim_next: bool = False,
        signature: Confirmation | None = None,
    ) -> StepResult:
        """Complete a human task with form data, validated against its form first.

        ``claim_next``: the first task this step opens that is meant for the actor (by role or
        name, not by an admin's office) is claimed for them, as the person at the screen goes on.
        ``signature``: the password confirmation a step the glue marks as signed needs.
        """
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
        if schema and people_fields.person_fields(schema):
            people_fields.check(session, schema, data, row.site)
        meta = self.glue_of(session, instance.process_version).meta
        signed = signatures.sign(
            signatures.meaning_of(meta, row.bpmn_id), actor, signature, data, self.clock.now()
        )
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
        if signed is not None:
            action["signature"] = signed  # an incident's retry writes it when the step succeeds
        result = self._advance(session, instance, actor, workflow, action, apply, completed=row)
        if claim_next and result.incident is None:
            for new in result.new_tasks or []:
                fresh = session.get(HumanTask, new.id)
                if fresh is not None and fresh.assignee_id is None and policy.is_for(fresh, actor):
                    self.claim(session, fresh.id, actor)
                    break
        return result

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
        if assignee.id != actor.id:
            notify.record(
                session,
                "assigned",
                self.clock.now(),
                task_id=row.id,
                instance_id=instance.id,
                user_id=assignee.id,
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
        elif action["action"] == "service":
            apply = self._service_retry(session, instance, workflow, action)
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
        result = self._advance(
            session, instance, completer or actor, workflow, action, apply, completed=completed
        )
        if action["action"] == "service":
            self._service_retried(session, action, result.incident is None)
        elif action["action"] == "deliver" and result.incident is None:
            self._redeliver(session, action)
        return result

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


COMPLETED_BY = "completed_by"


def _sign(task: Any, row: HumanTask, actor: User | None) -> None:
    """Record in the case data who completed this step (manual 8.5.2), for scripts and reports."""
    if actor is None:
        return
    signed = dict(task.data.get(COMPLETED_BY) or {})
    signed[row.bpmn_id] = {
        "username": actor.username,
        "agent_code": actor.agent_code,
        "online_name": actor.online_name,
    }
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
