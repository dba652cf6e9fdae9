"""Writing a step: state, projections and incidents in one transaction, or nothing."""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from SpiffWorkflow import TaskState
from SpiffWorkflow.bpmn import BpmnWorkflow
from sqlalchemy import bindparam, inspect, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from .. import audit, batch, fastsql, notify, paths, records, service_jobs
from .. import clock as clock_mod
from ..errors import Conflict
from ..models import (
    Incident,
    ProcessInstance,
    User,
)
from ..projection import (
    NewTask,
    Pending,
    apply_snapshot,
    snapshot,
)
from ..prune import prune
from ..spiff import SERIALIZER_VERSION, dump_state
from .types import (
    _Step,
)

log = logging.getLogger(__name__)


class WriteMixin:
    def _write_step(self, session: Session, step: _Step) -> list[NewTask]:
        instance, snap, now = step.instance, step.snap, step.now
        had_incident = instance.status == "incident"
        # A case that had ended already (a sender whose message found nobody, retried) keeps
        # its end: its time and its one ``instance_completed`` event.
        ending = snap.completed and instance.ended_at is None
        instance.status = "completed" if snap.completed else "running"
        if ending:
            instance.ended_at = now
        if had_incident and self._resolve_incidents(session, instance, step.action, now):
            instance.status = "incident"
        ends = paths.ended_at(step.workflow) if ending else []  # before pruning drops them
        new_rows = self._store(session, step)
        service_jobs.queue_started(session, instance, step.workflow, now)
        notify.on_new_tasks(
            session, instance.id, new_rows, now, by_timer=step.action.get("action") == "timer"
        )
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
            records.on_completed(
                session,
                instance,
                self.glue_of(session, instance.process_version).meta,
                step.completed.bpmn_id,
                step.action.get("data", {}),
                step.snap.case_data,
                step.actor,
                now,
            )
            if step.action.get("signature"):
                audit.record(
                    session,
                    "signed",
                    now,
                    instance=instance,
                    actor=step.actor,
                    task_guid=step.completed.task_guid,
                    bpmn_id=step.completed.bpmn_id,
                    data=step.action["signature"],
                )
        if ending:
            audit.record(session, "instance_completed", now, instance=instance, data={"ends": ends})
        return new_rows

    def _store(self, session: Session, step: _Step) -> list[NewTask]:
        """Write the state and its projections; the caller flushes."""
        instance = step.instance
        prune(step.workflow)  # a long-lived case's finished history leaves the tree
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
        workflow: BpmnWorkflow | None = None,
    ) -> Incident:
        spec = getattr(getattr(exc, "task", None), "task_spec", None) or getattr(exc, "task_spec", None)
        if getattr(spec, "bpmn_id", None) is None and workflow is not None:
            # The error did not say where: the task SpiffWorkflow left in error names it.
            failed = workflow.get_tasks(state=TaskState.ERROR)
            named = [t for t in failed if getattr(t.task_spec, "bpmn_id", None)]
            spec = named[-1].task_spec if named else spec
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
_INSTANCE_WRITE = fastsql.Prepared(_INSTANCE_UPDATE)


def _write_instance(session: Session, instance: ProcessInstance) -> None:
    """Write a step's instance row with one constant UPDATE, checking lock_version ourselves.

    The ORM's versioned flush does the same check but costs more than the database
    takes to run it; afterwards the loaded object is marked clean with the new values.
    """
    state = inspect(instance)
    expected = state.attrs.lock_version.loaded_value
    values = {c: getattr(instance, c) for c in _INSTANCE_COLUMNS}
    params = {**values, "row_id": instance.id, "expected_version": expected, "lock_version": expected + 1}
    queued = batch.take(session)
    if queued:  # PostgreSQL: the step's other writes ride along as CTEs, one round trip in all
        statement, params, refs = batch.combined(_INSTANCE_UPDATE, queued, params)
        if refs:  # new inbox rows: their ids come back with the instance's row count
            count, returned = fastsql.execute_returning(session, statement, params)
            for ref, value in zip(refs, returned or (), strict=False):
                ref.value = value
        else:
            count = fastsql.execute(session, statement, params)
    else:
        count = fastsql.execute(session, _INSTANCE_WRITE, params)
    if count != 1:
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


_REPR = re.compile(r"<(?:[\w.]+\.)?(\w+) object at 0x[0-9a-fA-F]+>")


def _describe(exc: BaseException) -> str:
    """The error in words: its message, its cause, and no object's repr."""
    parts = [str(exc) or exc.__class__.__name__]
    inner = getattr(exc, "exception", None) or exc.__cause__
    if inner is not None and str(inner) not in parts[0]:
        parts.append(f"{inner.__class__.__name__}: {inner}")
    notes = getattr(exc, "__notes__", None)
    if notes:
        parts.extend(notes)
    return _REPR.sub(lambda m: m.group(1), " | ".join(parts))[:2000]


COMPLETED_BY = "completed_by"
