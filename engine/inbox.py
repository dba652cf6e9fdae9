"""Inbox and case queries: plain indexed SQL over the projection tables."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, exists, func, or_, select
from sqlalchemy.orm import Session

from .errors import NotAuthorized, NotFound
from .models import CaseRecord, HumanTask, HumanTaskOwner, HumanTaskRole, Incident, ProcessInstance, User
from .runtime import may_act

SCOPES = ("mine", "roles", "all")


def _owned_by(user: User) -> Any:
    return exists().where(HumanTaskOwner.human_task_id == HumanTask.id, HumanTaskOwner.user_id == user.id)


def task_query(user: User, scope: str = "mine") -> Select[tuple[HumanTask]]:
    """Open tasks: ``mine`` (claimed by me), ``roles`` (unclaimed, open to me), ``all`` (both)."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}")
    mine = HumanTask.assignee_id == user.id
    roles = sorted(user.role_keys)
    in_my_roles = HumanTask.role_key.in_(roles) | exists().where(
        HumanTaskRole.human_task_id == HumanTask.id, HumanTaskRole.role_key.in_(roles)
    )
    role_filter = [in_my_roles & HumanTask.has_owners.is_(False), _owned_by(user)]
    if user.is_admin:
        role_filter.append(and_(HumanTask.role_key.is_(None), HumanTask.lane.is_not(None)))
        role_filter.append(HumanTask.role_key.is_not(None))
    open_to_me = and_(HumanTask.assignee_id.is_(None), or_(*role_filter))
    condition = {"mine": mine, "roles": open_to_me, "all": or_(mine, open_to_me)}[scope]
    return select(HumanTask).where(HumanTask.status == "open", condition)


def list_tasks(
    session: Session,
    user: User,
    scope: str = "mine",
    *,
    instance_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[HumanTask]:
    query = task_query(user, scope)
    if instance_id is not None:
        query = query.where(HumanTask.instance_id == instance_id)
    query = query.order_by(HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.id)
    return list(session.execute(query.limit(limit).offset(offset)).scalars())


def count_tasks(session: Session, user: User, scope: str) -> int:
    sub = task_query(user, scope).subquery()
    return session.execute(select(func.count()).select_from(sub)).scalar_one()


def get_task_for(session: Session, task_id: int, user: User) -> HumanTask:
    """A task the user may see: theirs, open to them, or any task for an admin."""
    row = session.get(HumanTask, task_id)
    if row is None:
        raise NotFound(f"no task {task_id}")
    if row.assignee_id == user.id or row.completed_by_id == user.id or may_act(row, user):
        return row
    raise NotAuthorized(f"{user.username} may not see task {task_id}")


@dataclass
class InstanceView:
    instance: ProcessInstance
    case: CaseRecord | None
    open_tasks: list[HumanTask]
    incidents: list[Incident]

    def as_dict(self) -> dict[str, Any]:
        inst = self.instance
        return {
            "id": inst.id,
            "process_key": inst.process_key,
            "version": inst.process_version.version,
            "status": inst.status,
            "started_at": inst.started_at.isoformat(),
            "ended_at": inst.ended_at.isoformat() if inst.ended_at else None,
            "case": None
            if self.case is None
            else {
                "number": self.case.number,
                "summary": self.case.summary,
                "site": self.case.site,
                "service": self.case.service,
                "severity": self.case.severity,
                "agent_code": self.case.agent_code,
                "status": self.case.status,
                "fields": self.case.fields,
            },
            "open_tasks": [task_dict(t) for t in self.open_tasks],
            "incidents": [
                {
                    "id": i.id,
                    "element_id": i.element_id,
                    "message": i.message,
                    "created_at": i.created_at.isoformat(),
                    "resolved_at": i.resolved_at.isoformat() if i.resolved_at else None,
                }
                for i in self.incidents
            ],
        }


def instance_view(session: Session, instance_id: int) -> InstanceView:
    inst = session.get(ProcessInstance, instance_id)
    if inst is None:
        raise NotFound(f"no instance {instance_id}")
    tasks = session.execute(
        select(HumanTask)
        .where(HumanTask.instance_id == inst.id, HumanTask.status == "open")
        .order_by(HumanTask.id)
    ).scalars()
    incidents = session.execute(
        select(Incident).where(Incident.instance_id == inst.id).order_by(Incident.id)
    ).scalars()
    return InstanceView(inst, session.get(CaseRecord, inst.id), list(tasks), list(incidents))


def task_dict(t: HumanTask) -> dict[str, Any]:
    return {
        "id": t.id,
        "instance_id": t.instance_id,
        "task_guid": t.task_guid,
        "bpmn_id": t.bpmn_id,
        "name": t.name,
        "process_key": t.process_key,
        "lane": t.lane,
        "role": t.role_key,
        "assignee_id": t.assignee_id,
        "form": t.form_ref,
        "due_at": t.due_at.isoformat() if t.due_at else None,
        "status": t.status,
        "created_at": t.created_at.isoformat(),
    }
