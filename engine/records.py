"""Records a completed step leaves beyond the workflow: monitoring results, supplier corrective
action requests, requirement versions and preservation sessions.

A process's glue names them (``records``: task id -> what its submission records), so the
registers and reports read tables and never deserialize a workflow. They are written in the
step's own transaction: a step that fails leaves none of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import ProcessInstance, User
from .models_records import MonitoringMonth, MonitoringResult
from .models_registers import (
    PreservationActivity,
    PreservationAttendance,
    Requirement,
    RequirementVersion,
    SupplierAction,
)

KINDS = ("monitoring", "supplier_action", "requirement", "preservation")
METHODS = ("tapping", "mystery_shopping", "propper_test", "individual")
SOURCES = ("customer_pks", "internal", "statutory", "additional")
BELOW = "di_bawah"  # the individual evaluation's rating that counts as not passed


def agents_by_code(session: Session, codes: set[str]) -> dict[str, User]:
    if not codes:
        return {}
    users = session.execute(select(User).where(User.agent_code.in_(sorted(codes)))).scalars()
    return {u.agent_code: u for u in users if u.agent_code}


def on_completed(
    session: Session,
    instance: ProcessInstance,
    meta: dict[str, Any],
    bpmn_id: str,
    submitted: dict[str, Any],
    data: dict[str, Any],
    actor: User | None,
    now: datetime,
) -> None:
    """Write what the glue says this task's submission records (nothing for most tasks)."""
    spec = (meta.get("records") or {}).get(bpmn_id)
    if not isinstance(spec, dict):
        return
    writer = _WRITERS.get(spec.get("kind"))
    if writer is not None:
        writer(_Done(session, instance, spec, submitted, data, actor, now))


@dataclass(frozen=True)
class _Done:
    """A completed task: its submission, the case's data and who, for the record writers."""

    session: Session
    instance: ProcessInstance
    spec: dict[str, Any]
    submitted: dict[str, Any]
    data: dict[str, Any]
    actor: User | None
    now: datetime


def _score(row: dict[str, Any], parts: list[str]) -> int | None:
    values = [row.get(p) for p in parts]
    numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    return int(min(numbers)) if numbers and len(numbers) == len(values) else None


def _monitoring(done: _Done) -> None:
    session, instance, spec = done.session, done.instance, done.spec
    submitted, data, actor, now = done.submitted, done.data, done.actor, done.now
    rows = [r for r in submitted.get(spec.get("rows", ""), []) or [] if isinstance(r, dict)]
    agents = agents_by_code(session, {str(r.get("agent_code")) for r in rows if r.get("agent_code")})
    pass_mark = data.get("pass_mark")
    parts = list(spec.get("score") or [])
    months: dict[tuple[str, ...], list[Any]] = {}
    for row in rows:
        code = str(row.get("agent_code") or "")
        if not code:
            continue
        score = _score(row, parts) if parts else None
        if parts:
            passed = score is not None and isinstance(pass_mark, int) and score >= pass_mark
        else:
            passed = row.get(spec.get("rating", "rating")) != BELOW
        detail = {k: v for k, v in row.items() if k not in ("agent_code", "evidence")}
        agent = agents.get(code)
        session.add(
            MonitoringResult(
                instance_id=instance.id,
                period=str(data.get("period"))[:7] if data.get("period") else None,
                site=data.get("site"),
                service=data.get("service"),
                method=str(spec.get("method") or "other")[:20],
                agent_code=code[:20],
                online_name=agent.online_name if agent else None,
                team=agent.team if agent else None,
                score=score,
                passed=passed,
                detail={**detail, "evidence": list(row.get("evidence") or [])},
                checked_by_id=actor.id if actor else None,
                checked_by=actor.username if actor else None,
                checked_at=now,
            )
        )
        key = tuple(
            str(v or "")[:n]
            for v, n in (
                (data.get("period"), 7), (data.get("site"), 40), (data.get("service"), 40),
                (spec.get("method") or "other", 20), (agent.team if agent else "", 60), (code, 20),
            )
        )  # fmt: skip
        slot = months.setdefault(key, [0, 0, agent.online_name if agent else None])
        slot[0] += 1
        slot[1] += 1 if passed else 0
    add_to_months(session, months)


MONTH_KEY = ("period", "site", "service", "method", "team", "agent_code")


def add_to_months(session: Session, months: dict[tuple[str, ...], list[Any]]) -> None:
    """Add checks and passes to the monthly rows, in key order (two steps never deadlock)."""
    if not months:
        return
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as upsert
    else:
        from sqlalchemy.dialects.sqlite import insert as upsert
    for key in sorted(months):
        checks, passed, name = months[key]
        statement = upsert(MonitoringMonth).values(
            **dict(zip(MONTH_KEY, key, strict=True)), online_name=name, checks=checks, passed=passed
        )
        session.execute(
            statement.on_conflict_do_update(
                index_elements=list(MONTH_KEY),
                set_={
                    "checks": MonitoringMonth.checks + statement.excluded.checks,
                    "passed": MonitoringMonth.passed + statement.excluded.passed,
                    "online_name": statement.excluded.online_name,
                },
            )
        )


def _supplier_action(done: _Done) -> None:
    session, instance, spec = done.session, done.instance, done.spec
    submitted, data, now = done.submitted, done.data, done.now
    session.add(
        SupplierAction(
            supplier_name=str(data.get(spec.get("supplier", "supplier_name")) or "?")[:200],
            number=str(submitted.get(spec.get("number", "car_number")) or "")[:60],
            description=str(submitted.get(spec.get("description", "car_description")) or ""),
            instance_id=instance.id,
            status="open",
            opened_at=now,
        )
    )


def _requirement(done: _Done) -> None:
    session, instance, spec = done.session, done.instance, done.spec
    submitted, data, actor, now = done.submitted, done.data, done.actor, done.now
    merged = {**data, **submitted}
    code = str(merged.get(spec.get("code", "pks_clause")) or f"case-{instance.id}")[:80]
    text = str(merged.get(spec.get("text", "register_entry")) or "")
    source = merged.get(spec.get("source", "source_type"))
    record_version(
        session,
        code,
        text,
        source if source in SOURCES else "customer_pks",
        merged.get("service"),
        actor,
        now,
        instance.id,
    )


def record_version(
    session: Session,
    code: str,
    text: str,
    source: str,
    service: str | None,
    actor: User | None,
    now: datetime,
    instance_id: int | None = None,
) -> Requirement:
    """A requirement's next version (its first makes it); the row holds the current text."""
    requirement = session.execute(
        select(Requirement).where(Requirement.code == code).with_for_update()
    ).scalar_one_or_none()
    if requirement is None:
        requirement = Requirement(code=code, source=source, service=service, text=text, version=1)
        session.add(requirement)
    else:
        requirement.version += 1
        requirement.text, requirement.source = text, source
        requirement.service = service or requirement.service
    requirement.updated_at = now
    session.flush()
    session.add(
        RequirementVersion(
            requirement_id=requirement.id,
            version=requirement.version,
            text=text,
            source=source,
            instance_id=instance_id,
            by_id=actor.id if actor else None,
            at=now,
        )
    )
    return requirement


def site_agents(session: Session, site: str | None) -> list[str]:
    """The agent codes an activity at ``site`` expects (every active agent there)."""
    query = select(User).where(User.active.is_(True), User.agent_code.is_not(None))
    if site:
        query = query.where(User.site == site)
    return sorted(u.agent_code for u in session.execute(query).scalars() if "agent" in u.role_keys)


def plan_activity(
    session: Session,
    kind: str,
    title: str,
    site: str | None,
    planned_on: date,
    actor: User,
    now: datetime,
    expected: list[str] | None = None,
    instance_id: int | None = None,
) -> PreservationActivity:
    activity = PreservationActivity(
        kind=kind,
        title=title[:200],
        site=site,
        planned_on=planned_on,
        instance_id=instance_id,
        created_by_id=actor.id,
        created_at=now,
    )
    session.add(activity)
    session.flush()
    codes = expected if expected is not None else site_agents(session, site)
    for code in dict.fromkeys(codes):
        session.add(PreservationAttendance(activity_id=activity.id, agent_code=code, attended=None))
    return activity


def _preservation(done: _Done) -> None:
    session, instance, spec = done.session, done.instance, done.spec
    submitted, data, actor, now = done.submitted, done.data, done.actor, done.now
    if actor is None:
        return
    title = str(data.get("description") or data.get("case_number") or "")[:160]
    for row in submitted.get(spec.get("rows", "sessions"), []) or []:
        if not isinstance(row, dict):
            continue
        try:
            planned = date.fromisoformat(str(row.get("date")))
        except ValueError:
            continue
        plan_activity(
            session,
            str(row.get("kind") or "training")[:20],
            title or str(row.get("kind")),
            row.get("site"),
            planned,
            actor,
            now,
            instance_id=instance.id,
        )


_WRITERS: dict[Any, Callable[[_Done], None]] = {
    "monitoring": _monitoring,
    "supplier_action": _supplier_action,
    "requirement": _requirement,
    "preservation": _preservation,
}
