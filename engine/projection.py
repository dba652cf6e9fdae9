"""Keep the inbox, timer and case tables equal to the workflow, in the step's own transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from SpiffWorkflow import TaskState
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.task import Task as SpiffTask
from sqlalchemy import bindparam, insert, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from . import batch, fastsql, message_waits, policy
from .case_rows import write_case
from .deploy import FORM_PROPERTY
from .models import HumanTask, HumanTaskOwner, HumanTaskRole, ProcessInstance, Timer, User
from .moments import due_at, named_owners, properties, timer_fire_at, timer_of
from .registry import ProcessGlue

LANE_OWNERS = "lane_owners"


@dataclass
class ReadyTask:
    """What the inbox needs of one ready human task, computed while the workflow is in memory."""

    guid: str
    bpmn_id: str
    name: str
    process_key: str
    lane: str | None
    form_ref: str | None
    due_at: datetime | None
    owner_names: list[str]


@dataclass
class WaitingTimer:
    guid: str
    bpmn_id: str
    process_key: str
    fire_at: datetime


@dataclass
class Snapshot:
    """Everything a step writes besides the state JSON; built before any row is touched."""

    ready: list[ReadyTask]
    timers: list[WaitingTimer]
    case_data: dict[str, Any]
    completed: bool
    messages: list[message_waits.WaitingMessage] = field(default_factory=list)


def _walk(workflow: BpmnWorkflow) -> tuple[list[SpiffTask], list[WaitingTimer], list[SpiffTask]]:
    """One walk over the task tree: ready human tasks, waiting timers, every ready or waiting task."""
    ready: list[SpiffTask] = []
    timers: list[WaitingTimer] = []
    live: list[SpiffTask] = []
    # The task dicts in creation order, not SpiffWorkflow's tree iterator: same tasks, a
    # fraction of the cost, and creation order is the order the inbox rows were made in.
    wanted = TaskState.READY | TaskState.WAITING
    for task in (t for wf in (workflow, *workflow.subprocesses.values()) for t in wf.tasks.values()):
        if not task.state & wanted:
            continue
        live.append(task)
        spec = task.task_spec
        if task.state == TaskState.READY:
            if spec.manual:
                ready.append(task)
        elif (timer := timer_of(spec)) is not None:
            fire_at = timer_fire_at(task, timer)
            if fire_at is not None:
                timers.append(WaitingTimer(str(task.id), spec.bpmn_id, task.workflow.spec.name, fire_at))
    return ready, timers, live


def _ready_task(task: SpiffTask, now: datetime) -> ReadyTask:
    spec = task.task_spec
    owning = task.workflow.spec.name
    form = properties(task).get(FORM_PROPERTY)
    lane = getattr(spec, "lane", None)
    owners = named_owners(task)
    if owners is None:
        owners = (task.data.get(LANE_OWNERS) or {}).get(lane, []) if lane else []
    return ReadyTask(
        guid=str(task.id),
        bpmn_id=spec.bpmn_id,
        name=spec.bpmn_name or spec.bpmn_id,
        process_key=owning,
        lane=lane,
        form_ref=f"{owning}/{form}" if form else None,
        due_at=due_at(task, now),
        owner_names=[str(o) for o in owners] if isinstance(owners, list | tuple) else [str(owners)],
    )


def snapshot(workflow: BpmnWorkflow, now: datetime) -> Snapshot:
    """Read the workflow once for ready human tasks, waiting timers and case data."""
    ready, timers, live = _walk(workflow)
    case_data: dict[str, Any] = {}
    for task in live:
        case_data.update(task.data)
    if workflow.last_task is not None:
        case_data.update(workflow.last_task.data)
    return Snapshot(
        [_ready_task(t, now) for t in ready],
        timers,
        case_data,
        workflow.completed,
        message_waits.waiting(live) + message_waits.event_subprocess_starts(workflow),
    )


@dataclass(frozen=True)
class Pending:
    """Ready human tasks and waiting timers of a workflow: what its inbox and timer rows hold.

    Taken from the workflow as loaded, before a step, it tells the step which rows
    exist without reading them back (the rows always equal the loaded workflow).
    """

    ready: frozenset[str]
    timers: dict[str, datetime]
    messages: frozenset[str] = frozenset()


def pending(workflow: BpmnWorkflow) -> Pending:
    ready, timers, live = _walk(workflow)
    return Pending(
        frozenset(str(t.id) for t in ready),
        {t.guid: t.fire_at for t in timers},
        frozenset(
            w.guid for w in message_waits.waiting(live) + message_waits.event_subprocess_starts(workflow)
        ),
    )


@dataclass(frozen=True)
class NewTask:
    """An inbox row a step created (its id, for the caller to open the next task).

    On PostgreSQL the id is a ``batch.Ref`` until the step's one statement has run.
    """

    id: int
    task_guid: str
    bpmn_id: str
    name: str
    lane: str | None
    role_key: str | None
    rerouted: bool = False  # its named person has no account: the site's team leaders have it
    owned: bool = False  # it names the people it is for


# Constant statements, executed on the connection with parameters: the hot path of every
# step, where building ORM statements cost more than the database spent running them.
_TASKS = HumanTask.__table__
_TASK_INSERT = insert(_TASKS).returning(_TASKS.c.id, sort_by_parameter_order=True)
_ONE_TASK_INSERT = fastsql.Prepared(insert(_TASKS).returning(_TASKS.c.id))
_TASK_DONE = fastsql.Prepared(
    update(_TASKS)
    .where(_TASKS.c.id == bindparam("task_id"))
    .values(status="completed", completed_at=bindparam("at"), completed_by_id=bindparam("by"))
)


def _cancel_by_guid(table: Any, waiting: str, **values: Any) -> Any:
    """Cancel an instance's rows (inbox or timer) of the given task guids that still wait."""
    return (
        update(table)
        .where(
            table.c.instance_id == bindparam("of_instance"),
            table.c.task_guid.in_(bindparam("guids", expanding=True)),
            table.c.status == waiting,
        )
        .values(status="cancelled", **values)
    )


_TASKS_CANCEL = _cancel_by_guid(
    _TASKS, "open", completed_at=bindparam("at", type_=_TASKS.c.completed_at.type)
)
_TIMERS_CANCEL = _cancel_by_guid(Timer.__table__, "waiting")
_OWNER_INSERT = fastsql.Prepared.insert(HumanTaskOwner.__table__)
_ROLE_INSERT = fastsql.Prepared.insert(HumanTaskRole.__table__)
_TIMER_INSERT = fastsql.Prepared.insert(Timer.__table__)


def _expire_loaded(session: Session, model: type, instance_id: int, guids: set[str]) -> None:
    """Expire loaded rows of ``model`` for these task guids: a plain UPDATE just changed them,
    or (PostgreSQL) the step's statement will; nothing in the step reads them in between."""
    for obj in list(session.identity_map.values()):
        if isinstance(obj, model) and obj.instance_id == instance_id and obj.task_guid in guids:
            session.expire(obj)


def _owner_ids(session: Session, wanted: set[str]) -> dict[str, int]:
    """Resolve lane owners named by username or by agent code (manual 8.5.2) to user ids."""
    if not wanted:
        return {}
    rows = session.execute(
        select(User.username, User.agent_code, User.id).where(
            User.active.is_(True), or_(User.username.in_(wanted), User.agent_code.in_(wanted))
        )
    ).all()
    found: dict[str, int] = {}
    for username, agent_code, user_id in rows:
        found[username] = user_id
        if agent_code:
            found[agent_code] = user_id
    return found


def apply_snapshot(
    session: Session,
    instance: ProcessInstance,
    before: Pending,
    snap: Snapshot,
    glue: ProcessGlue,
    lane_roles: dict[str, str | list[str] | None],
    now: datetime,
    *,
    completed: HumanTask | None = None,
    completed_by: User | None = None,
) -> list[NewTask]:
    """Write only what changed in inbox, timer and case rows; return the new inbox rows."""
    conn = session.connection()
    ready_now = {r.guid: r for r in snap.ready}
    gone = set(before.ready - ready_now.keys())
    if completed is not None and completed.task_guid in gone:
        by = completed_by.id if completed_by else None
        done = {"task_id": completed.id, "at": now, "by": by}
        if not batch.defer(session, "task_done", done):
            fastsql.execute(session, _TASK_DONE, done)
        # The loaded row now says what the database says, without a reload or a second UPDATE.
        for key, value in (("status", "completed"), ("completed_at", now), ("completed_by_id", by)):
            set_committed_value(completed, key, value)
        gone.discard(completed.task_guid)
    if gone:  # interrupted (boundary event) or cancelled with the instance
        cancel = {"of_instance": instance.id, "guids": sorted(gone), "at": now}
        if not batch.defer(session, "tasks_cancel", cancel):
            conn.execute(_TASKS_CANCEL, cancel)
        _expire_loaded(session, HumanTask, instance.id, gone)
    fresh = [r for guid, r in ready_now.items() if guid not in before.ready]
    created: list[NewTask] = []
    if fresh:
        owner_ids = _owner_ids(session, {name for r in fresh for name in r.owner_names})
        site_key = glue.case_fields.get("site")
        site = snap.case_data.get(site_key) if site_key else None
        site = str(site)[:40] if site not in (None, "") else None
        rows = []
        extra_roles: list[list[str]] = []
        rerouted: list[bool] = []
        for ready in fresh:
            mapped = lane_roles.get(ready.lane) if ready.lane else None
            roles = mapped if isinstance(mapped, list) else ([mapped] if mapped else [])
            has_owner = any(n in owner_ids for n in ready.owner_names)
            roles, moved = policy.route_roles(roles, has_owner)
            rerouted.append(moved)
            role = roles[0] if roles else None
            extra_roles.append(roles[1:])
            rows.append(
                {
                    "instance_id": instance.id,
                    "task_guid": ready.guid,
                    "bpmn_id": ready.bpmn_id,
                    "name": ready.name,
                    "process_key": ready.process_key,
                    "lane": ready.lane,
                    "role_key": role,
                    "assignee_id": None if ready.lane else instance.started_by_id,
                    "form_ref": ready.form_ref,
                    "due_at": ready.due_at,
                    "status": "open",
                    "created_at": now,
                    "completed_by_id": None,
                    "completed_at": None,
                    "has_owners": has_owner,
                    "site": site,
                }
            )
        ids: list[Any]
        if batch.may_fold(session, len(rows)):  # PostgreSQL: in the step's statement; ids after it
            ids = [batch.defer_insert(session, "task_insert", row) for row in rows]
        elif len(rows) == 1:  # nearly every step: the driver's cursor, not SQLAlchemy's execution
            ids = [fastsql.execute_returning(session, _ONE_TASK_INSERT, rows[0])[1][0]]
        else:
            ids = conn.execute(_TASK_INSERT, rows).scalars().all()
        owners = [
            {"human_task_id": task_id, "user_id": owner_ids[n]}
            for task_id, ready in zip(ids, fresh, strict=True)
            for n in dict.fromkeys(ready.owner_names)
            if n in owner_ids
        ]
        more = [
            {"human_task_id": i, "role_key": r}
            for i, extra in zip(ids, extra_roles, strict=True)
            for r in extra
        ]
        for kind, prepared, extra_rows in (
            ("task_owner", _OWNER_INSERT, owners),
            ("task_role", _ROLE_INSERT, more),
        ):
            unqueued = [row for row in extra_rows if not batch.defer(session, kind, row)]
            if unqueued:  # not batching (SQLite), or a big step's rows past the queue's size
                fastsql.execute_many(session, prepared, unqueued)
        created = [
            NewTask(
                task_id,
                r["task_guid"],
                r["bpmn_id"],
                r["name"],
                r["lane"],
                r["role_key"],
                moved,
                r["has_owners"],
            )
            for task_id, r, moved in zip(ids, rows, rerouted, strict=True)
        ]
    _write_timers(session, instance, before, snap, now)
    if before.messages or snap.messages:
        message_waits.write(session, instance.id, before.messages, snap.messages, now)
    write_case(session, instance, snap.case_data, glue, now)
    return created


def _write_timers(
    session: Session, instance: ProcessInstance, before: Pending, snap: Snapshot, now: datetime
) -> None:
    timers_now = {t.guid: t for t in snap.timers}
    added = [
        {
            "instance_id": instance.id,
            "process_key": timer.process_key,
            "task_guid": guid,
            "bpmn_id": timer.bpmn_id,
            "kind": "instance",
            "fire_at": timer.fire_at,
            "status": "waiting",
            "cycles_left": None,
            "interval_seconds": None,
            "fired_at": None,
            "created_at": now,
        }
        for guid, timer in timers_now.items()
        if guid not in before.timers
    ]
    rest = [row for row in added if not batch.defer(session, "timer_insert", row)]
    if rest:
        fastsql.execute_many(session, _TIMER_INSERT, rest)
    for guid, timer in timers_now.items():
        if guid in before.timers and before.timers[guid] != timer.fire_at:  # a cycle moved on
            session.execute(
                update(Timer)
                .where(Timer.instance_id == instance.id, Timer.task_guid == guid, Timer.status == "waiting")
                .values(fire_at=timer.fire_at)
                .execution_options(synchronize_session="evaluate")
            )
    gone = set(before.timers) - timers_now.keys()
    if gone:  # the fired timer is already marked fired; the rest were cancelled with their task
        cancel = {"of_instance": instance.id, "guids": sorted(gone)}
        if not batch.defer(session, "timers_cancel", cancel):
            session.connection().execute(_TIMERS_CANCEL, cancel)
        _expire_loaded(session, Timer, instance.id, gone)
