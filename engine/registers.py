"""The five registers as pages of rows: filters, search, pages, the same rows for exports.

Each register reads its own table with one page query and one grouped count for the page's
rows, bound to the reader's site by ``policy.records_site``; nothing here deserializes a
workflow or reads more rows than the page shows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from . import policy
from .models import CaseRecord, User
from .models_registers import (
    Communication,
    MonitoringTool,
    PreservationActivity,
    PreservationAttendance,
    Requirement,
    RequirementVersion,
    Supplier,
    SupplierAction,
)

NAMES = ("suppliers", "requirements", "communications", "preservation", "tools")
PROBATION_BELOW = 70  # an approved supplier scoring under this is on probation
DUE_SOON_DAYS = 14  # a tool whose verification falls due within this many days shows "due soon"
CHANNELS = ("email", "phone", "meeting", "letter", "portal")
COMMUNICATION_KINDS = ("product_info", "agreement", "feedback", "complaint")
ACTIVITY_KINDS = ("socialisation", "refreshment", "sop_refresh", "training", "reward", "punishment")
TOOL_KINDS = ("recording", "tapping", "dialer", "other")

# The columns of each register, in the order pages and exports show them.
COLUMNS = {
    "suppliers": (
        "name", "state", "score", "evaluated_at", "valid_until", "deliveries", "open_actions"
    ),
    "requirements": ("code", "source", "service", "version", "text", "updated_at", "cases"),
    "communications": (
        "on_date", "client", "kind", "channel", "site", "service", "summary", "nc_number"
    ),
    "preservation": (
        "planned_on", "kind", "title", "site", "held_on", "state", "expected", "attended", "missed"
    ),
    "tools": ("name", "kind", "site", "interval_days", "verified_on", "due_on", "state"),
}  # fmt: skip
# The filters each register takes besides ``q`` (search) and the pages.
FILTERS = {
    "suppliers": ("state",),
    "requirements": ("source", "service"),
    "communications": ("client", "kind", "channel", "site", "from", "to"),
    "preservation": ("kind", "site", "state", "from", "to"),
    "tools": ("kind", "site", "state"),
}


@dataclass(frozen=True)
class Page:
    name: str
    rows: list[dict[str, Any]]
    total: int
    page: int
    per_page: int


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date | datetime) else value


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _site_bound(query: Any, column: Any, user: User, wanted: str | None) -> Any:
    bound = policy.records_site(user)
    if bound is not None:
        return query.where(column == bound)
    return query.where(column == wanted) if wanted else query


def _suppliers(session: Session, user: User, f: dict[str, str], today: date) -> tuple[Any, Any]:
    now = datetime.combine(today, datetime.min.time()).astimezone()
    query = select(Supplier)
    if f.get("q"):
        query = query.where(Supplier.name.ilike(_like(f["q"]), escape="\\"))
    state = f.get("state")
    if state == "not_approved":
        query = query.where(Supplier.approved.is_(False))
    elif state == "expired":
        query = query.where(Supplier.approved.is_(True), Supplier.valid_until < now)
    elif state in ("approved", "probation"):
        query = query.where(Supplier.approved.is_(True), Supplier.valid_until >= now)
        low = Supplier.score < PROBATION_BELOW
        query = query.where(low if state == "probation" else or_(~low, Supplier.score.is_(None)))
    return query, Supplier.name


def supplier_state(s: Supplier, today: date) -> str:
    if not s.approved:
        return "not_approved"
    if s.valid_until is None or s.valid_until.date() < today:
        return "expired"
    return "probation" if s.score is not None and s.score < PROBATION_BELOW else "approved"


def _supplier_rows(session: Session, items: list[Supplier], today: date) -> list[dict[str, Any]]:
    names = [s.name for s in items]
    open_counts = dict(
        session.execute(
            select(SupplierAction.supplier_name, func.count())
            .where(SupplierAction.supplier_name.in_(names), SupplierAction.status != "verified")
            .group_by(SupplierAction.supplier_name)
        ).all()
    )
    return [
        {
            "id": s.id,
            "name": s.name,
            "state": supplier_state(s, today),
            "score": s.score,
            "evaluated_at": _iso(s.evaluated_at),
            "valid_until": _iso(s.valid_until.date() if s.valid_until else None),
            "deliveries": s.deliveries,
            "open_actions": open_counts.get(s.name, 0),
        }
        for s in items
    ]


def _requirements(session: Session, user: User, f: dict[str, str], today: date) -> tuple[Any, Any]:
    query = select(Requirement)
    if f.get("q"):
        pattern = _like(f["q"])
        query = query.where(
            or_(Requirement.code.ilike(pattern, escape="\\"), Requirement.text.ilike(pattern, escape="\\"))
        )
    for key in ("source", "service"):
        if f.get(key):
            query = query.where(getattr(Requirement, key) == f[key])
    return query, Requirement.code


def _requirement_rows(session: Session, items: list[Requirement], today: date) -> list[dict[str, Any]]:
    ids = [r.id for r in items]
    cases = dict(
        session.execute(
            select(
                RequirementVersion.requirement_id, func.count(func.distinct(RequirementVersion.instance_id))
            )
            .where(RequirementVersion.requirement_id.in_(ids))
            .group_by(RequirementVersion.requirement_id)
        ).all()
    )
    return [
        {
            "id": r.id,
            "code": r.code,
            "source": r.source,
            "service": r.service,
            "version": r.version,
            "text": r.text,
            "updated_at": _iso(r.updated_at),
            "cases": cases.get(r.id, 0),
        }
        for r in items
    ]


def _communications(session: Session, user: User, f: dict[str, str], today: date) -> tuple[Any, Any]:
    query = _site_bound(select(Communication), Communication.site, user, f.get("site"))
    if f.get("q"):
        pattern = _like(f["q"])
        query = query.where(
            or_(
                Communication.client.ilike(pattern, escape="\\"),
                Communication.summary.ilike(pattern, escape="\\"),
            )
        )
    for key in ("client", "kind", "channel"):
        if f.get(key):
            query = query.where(getattr(Communication, key) == f[key])
    if _day(f.get("from")):
        query = query.where(Communication.on_date >= _day(f.get("from")))
    if _day(f.get("to")):
        query = query.where(Communication.on_date <= _day(f.get("to")))
    return query, (Communication.on_date.desc(), Communication.id.desc())


def _communication_rows(session: Session, items: list[Communication], today: date) -> list[dict[str, Any]]:
    ids = [c.nc_instance_id for c in items if c.nc_instance_id]
    numbers = dict(
        session.execute(
            select(CaseRecord.instance_id, CaseRecord.number).where(CaseRecord.instance_id.in_(ids))
        ).all()
    )
    return [
        {
            "id": c.id,
            "on_date": _iso(c.on_date),
            "client": c.client,
            "kind": c.kind,
            "channel": c.channel,
            "site": c.site,
            "service": c.service,
            "summary": c.summary,
            "nc_instance_id": c.nc_instance_id,
            "nc_number": numbers.get(c.nc_instance_id) if c.nc_instance_id else None,
        }
        for c in items
    ]


def activity_state(a: PreservationActivity, today: date) -> str:
    if a.held_on is not None:
        return "held"
    return "due" if a.planned_on <= today else "planned"


def _preservation(session: Session, user: User, f: dict[str, str], today: date) -> tuple[Any, Any]:
    query = _site_bound(select(PreservationActivity), PreservationActivity.site, user, f.get("site"))
    if f.get("q"):
        query = query.where(PreservationActivity.title.ilike(_like(f["q"]), escape="\\"))
    if f.get("kind"):
        query = query.where(PreservationActivity.kind == f["kind"])
    state = f.get("state")
    if state == "held":
        query = query.where(PreservationActivity.held_on.is_not(None))
    elif state in ("due", "planned"):
        query = query.where(PreservationActivity.held_on.is_(None))
        late = PreservationActivity.planned_on <= today
        query = query.where(late if state == "due" else ~late)
    if _day(f.get("from")):
        query = query.where(PreservationActivity.planned_on >= _day(f.get("from")))
    if _day(f.get("to")):
        query = query.where(PreservationActivity.planned_on <= _day(f.get("to")))
    return query, (PreservationActivity.planned_on.desc(), PreservationActivity.id.desc())


def _preservation_rows(
    session: Session, items: list[PreservationActivity], today: date
) -> list[dict[str, Any]]:
    att = PreservationAttendance
    counts = {
        row[0]: row[1:]
        for row in session.execute(
            select(
                att.activity_id,
                func.count(),
                func.sum(case((att.attended.is_(True), 1), else_=0)),
            )
            .where(att.activity_id.in_([a.id for a in items]))
            .group_by(att.activity_id)
        ).all()
    }
    rows = []
    for a in items:
        expected, attended = counts.get(a.id, (0, 0))
        attended = int(attended or 0)
        rows.append(
            {
                "id": a.id,
                "planned_on": _iso(a.planned_on),
                "kind": a.kind,
                "title": a.title,
                "site": a.site,
                "held_on": _iso(a.held_on),
                "state": activity_state(a, today),
                "expected": expected,
                "attended": attended,
                "missed": expected - attended if a.held_on is not None else 0,
                "instance_id": a.instance_id,
            }
        )
    return rows


def tool_state(t: MonitoringTool, today: date) -> str:
    if t.due_on < today:
        return "overdue"
    return "due_soon" if t.due_on <= today + timedelta(days=DUE_SOON_DAYS) else "ok"


def _tools(session: Session, user: User, f: dict[str, str], today: date) -> tuple[Any, Any]:
    query = _site_bound(select(MonitoringTool), MonitoringTool.site, user, f.get("site"))
    if f.get("q"):
        query = query.where(MonitoringTool.name.ilike(_like(f["q"]), escape="\\"))
    if f.get("kind"):
        query = query.where(MonitoringTool.kind == f["kind"])
    soon = today + timedelta(days=DUE_SOON_DAYS)
    state = f.get("state")
    if state == "overdue":
        query = query.where(MonitoringTool.due_on < today)
    elif state == "due_soon":
        query = query.where(MonitoringTool.due_on >= today, MonitoringTool.due_on <= soon)
    elif state == "ok":
        query = query.where(MonitoringTool.due_on > soon)
    return query, (MonitoringTool.due_on, MonitoringTool.name)


def _tool_rows(session: Session, items: list[MonitoringTool], today: date) -> list[dict[str, Any]]:
    return [
        {
            "id": t.id,
            "name": t.name,
            "kind": t.kind,
            "site": t.site,
            "interval_days": t.interval_days,
            "verified_on": _iso(t.verified_on),
            "due_on": _iso(t.due_on),
            "state": tool_state(t, today),
        }
        for t in items
    ]


_Query = Callable[[Session, User, dict[str, str], date], tuple[Any, Any]]
_Rows = Callable[[Session, list[Any], date], list[dict[str, Any]]]
_SPECS: dict[str, tuple[_Query, _Rows]] = {
    "suppliers": (_suppliers, _supplier_rows),
    "requirements": (_requirements, _requirement_rows),
    "communications": (_communications, _communication_rows),
    "preservation": (_preservation, _preservation_rows),
    "tools": (_tools, _tool_rows),
}


def clean_filters(name: str, given: dict[str, Any]) -> dict[str, str]:
    """Only the filters the register knows, as short strings."""
    allowed = ("q", *FILTERS.get(name, ()))
    return {k: str(given[k]).strip()[:200] for k in allowed if given.get(k) not in (None, "")}


def page(
    session: Session,
    user: User,
    name: str,
    filters: dict[str, Any],
    today: date,
    number: int = 1,
    per_page: int = 50,
) -> Page:
    """One page of a register the user may read, newest or most urgent first."""
    policy.check_may_read_register(user, name)
    build, rows_of = _SPECS[name]
    query, order = build(session, user, clean_filters(name, filters), today)
    total = session.execute(select(func.count()).select_from(query.order_by(None).subquery())).scalar_one()
    order = order if isinstance(order, tuple) else (order,)
    items = list(
        session.execute(query.order_by(*order).limit(per_page).offset((number - 1) * per_page)).scalars()
    )
    return Page(name, rows_of(session, items, today), total, number, per_page)


def all_rows(
    session: Session, user: User, name: str, filters: dict[str, Any], today: date, limit: int
) -> list[dict[str, Any]]:
    """Every row the filters select (up to ``limit``), for an export."""
    out: list[dict[str, Any]] = []
    number = 1
    while len(out) < limit:
        chunk = page(session, user, name, filters, today, number, min(1000, limit - len(out)))
        out.extend(chunk.rows)
        if len(chunk.rows) < chunk.per_page:
            break
        number += 1
    return out
