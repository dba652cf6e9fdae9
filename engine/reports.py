"""The nonconformity dashboard's figures and the monitoring pass rates, counted in SQL from the
case and monitoring tables (grouped on the database, never row by row in Python)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, case, func, literal, or_, select
from sqlalchemy.orm import Session

from . import policy
from .models import CaseRecord, User
from .models_links import CaseLink
from .models_records import MonitoringResult

NC = "nonconformity"
DEFAULT_TARGETS = {"critical": 30, "major": 45, "minor": 60}  # days to close, by severity
DEFAULT_KPI_PERCENT = 90
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
AGE_BUCKETS = ((0, 7, "0-7"), (8, 30, "8-30"), (31, 90, "31-90"), (91, None, ">90"))


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive

    @property
    def since(self) -> datetime:
        return datetime.combine(self.start, time.min, UTC)

    @property
    def until(self) -> datetime:
        return datetime.combine(self.end + timedelta(days=1), time.min, UTC)


def period_of(given_from: str | None, given_to: str | None, today: date) -> Period:
    """The period asked for; by default the last twelve months to today."""
    for given in (given_from, given_to):
        if given is not None and not _DAY.fullmatch(given):
            from .errors import ValidationFailed

            raise ValidationFailed({"from": [f"dates are YYYY-MM-DD, not {given[:40]!r}"]})
    try:
        end = date.fromisoformat(given_to) if given_to else today
        start = date.fromisoformat(given_from) if given_from else (end - timedelta(days=365))
    except ValueError as exc:
        from .errors import ValidationFailed

        raise ValidationFailed({"from": [f"dates are YYYY-MM-DD: {exc}"]}) from None
    if start > end:
        start, end = end, start
    return Period(start, end)


def _days(session: Session, a: Any, b: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", b - a) / 86400.0
    return func.julianday(b) - func.julianday(a)


def _percent(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def _scope(
    query: Any, column_site: Any, column_service: Any, user: User, site: str | None, service: str | None
) -> Any:
    bound = policy.records_site(user)
    site = bound if bound is not None else site
    if site:
        query = query.where(column_site == site)
    if service:
        query = query.where(column_service == service)
    return query


def nonconformity(
    session: Session,
    user: User,
    period: Period,
    site: str | None = None,
    service: str | None = None,
    targets: dict[str, int] | None = None,
    kpi_percent: int = DEFAULT_KPI_PERCENT,
) -> dict[str, Any]:
    """The figures of the nonconformities opened in the period, and of those open at its end."""
    policy.check_may_read_reports(user)
    targets = targets or DEFAULT_TARGETS
    c = CaseRecord
    days = _days(session, c.opened_at, c.closed_at)
    target = case(
        *((c.severity == k, literal(v)) for k, v in targets.items()), else_=literal(max(targets.values()))
    )
    recurs = (
        select(CaseLink.id)
        .where(
            CaseLink.kind == "recurs", or_(CaseLink.from_id == c.instance_id, CaseLink.to_id == c.instance_id)
        )
        .exists()
    )
    closed = c.closed_at.is_not(None)
    query = select(
        c.severity,
        c.source,
        c.site,
        c.service,
        func.count(),
        func.sum(case((closed, 1), else_=0)),
        func.sum(case((and_(closed, days <= target), 1), else_=0)),
        func.sum(case((closed, days), else_=0)),
        func.sum(case((and_(closed, c.reopened == 0), 1), else_=0)),
        func.sum(case((c.reopened > 0, 1), else_=0)),
        func.sum(case((recurs, 1), else_=0)),
    ).where(
        c.process_key == NC, c.opened_at >= period.since, c.opened_at < period.until, c.status != "cancelled"
    )
    query = _scope(query, c.site, c.service, user, site, service).group_by(
        c.severity, c.source, c.site, c.service
    )
    totals = {
        "opened": 0,
        "closed": 0,
        "on_time": 0,
        "days": 0.0,
        "effective": 0,
        "reopened": 0,
        "recurring": 0,
    }
    groups: dict[str, dict[str, dict[str, int]]] = {"severity": {}, "source": {}, "site": {}, "service": {}}
    for sev, src, st, svc, n, n_closed, n_on_time, sum_days, n_eff, n_reopened, n_recurs in session.execute(
        query
    ):
        values = (
            n,
            n_closed or 0,
            n_on_time or 0,
            float(sum_days or 0),
            n_eff or 0,
            n_reopened or 0,
            n_recurs or 0,
        )
        for key, value in zip(totals, values, strict=True):
            totals[key] += value
        for dim, key in (("severity", sev), ("source", src), ("site", st), ("service", svc)):
            slot = groups[dim].setdefault(key or "-", {"opened": 0, "closed": 0})
            slot["opened"] += n
            slot["closed"] += n_closed or 0
    median = _median_days(session, user, period, site, service, days)
    return {
        "period": {"from": period.start.isoformat(), "to": period.end.isoformat()},
        "site": policy.records_site(user) or site,
        "service": service,
        "opened": totals["opened"],
        "closed": totals["closed"],
        "still_open": totals["opened"] - totals["closed"],
        "by": {
            dim: [{"key": k, **v, "open": v["opened"] - v["closed"]} for k, v in sorted(rows.items())]
            for dim, rows in groups.items()
        },
        "open_by_age": _open_by_age(session, user, period, site, service),
        "closed_on_time": {
            "closed": totals["closed"],
            "on_time": totals["on_time"],
            "percent": _percent(totals["on_time"], totals["closed"]),
            "target_percent": kpi_percent,
            "met": totals["closed"] > 0 and 100 * totals["on_time"] >= kpi_percent * totals["closed"],
            "target_days": targets,
        },
        "time_to_close_days": {
            "mean": round(totals["days"] / totals["closed"], 1) if totals["closed"] else None,
            "median": median,
        },
        "effective_first_check": {
            "closed": totals["closed"],
            "effective": totals["effective"],
            "percent": _percent(totals["effective"], totals["closed"]),
        },
        "reopened": totals["reopened"],
        "recurring": totals["recurring"],
    }


def _median_days(
    session: Session, user: User, period: Period, site: str | None, service: str | None, days: Any
) -> float | None:
    c = CaseRecord
    base = select(days.label("d")).where(
        c.process_key == NC, c.opened_at >= period.since, c.opened_at < period.until, c.closed_at.is_not(None)
    )
    base = _scope(base, c.site, c.service, user, site, service)
    count = session.execute(select(func.count()).select_from(base.subquery())).scalar_one()
    if not count:
        return None
    ordered = base.order_by(days)
    middle = session.execute(ordered.offset((count - 1) // 2).limit(2 - count % 2)).scalars().all()
    return round(sum(float(v) for v in middle) / len(middle), 1)


def _open_by_age(
    session: Session, user: User, period: Period, site: str | None, service: str | None
) -> list[dict[str, Any]]:
    c = CaseRecord
    at_end = period.until
    age = _days(session, c.opened_at, literal(at_end, type_=c.opened_at.type))
    bucket = case(
        *((age < (high + 1), literal(label)) for low, high, label in AGE_BUCKETS if high is not None),
        else_=literal(AGE_BUCKETS[-1][2]),
    )
    query = (
        select(bucket, c.severity, func.count())
        .where(
            c.process_key == NC,
            c.opened_at < at_end,
            or_(c.closed_at.is_(None), c.closed_at >= at_end),
            c.status != "cancelled",
        )
        .group_by(bucket, c.severity)
    )
    query = _scope(query, c.site, c.service, user, site, service)
    counts: dict[str, dict[str, int]] = {label: {} for _l, _h, label in AGE_BUCKETS}
    for label, severity, n in session.execute(query):
        counts.setdefault(label, {})[severity or "-"] = n
    return [{"bucket": label, "count": sum(v.values()), "by_severity": v} for label, v in counts.items()]


def monitoring(
    session: Session, user: User, period: Period, site: str | None = None, service: str | None = None
) -> dict[str, Any]:
    """Pass rates by method, month, site, team and agent over the period's months."""
    policy.check_may_read_reports(user)
    m = MonitoringResult
    months = (period.start.strftime("%Y-%m"), period.end.strftime("%Y-%m"))
    passed = func.sum(case((m.passed.is_(True), 1), else_=0))

    def grouped(*keys: Any, limit: int | None = None) -> list[dict[str, Any]]:
        query = select(*keys, func.count(), passed).where(m.period >= months[0], m.period <= months[1])
        query = _scope(query, m.site, m.service, user, site, service).group_by(*keys)
        if limit:
            query = query.order_by((passed * 1.0 / func.count()), *keys).limit(limit)
        out = []
        for row in session.execute(query):
            *names, checks, ok = row
            ok = int(ok or 0)
            out.append(
                {
                    "key": [n or "-" for n in names],
                    "checks": checks,
                    "passed": ok,
                    "percent": _percent(ok, checks),
                }
            )
        return out if limit else sorted(out, key=lambda r: r["key"])

    return {
        "period": {"from": period.start.isoformat(), "to": period.end.isoformat()},
        "by_method": grouped(m.method),
        "by_month": grouped(m.period, m.method),
        "by_site": grouped(m.site, m.method),
        "by_team": grouped(m.team, m.method),
        "lowest_agents": grouped(m.agent_code, m.online_name, limit=20),
    }
