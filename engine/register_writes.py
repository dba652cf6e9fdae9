"""Adding and following up register rows. Each change is checked by ``policy``, validated by
its form and written with an event on the register's own audit chain, in the caller's
transaction."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit, forms, policy, records
from .errors import InvalidState, NotFound, ValidationFailed
from .models import User
from .models_registers import (
    Communication,
    MonitoringTool,
    PreservationActivity,
    PreservationAttendance,
    SupplierAction,
)
from .register_forms import FORMS, codes


def chain(name: str) -> str:
    return f"register:{name}"


def _valid(form: str, data: dict[str, Any]) -> dict[str, Any]:
    clean = forms.validate(FORMS[form], forms.allow_listed(FORMS[form], data))
    return {k: v for k, v in clean.items() if v not in (None, "")}


def _day(value: str) -> date:
    return date.fromisoformat(value)


def _note(session: Session, name: str, kind: str, user: User, now: datetime, data: dict[str, Any]) -> None:
    audit.record(session, kind, now, actor=user, data=data, chain=chain(name))


def log_communication(session: Session, user: User, data: dict[str, Any], now: datetime) -> Communication:
    values = _valid("communication", data)
    policy.check_may_keep_register(user, "communications", values.get("site"))
    row = Communication(
        client=values["client"].strip(),
        on_date=_day(values["on_date"]),
        channel=values["channel"],
        kind=values["kind"],
        summary=values["summary"].strip(),
        site=values.get("site"),
        service=values.get("service"),
        logged_by_id=user.id,
        logged_at=now,
    )
    session.add(row)
    session.flush()
    _note(session, "communications", "communication_logged", user, now, {"id": row.id, **values})
    return row


def raise_from_complaint(session: Session, runtime: Any, user: User, row_id: int, now: datetime) -> int:
    """Start a nonconformity from a logged complaint; each points at the other."""
    row = session.execute(
        select(Communication).where(Communication.id == row_id).with_for_update()
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(f"no communication {row_id}")
    policy.check_may_keep_register(user, "communications", row.site)
    if row.kind != "complaint":
        raise InvalidState("only a complaint raises a nonconformity")
    if row.nc_instance_id is not None:
        raise InvalidState(f"this complaint has raised case {row.nc_instance_id} already")
    if not row.site:
        raise ValidationFailed({"site": ["a complaint needs its site to raise a nonconformity"]})
    data = {
        "source": "customer_complaint",
        "service": row.service or "147",
        "site": row.site,
        "description": f"Keluhan {row.client} ({row.on_date.isoformat()}): {row.summary}"[:4000],
        "found_on": row.on_date.isoformat(),
    }
    result = runtime.start(session, "nonconformity", user, data, validate=True)
    instance_id = result.instance.id
    row.nc_instance_id = instance_id
    link = {"communication_id": row.id, "client": row.client, "on_date": row.on_date.isoformat()}
    audit.record(session, "raised_from_communication", now, instance=result.instance, actor=user, data=link)
    _note(session, "communications", "nonconformity_raised", user, now, {**link, "instance_id": instance_id})
    return instance_id


def plan_activity(session: Session, user: User, data: dict[str, Any], now: datetime) -> PreservationActivity:
    values = _valid("activity", data)
    policy.check_may_keep_register(user, "preservation", values.get("site"))
    expected = codes(values.get("agents")) or None
    activity = records.plan_activity(
        session,
        values["kind"],
        values["title"].strip(),
        values.get("site"),
        _day(values["planned_on"]),
        user,
        now,
        expected=expected,
    )
    _note(session, "preservation", "activity_planned", user, now, {"id": activity.id, **values})
    return activity


def record_attendance(
    session: Session, user: User, activity_id: int, data: dict[str, Any], now: datetime
) -> PreservationActivity:
    """Who came to an activity: the codes present; everyone else expected missed it."""
    activity = session.get(PreservationActivity, activity_id, with_for_update=True)
    if activity is None:
        raise NotFound(f"no preservation activity {activity_id}")
    values = _valid("attendance", data)
    policy.check_may_keep_register(user, "preservation", activity.site)
    present = set(codes(values.get("present")))
    activity.held_on = _day(values["held_on"])
    rows = {
        r.agent_code: r
        for r in session.execute(
            select(PreservationAttendance).where(PreservationAttendance.activity_id == activity_id)
        ).scalars()
    }
    for code, row in rows.items():
        row.attended = code in present
    for code in sorted(present - rows.keys()):  # came without being expected
        session.add(PreservationAttendance(activity_id=activity_id, agent_code=code, attended=True))
    missed = sorted(set(rows) - present)
    _note(
        session,
        "preservation",
        "attendance_recorded",
        user,
        now,
        {"id": activity_id, "held_on": values["held_on"], "present": sorted(present), "missed": missed},
    )
    return activity


def add_tool(session: Session, user: User, data: dict[str, Any], now: datetime) -> MonitoringTool:
    values = _valid("tool", data)
    policy.check_may_keep_register(user, "tools", values.get("site"))
    name = values["name"].strip()
    if session.execute(select(MonitoringTool.id).where(MonitoringTool.name == name)).first():
        raise ValidationFailed({"name": [f"a tool named {name!r} is in the register already"]})
    verified = _day(values["verified_on"]) if values.get("verified_on") else None
    tool = MonitoringTool(
        name=name,
        kind=values["kind"],
        site=values.get("site"),
        interval_days=values["interval_days"],
        verified_on=verified,
        due_on=(verified or now.date()) + timedelta(days=values["interval_days"] if verified else 0),
        history=[],
        updated_at=now,
    )
    session.add(tool)
    session.flush()
    _note(session, "tools", "tool_added", user, now, {"id": tool.id, **values})
    return tool


def verify_tool(
    session: Session, user: User, tool_id: int, data: dict[str, Any], now: datetime
) -> MonitoringTool:
    tool = session.get(MonitoringTool, tool_id, with_for_update=True)
    if tool is None:
        raise NotFound(f"no monitoring tool {tool_id}")
    values = _valid("verification", data)
    policy.check_may_keep_register(user, "tools", tool.site)
    verified = _day(values["verified_on"])
    if verified > now.date():
        raise ValidationFailed({"verified_on": ["a verification cannot be dated in the future"]})
    entry = {"verified_on": values["verified_on"], "note": values["note"], "by": user.username}
    tool.history = [*(tool.history or []), entry]
    tool.verified_on = max(verified, tool.verified_on or verified)
    tool.due_on = tool.verified_on + timedelta(days=tool.interval_days)
    tool.updated_at = now
    _note(session, "tools", "tool_verified", user, now, {"id": tool.id, **entry})
    return tool


def add_requirement(session: Session, user: User, data: dict[str, Any], now: datetime) -> Any:
    values = _valid("requirement", data)
    policy.check_may_keep_register(user, "requirements")
    requirement = records.record_version(
        session,
        values["code"].strip(),
        values["text"].strip(),
        values["source"],
        values.get("service"),
        user,
        now,
    )
    _note(
        session,
        "requirements",
        "requirement_version",
        user,
        now,
        {"code": requirement.code, "version": requirement.version, "source": values["source"]},
    )
    return requirement


def _action(session: Session, action_id: int) -> SupplierAction:
    action = session.get(SupplierAction, action_id, with_for_update=True)
    if action is None:
        raise NotFound(f"no supplier corrective action {action_id}")
    return action


def close_action(
    session: Session, user: User, action_id: int, data: dict[str, Any], now: datetime
) -> SupplierAction:
    """The supplier has answered: procurement closes the request, to be verified."""
    action = _action(session, action_id)
    policy.check_may_keep_register(user, "suppliers")
    if action.status != "open":
        raise InvalidState(f"request {action.number} is {action.status}, not open")
    values = _valid("action_close", data)
    action.status, action.closed_at, action.closed_note = "closed", now, values["note"]
    _note(
        session, "suppliers", "action_closed", user, now, {"id": action.id, "number": action.number, **values}
    )
    return action


def verify_action(
    session: Session, user: User, action_id: int, data: dict[str, Any], now: datetime
) -> SupplierAction:
    """Effective: verified and done; not effective: open again for the supplier."""
    action = _action(session, action_id)
    policy.check_may_verify_supplier_action(user)
    if action.status != "closed":
        raise InvalidState(f"request {action.number} is {action.status}; only a closed one is verified")
    values = _valid("action_verify", data)
    if values["effective"]:
        action.status, action.verified_at, action.verified_by_id = "verified", now, user.id
        action.verified_note = values["note"]
    else:
        action.status, action.closed_at = "open", None
        action.closed_note = (
            f"{action.closed_note or ''}\n[{now.date().isoformat()}] {values['note']}".strip()
        )
    _note(
        session,
        "suppliers",
        "action_verified",
        user,
        now,
        {"id": action.id, "number": action.number, **values},
    )
    return action
