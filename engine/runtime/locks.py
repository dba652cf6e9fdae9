"""The step's lock: one SELECT … FOR UPDATE of the instance (and the task), read on the driver.

Every step starts here, and the ORM's loading of the locked rows (the instance with its
version's keys, and the task) cost more processor time than PostgreSQL took to lock them;
``fastload`` turns the driver's row into the session's objects as the ORM's loader would.
Where the session already holds one of them (a second step in one transaction, a retry after
a conflict), that object is refreshed from the row, as the ORM's ``populate_existing`` would.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from .. import fastload, fastsql
from ..models import HumanTask, ProcessInstance, ProcessVersion

_INSTANCES = ProcessInstance.__table__
_TASKS = HumanTask.__table__
_VERSIONS = ProcessVersion.__table__
# Of the version, only what keys the engine's caches of specs, glue and forms (versions never
# change); the rest of its row, JSON among it, loads if something reads it.
_VERSION_COLUMNS = [_VERSIONS.c.id, _VERSIONS.c.process_key, _VERSIONS.c.version, _VERSIONS.c.content_hash]
_WITH_VERSION = _INSTANCES.join(_VERSIONS, _VERSIONS.c.id == _INSTANCES.c.process_version_id)

_INSTANCE_ROW = fastsql.Prepared(
    select(*_INSTANCES.c, *_VERSION_COLUMNS)
    .select_from(_WITH_VERSION)
    .where(_INSTANCES.c.id == bindparam("instance_id"))
    .with_for_update(of=_INSTANCES)
)
_TASK_ROW = fastsql.Prepared(
    select(*_INSTANCES.c, *_VERSION_COLUMNS, *_TASKS.c)
    .select_from(_WITH_VERSION.join(_TASKS, _TASKS.c.instance_id == _INSTANCES.c.id))
    .where(_TASKS.c.id == bindparam("task_id"))
    .with_for_update(of=(_INSTANCES, _TASKS))
)
_INSTANCE, _VERSION, _TASK = fastload.entities(
    (ProcessInstance, list(_INSTANCES.c)), (ProcessVersion, _VERSION_COLUMNS), (HumanTask, list(_TASKS.c))
)


def _instance(session: Session, row: tuple[Any, ...]) -> ProcessInstance:
    # Versions never change: a held one needs no refresh. A built one is added here, not
    # through the instance's cascade: a held instance is refreshed with set_committed_value,
    # which cascades nothing, and a version outside the session could not load the columns
    # the lock did not read.
    version = _VERSION.held_or_added(session, row)
    return _INSTANCE.load(session, row, process_version=version)


def lock_instance(session: Session, instance_id: int) -> ProcessInstance | None:
    """The instance, locked for this transaction (None: there is none)."""
    row = fastsql.fetch_first(session, _INSTANCE_ROW, {"instance_id": instance_id})
    return None if row is None else _instance(session, row)


def lock_task(session: Session, task_id: int) -> tuple[ProcessInstance, HumanTask] | None:
    """The task and its instance, both locked for this transaction (None: no such task)."""
    row = fastsql.fetch_first(session, _TASK_ROW, {"task_id": task_id})
    return None if row is None else (_instance(session, row), _TASK.load(session, row))
