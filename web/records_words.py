"""Words, tables and charts of the record pages, in the reader's language."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask_babel import gettext as _
from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import policy, registers
from engine.models import CaseRecord, User
from engine.models_registers import (
    MonitoringTool,
    PreservationActivity,
    PreservationAttendance,
    Requirement,
    RequirementVersion,
    Supplier,
    SupplierAction,
    SupplierScore,
)
from engine.register_forms import ACTIVITY_WORDS, CHANNEL_WORDS, COMMUNICATION_WORDS, SOURCE_WORDS, TOOL_WORDS

from .core import lang


def _pair(pair: tuple[str, str]) -> str:
    return pair[1] if lang() == "en" else pair[0]


def words() -> dict[str, str]:
    w = {
        "suppliers": _("Approved suppliers"),
        "requirements": _("Requirements"),
        "communications": _("Client communications"),
        "preservation": _("Preservation activities"),
        "tools": _("Monitoring tools"),
        "approved": _("approved"),
        "probation": _("on probation"),
        "expired": _("evaluation expired"),
        "not_approved": _("not approved"),
        "planned": _("planned"),
        "due": _("due, not held yet"),
        "held": _("held"),
        "ok": _("verified"),
        "due_soon": _("verification due soon"),
        "overdue": _("verification overdue"),
        "open": _("open"),
        "closed": _("closed, to verify"),
        "verified": _("verified"),
        "tapping": "Tapping",
        "mystery_shopping": "Mystery shopping",
        "propper_test": "Propper test",
        "individual": _("Individual evaluation"),
        "evaluation": _("evaluation"),
        "delivery": _("delivery"),
    }
    for table in (CHANNEL_WORDS, COMMUNICATION_WORDS, ACTIVITY_WORDS, TOOL_WORDS, SOURCE_WORDS):
        w.update({k: _pair(v) for k, v in table.items()})
    return w


def register_title(name: str) -> str:
    return words().get(name, name)


def column(name: str) -> str:
    return columns((name,))[name]


def columns(names: tuple[str, ...] | list[str]) -> dict[str, str]:
    """Column headings, worded once a page (each word is a gettext call)."""
    words = {
        "name": _("Name"),
        "state": _("State"),
        "score": _("Score"),
        "evaluated_at": _("Evaluated"),
        "valid_until": _("Valid until"),
        "deliveries": _("Deliveries"),
        "open_actions": _("Open corrective actions"),
        "code": _("Code"),
        "source": _("Source"),
        "service": _("Service"),
        "version": _("Version"),
        "text": _("Requirement"),
        "updated_at": _("Updated"),
        "cases": _("Change cases"),
        "on_date": _("Date"),
        "client": _("Client"),
        "kind": _("Kind"),
        "channel": _("Channel"),
        "site": _("Site"),
        "summary": _("Summary"),
        "nc_number": _("Nonconformity"),
        "planned_on": _("Planned for"),
        "title": _("Title"),
        "held_on": _("Held on"),
        "expected": _("Expected"),
        "attended": _("Attended"),
        "missed": _("Missed"),
        "interval_days": _("Every (days)"),
        "verified_on": _("Last verified"),
        "due_on": _("Verification due"),
    }
    return {n: words.get(n, n) for n in names}


def filter_choices(name: str) -> dict[str, list[tuple[str, str]]]:
    w = words()
    states = {
        "suppliers": ("approved", "probation", "expired", "not_approved"),
        "preservation": ("planned", "due", "held"),
        "tools": ("ok", "due_soon", "overdue"),
    }
    out: dict[str, list[tuple[str, str]]] = {}
    if name in states:
        out["state"] = [(s, w[s]) for s in states[name]]
    kinds = {"communications": COMMUNICATION_WORDS, "preservation": ACTIVITY_WORDS, "tools": TOOL_WORDS}
    if name in kinds:
        out["kind"] = [(k, w[k]) for k in kinds[name]]
    if name == "communications":
        out["channel"] = [(k, w[k]) for k in CHANNEL_WORDS]
    if name == "requirements":
        out["source"] = [(k, w[k]) for k in SOURCE_WORDS]
    if "site" in registers.FILTERS[name]:
        out["site"] = [(s, s) for s in policy.SITES]
    return out


def row_context(session: Session, user: User, name: str, row_id: int, today: date) -> dict[str, Any] | None:
    keeps = user.active and bool(policy.REGISTER_KEEPERS[name] & user.role_keys)
    if name == "suppliers":
        supplier = session.get(Supplier, row_id)
        if supplier is None:
            return None
        scores = session.execute(
            select(SupplierScore, CaseRecord.number)
            .outerjoin(CaseRecord, CaseRecord.instance_id == SupplierScore.instance_id)
            .where(SupplierScore.supplier_id == row_id)
            .order_by(SupplierScore.at.desc(), SupplierScore.id.desc())
        ).all()
        actions = session.execute(
            select(SupplierAction)
            .where(SupplierAction.supplier_name == supplier.name)
            .order_by(SupplierAction.id.desc())
        ).scalars()
        return {
            "title": supplier.name,
            "supplier": supplier,
            "state": registers.supplier_state(supplier, today),
            "scores": scores,
            "actions": list(actions),
            "may_keep": keeps,
            "may_verify": user.active and bool(policy.SUPPLIER_VERIFIERS & user.role_keys),
        }
    if name == "requirements":
        requirement = session.get(Requirement, row_id)
        if requirement is None:
            return None
        versions = session.execute(
            select(RequirementVersion, CaseRecord.number)
            .outerjoin(CaseRecord, CaseRecord.instance_id == RequirementVersion.instance_id)
            .where(RequirementVersion.requirement_id == row_id)
            .order_by(RequirementVersion.version.desc())
        ).all()
        return {
            "title": requirement.code,
            "requirement": requirement,
            "versions": versions,
            "may_keep": False,
        }
    bound = policy.records_site(user)
    if name == "preservation":
        activity = session.get(PreservationActivity, row_id)
        if activity is None or (bound is not None and activity.site != bound):
            return None
        people = session.execute(
            select(PreservationAttendance)
            .where(PreservationAttendance.activity_id == row_id)
            .order_by(PreservationAttendance.agent_code)
        ).scalars()
        return {
            "title": activity.title,
            "activity": activity,
            "state": registers.activity_state(activity, today),
            "attendance": list(people),
            "may_keep": keeps and (bound is None or activity.site == bound),
        }
    if name == "tools":
        tool = session.get(MonitoringTool, row_id)
        if tool is None or (bound is not None and tool.site != bound):
            return None
        return {
            "title": tool.name,
            "tool": tool,
            "state": registers.tool_state(tool, today),
            "may_keep": keeps,
        }
    return None


def report_table(
    table: str, nc: dict[str, Any], mon: dict[str, Any]
) -> tuple[list[str], list[str], list[dict[str, Any]]]:
    """The numbers behind one chart, for its CSV."""
    if table == "age":
        return ["bucket", "count"], [_("Age (days)"), _("Still open")], nc["open_by_age"]
    if table in ("severity", "source", "site", "service"):
        return (
            ["key", "opened", "closed", "open"],
            [column(table), _("Opened"), _("Closed"), _("Still open")],
            nc["by"][table],
        )
    if table in ("by_method", "by_month", "by_site", "by_team", "lowest_agents"):
        rows = [{"key": " / ".join(r["key"]), **r} for r in mon[table]]
        return ["key", "checks", "passed", "percent"], [_("Group"), _("Checks"), _("Passed"), "%"], rows
    return ["key"], [_("Group")], []


def _bars(title: str, table: str, rows: list[tuple[str, float, str]], unit: str = "") -> dict[str, Any]:
    """A horizontal bar chart as SVG drawn here, with its rows for the table beside it."""
    height = 22 * max(len(rows), 1) + 10
    top = max([v for _k, v, _l in rows] or [1]) or 1
    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 480 {height}" width="480">'
    ]
    for i, (key, value, label) in enumerate(rows):
        y = 6 + i * 22
        width = 0 if not value else max(2, 200 * value / top)
        parts.append(f'<text x="0" y="{y + 13}" font-size="11">{escape(key)[:22]}</text>')
        parts.append(f'<rect x="140" y="{y}" width="{width:.1f}" height="16" rx="2" class="bar"></rect>')
        parts.append(f'<text x="{145 + width:.1f}" y="{y + 13}" font-size="11">{escape(label)}{unit}</text>')
    parts.append("</svg>")
    return {"title": title, "table": table, "svg": Markup("".join(parts)), "rows": rows}


def charts(nc: dict[str, Any], mon: dict[str, Any]) -> list[dict[str, Any]]:
    w = words()
    out = [
        _bars(
            _("Open nonconformities by age (days)"),
            "age",
            [(b["bucket"], b["count"], str(b["count"])) for b in nc["open_by_age"]],
        ),
    ]
    names = {
        "severity": _("Opened by severity"),
        "source": _("Opened by source"),
        "site": _("Opened by site"),
        "service": _("Opened by service"),
    }
    for dim, title in names.items():
        rows = [
            (w.get(r["key"], r["key"]), r["opened"], f"{r['opened']} ({r['open']} {w['open']})")
            for r in nc["by"][dim]
        ]
        out.append(_bars(title, dim, rows))
    rates = [
        (w.get(r["key"][0], r["key"][0]), r["percent"] or 0, str(r["percent"])) for r in mon["by_method"]
    ]
    out.append(_bars(_("Monitoring pass rate by method"), "by_method", rates, " %"))
    months = [
        (f"{r['key'][0]} {w.get(r['key'][1], r['key'][1])}", r["percent"] or 0, str(r["percent"]))
        for r in mon["by_month"]
    ]
    out.append(_bars(_("Pass rate by month and method"), "by_month", months, " %"))
    sites = [
        (f"{r['key'][0]} {w.get(r['key'][1], r['key'][1])}", r["percent"] or 0, str(r["percent"]))
        for r in mon["by_site"]
    ]
    out.append(_bars(_("Pass rate by site and method"), "by_site", sites, " %"))
    teams = [
        (f"{r['key'][0]} {w.get(r['key'][1], r['key'][1])}", r["percent"] or 0, str(r["percent"]))
        for r in mon["by_team"]
    ]
    out.append(_bars(_("Pass rate by team and method"), "by_team", teams, " %"))
    return out
