"""Everything about one agent code on one page (manual 8.5.2): identity, monitoring results and
their trend, the nonconformities that name the agent, acknowledgements, training and tasks.

Each part is one indexed query bounded by a limit, so the page costs the same with a long
history; cases are filtered by ``policy.visible_cases`` like every case list.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from . import policy
from .errors import NotAuthorized, NotFound
from .models import CaseRecord, HumanTask, ProcessInstance, User
from .models_records import MonitoringResult
from .models_registers import PreservationActivity, PreservationAttendance
from .models_signin import ConfidentialityAcceptance

ACKNOWLEDGE_TASKS = ("nc_acknowledge",)  # the agent's own confirmation of a finding
LIMIT = 50
TREND_MONTHS = 12


def find(session: Session, code: str) -> tuple[User | None, str | None]:
    """The account holding the code (if any) and the site the code works at."""
    agent = session.execute(select(User).where(User.agent_code == code)).scalar_one_or_none()
    if agent is not None:
        return agent, agent.site
    site = session.execute(
        select(MonitoringResult.site)
        .where(MonitoringResult.agent_code == code)
        .order_by(MonitoringResult.checked_at.desc())
        .limit(1)
    ).scalar()
    if site is None:
        site = session.execute(
            select(CaseRecord.site)
            .where(CaseRecord.agent_code == code)
            .order_by(CaseRecord.instance_id.desc())
            .limit(1)
        ).scalar()
    return None, site


def profile(session: Session, user: User, code: str, today: date) -> dict[str, Any]:
    code = code.strip()
    if not code.isdigit() or len(code) > 20:
        raise NotFound(f"no agent code {code!r}")
    agent, site = find(session, code)
    if agent is None and site is None:
        raise NotFound(f"no agent has the code {code}")
    if not policy.may_see_agent(user, code, site):
        raise NotAuthorized(f"{user.username} may not see agent {code}")
    return {
        "agent_code": code,
        "online_name": agent.online_name if agent else _last_name(session, code),
        "full_name": agent.full_name if agent else None,
        "site": site,
        "team": agent.team if agent else None,
        "has_account": agent is not None,
        "monitoring": _monitoring(session, code),
        "nonconformities": _cases(session, user, code),
        "acknowledgements": _acknowledgements(session, agent),
        "training": _training(session, code),
        "tasks": _tasks(session, agent),
    }


def _last_name(session: Session, code: str) -> str | None:
    return session.execute(
        select(MonitoringResult.online_name)
        .where(MonitoringResult.agent_code == code, MonitoringResult.online_name.is_not(None))
        .order_by(MonitoringResult.checked_at.desc())
        .limit(1)
    ).scalar()


def _monitoring(session: Session, code: str) -> dict[str, Any]:
    m = MonitoringResult
    passed = func.sum(case((m.passed.is_(True), 1), else_=0))
    by_method = [
        {
            "method": method,
            "checks": n,
            "passed": int(ok or 0),
            "percent": round(100 * int(ok or 0) / n, 1),
            "mean_score": None if mean is None else round(float(mean), 1),
        }
        for method, n, ok, mean in session.execute(
            select(m.method, func.count(), passed, func.avg(m.score))
            .where(m.agent_code == code)
            .group_by(m.method)
            .order_by(m.method)
        )
    ]
    recent = session.execute(
        select(
            m.period,
            m.method,
            m.score,
            m.passed,
            m.checked_by,
            m.checked_at,
            m.instance_id,
            CaseRecord.number,
        )
        .outerjoin(CaseRecord, CaseRecord.instance_id == m.instance_id)
        .where(m.agent_code == code)
        .order_by(m.checked_at.desc(), m.id.desc())
        .limit(LIMIT)
    ).all()
    trend: dict[str, dict[str, Any]] = {}
    for period, method, n, ok, mean in session.execute(
        select(m.period, m.method, func.count(), passed, func.avg(m.score))
        .where(m.agent_code == code, m.period.is_not(None))
        .group_by(m.period, m.method)
        .order_by(m.period.desc())
        .limit(TREND_MONTHS * 4)
    ):
        slot = trend.setdefault(period, {"period": period})
        slot[method] = {
            "checks": n,
            "percent": round(100 * int(ok or 0) / n, 1),
            "mean_score": None if mean is None else round(float(mean), 1),
        }
    return {
        "by_method": by_method,
        "trend": sorted(trend.values(), key=lambda t: t["period"])[-TREND_MONTHS:],
        "recent": [
            {
                "period": r.period,
                "method": r.method,
                "score": r.score,
                "passed": r.passed,
                "checked_by": r.checked_by,
                "checked_at": r.checked_at.isoformat(),
                "instance_id": r.instance_id,
                "number": r.number,
            }
            for r in recent
        ],
    }


def _cases(session: Session, user: User, code: str) -> dict[str, Any]:
    c = CaseRecord
    query = (
        select(c.instance_id, c.number, c.summary, c.severity, c.status, c.source, c.opened_at, c.closed_at)
        .join(ProcessInstance, ProcessInstance.id == c.instance_id)
        .where(c.agent_code == code, c.process_key == "nonconformity")
    )
    visible = policy.visible_cases(user)
    if visible is not True:
        query = query.where(visible)
    sub = query.subquery()
    counts = session.execute(
        select(func.count(), func.sum(case((sub.c.closed_at.is_(None), 1), else_=0)))
    ).one()
    rows = session.execute(query.order_by(c.instance_id.desc()).limit(LIMIT)).all()
    return {
        "total": counts[0],
        "open": int(counts[1] or 0),
        "rows": [
            {
                "instance_id": r.instance_id,
                "number": r.number,
                "summary": r.summary,
                "severity": r.severity,
                "status": r.status,
                "source": r.source,
                "opened_at": r.opened_at.isoformat() if r.opened_at else None,
                "closed_at": r.closed_at.isoformat() if r.closed_at else None,
            }
            for r in rows
        ],
    }


def _acknowledgements(session: Session, agent: User | None) -> dict[str, Any]:
    if agent is None:
        return {"statements": [], "findings": []}
    statements = session.execute(
        select(ConfidentialityAcceptance.text_version, ConfidentialityAcceptance.accepted_at)
        .where(ConfidentialityAcceptance.user_id == agent.id)
        .order_by(ConfidentialityAcceptance.accepted_at.desc())
    ).all()
    findings = session.execute(
        select(HumanTask.instance_id, HumanTask.completed_at, CaseRecord.number)
        .outerjoin(CaseRecord, CaseRecord.instance_id == HumanTask.instance_id)
        .where(HumanTask.completed_by_id == agent.id, HumanTask.bpmn_id.in_(ACKNOWLEDGE_TASKS))
        .order_by(HumanTask.completed_at.desc())
        .limit(LIMIT)
    ).all()
    return {
        "statements": [{"version": v, "accepted_at": at.isoformat()} for v, at in statements],
        "findings": [
            {"instance_id": i, "number": n, "at": at.isoformat() if at else None} for i, at, n in findings
        ],
    }


def _training(session: Session, code: str) -> list[dict[str, Any]]:
    a, t = PreservationActivity, PreservationAttendance
    rows = session.execute(
        select(a.id, a.kind, a.title, a.planned_on, a.held_on, t.attended)
        .join(t, t.activity_id == a.id)
        .where(t.agent_code == code)
        .order_by(a.planned_on.desc(), a.id.desc())
        .limit(LIMIT)
    ).all()
    return [
        {
            "id": r.id,
            "kind": r.kind,
            "title": r.title,
            "planned_on": r.planned_on.isoformat(),
            "held_on": r.held_on.isoformat() if r.held_on else None,
            "attended": r.attended,
        }
        for r in rows
    ]


def _tasks(session: Session, agent: User | None) -> dict[str, Any]:
    if agent is None:
        return {"total": 0, "rows": []}
    total = session.execute(
        select(func.count()).select_from(HumanTask).where(HumanTask.completed_by_id == agent.id)
    ).scalar_one()
    rows = session.execute(
        select(HumanTask.id, HumanTask.name, HumanTask.instance_id, HumanTask.completed_at, CaseRecord.number)
        .outerjoin(CaseRecord, CaseRecord.instance_id == HumanTask.instance_id)
        .where(HumanTask.completed_by_id == agent.id)
        .order_by(HumanTask.completed_at.desc())
        .limit(LIMIT)
    ).all()
    return {
        "total": total,
        "rows": [
            {
                "task_id": r.id,
                "name": r.name,
                "instance_id": r.instance_id,
                "number": r.number,
                "completed_at": r.completed_at.isoformat() if r.completed_at else None,
            }
            for r in rows
        ],
    }
