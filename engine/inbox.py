"""Inbox and case queries: plain indexed SQL over the projection tables."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, func, literal_column, or_, select, union_all
from sqlalchemy.orm import Session, aliased

from .errors import NotFound
from .models import CaseRecord, HumanTask, Incident, ProcessInstance, User
from .policy import open_to, overseen

SCOPES = ("mine", "roles", "all", "oversee")
# Literal, not bound: the partial indexes of open tasks match only a predicate they can see.
OPEN = HumanTask.status == literal_column("'open'")
UNCLAIMED = and_(OPEN, HumanTask.assignee_id.is_(None))


def task_condition(user: User, scope: str = "mine") -> Any:
    """WHERE clause for open tasks: ``mine`` (claimed by me), ``roles`` (unclaimed, open to me), ``all``,
    or ``oversee`` (every task I may hand out: all for the QMR, my site's for a team leader)."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}")
    if scope == "oversee":
        return and_(OPEN, overseen(user))
    mine = HumanTask.assignee_id == user.id
    role_filter = open_to(user)
    if user.is_admin:
        role_filter.append(HumanTask.lane.is_not(None) | HumanTask.role_key.is_not(None))
    open_to_me = and_(HumanTask.assignee_id.is_(None), or_(*role_filter))
    condition = {"mine": mine, "roles": open_to_me, "all": or_(mine, open_to_me)}[scope]
    return and_(OPEN, condition)


def task_query(user: User, scope: str = "mine") -> Select[tuple[HumanTask]]:
    return select(HumanTask).where(task_condition(user, scope))


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
    """The number on an inbox tab; "my roles" is counted part by part, from indexes alone."""
    if scope == "roles" and not user.is_admin:
        return _count_parts(session, _unclaimed_branches(user, []))
    sub = task_query(user, scope).subquery()
    return session.execute(select(func.count()).select_from(sub)).scalar_one()


def _count_parts(session: Session, parts: list[Select[Any]]) -> int:
    counts = [select(func.count()).select_from(p.subquery()).scalar_subquery() for p in parts]
    return session.execute(select(sum(counts[1:], counts[0]))).scalar_one()


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


@dataclass
class TaskFilter:
    """What an inbox page asks for; every field is optional."""

    process_key: str | None = None
    site: str | None = None
    service: str | None = None
    due: str | None = None  # overdue, today, week, none
    text: str | None = None  # a case number, an agent code, or words of the summary or task name
    sort: str = "due"  # due, age, case, process
    role: str | None = None  # the role whose queue the task is in
    assignee: str | None = None  # a username, or "none" for unclaimed


@dataclass
class InboxRow:
    task: HumanTask
    number: str | None
    summary: str | None
    site: str | None
    service: str | None
    severity: str | None
    assignee: str | None


SORTS = ("due", "-due", "age", "-age", "case", "process")
DUES = ("overdue", "today", "week", "none")


def search_tasks(
    session: Session,
    user: User,
    scope: str,
    filters: TaskFilter,
    now: datetime,
    zone: ZoneInfo,
    *,
    page: int = 1,
    per_page: int = 25,
) -> tuple[list[InboxRow], int]:
    """One inbox page and the total count: indexed SQL over the task and case tables only.

    The page is found on the task table alone (joined to cases only when a filter or the
    sort needs them), then its 25 rows are read in full: a deferred join, so sorting a
    queue of 50,000 tasks moves ids and due dates, not whole rows.
    """
    where = [task_condition(user, scope)]
    needs_case = bool(filters.service or filters.text or filters.sort == "case")
    if filters.role:
        where.append(HumanTask.role_key == filters.role)
    if filters.assignee == "none":
        where.append(HumanTask.assignee_id.is_(None))
    elif filters.assignee:
        where.append(HumanTask.assignee_id.in_(select(User.id).where(User.username == filters.assignee)))
    if filters.process_key:
        where.append(HumanTask.process_key == filters.process_key)
    if filters.site:  # the task carries its case's site (the index of site-held queues reads it)
        where.append(HumanTask.site == filters.site)
    if filters.service:
        where.append(CaseRecord.service == filters.service)
    if filters.due:
        start_of_day = datetime.combine(now.astimezone(zone).date(), time.min, zone)
        due_filters = {
            "overdue": HumanTask.due_at < now,
            "today": (HumanTask.due_at >= now) & (HumanTask.due_at < start_of_day + timedelta(days=1)),
            "week": (HumanTask.due_at >= now) & (HumanTask.due_at < start_of_day + timedelta(days=7)),
            "none": HumanTask.due_at.is_(None),
        }
        if filters.due not in due_filters:
            raise ValueError(f"due must be one of {', '.join(due_filters)}")
        where.append(due_filters[filters.due])
    if filters.text:
        words = filters.text.strip()
        pattern = f"%{words.replace('%', '').replace('_', '')}%"
        where.append(
            or_(
                func.upper(CaseRecord.number) == words.upper(),
                CaseRecord.agent_code == words,
                CaseRecord.summary.ilike(pattern),
                HumanTask.name.ilike(pattern),
                CaseRecord.number.ilike(pattern),
            )
        )
    order = {
        "due": (HumanTask.due_at.asc().nulls_last(), HumanTask.id),
        "-due": (HumanTask.due_at.is_(None), HumanTask.due_at.desc(), HumanTask.id.desc()),
        "age": (HumanTask.created_at, HumanTask.id),
        "-age": (HumanTask.created_at.desc(), HumanTask.id.desc()),
        "case": (CaseRecord.number, HumanTask.id),
        "process": (HumanTask.process_key, HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.id),
    }
    if filters.sort not in order:
        raise ValueError(f"sort must be one of {', '.join(order)}")

    def scoped(query: Any) -> Any:
        if needs_case:
            query = query.join(CaseRecord, CaseRecord.instance_id == HumanTask.instance_id)
        return query.where(*where)

    page = max(page, 1)
    offset = (page - 1) * per_page
    ids: list[int] | None = None
    if scope == "roles" and not needs_case and not user.is_admin:
        parts = _unclaimed_branches(user, where[1:])
        total = _count_parts(session, parts)
        if filters.sort == "due":
            ids = _page_by_due(session, parts, per_page, offset)
    else:
        total = session.execute(scoped(select(func.count(HumanTask.id)).select_from(HumanTask))).scalar_one()
    if ids is None:
        ids = list(
            session.execute(
                scoped(select(HumanTask.id)).order_by(*order[filters.sort]).limit(per_page).offset(offset)
            ).scalars()
        )
    if not ids:
        return [], total
    assignee = aliased(User)
    rows = session.execute(
        select(
            HumanTask,
            CaseRecord.number,
            CaseRecord.summary,
            CaseRecord.site,
            CaseRecord.service,
            CaseRecord.severity,
            assignee.username,
        )
        .outerjoin(CaseRecord, CaseRecord.instance_id == HumanTask.instance_id)
        .outerjoin(assignee, assignee.id == HumanTask.assignee_id)
        .where(HumanTask.id.in_(ids))
    ).all()
    by_id = {r[0].id: InboxRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6]) for r in rows}
    return [by_id[i] for i in ids if i in by_id], total


def _unclaimed_branches(user: User, extra: list[Any]) -> list[Select[Any]]:
    """The "my roles" queue as one query per part: counting or paging each part touches one
    index range, where the combined OR would visit every queued row."""
    return [select(HumanTask.id, HumanTask.due_at).where(UNCLAIMED, part, *extra) for part in open_to(user)]


def _page_by_due(session: Session, parts: list[Select[Any]], limit: int, offset: int) -> list[int]:
    """A page by due date (no date last): each part stops after the page, then they merge."""
    key = (HumanTask.due_at.asc().nulls_last(), HumanTask.id)
    merged = union_all(
        *[p.order_by(*key).limit(limit + offset).subquery().select() for p in parts]
    ).subquery()
    page = (
        select(merged.c.id)
        .order_by(merged.c.due_at.asc().nulls_last(), merged.c.id)
        .limit(limit)
        .offset(offset)
    )
    return list(session.execute(page).scalars())


def next_task_in_case(session: Session, user: User, instance_id: int) -> HumanTask | None:
    """The task a user should see after completing one: theirs, or open to them, in the same case."""
    query = task_query(user, "all").where(HumanTask.instance_id == instance_id)
    return session.execute(
        query.order_by((HumanTask.assignee_id == user.id).desc(), HumanTask.id).limit(1)
    ).scalar_one_or_none()
