"""The nonconformity dashboard's figures and the monitoring pass rates, counted in SQL from the
case and monitoring tables (grouped on the database, never row by row in Python)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Integer, and_, case, cast, func, literal, select
from sqlalchemy.orm import Session

from . import policy, report_cache
from .models import CaseRecord, User
from .models_records import MonitoringMonth

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
        if self.end == date.max:
            return datetime.max.replace(tzinfo=UTC)
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


def _whole(session: Session, value: Any) -> Any:
    """Whole days, rounded down (SQLite's CAST truncates, which is the same for these)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.floor(value)
    return cast(value, Integer)


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
    """The figures of the nonconformities opened in the period, and of those open at its end.

    One scan of the covering report index, grouped by the four dimensions and the whole days
    each closed case took (-1: still open): the sums, and the median from that histogram.
    """
    policy.check_may_read_reports(user)
    targets = targets or DEFAULT_TARGETS
    bound = policy.records_site(user)
    site = bound if bound is not None else site
    scope = json.dumps([site, service, sorted(targets.items())], separators=(",", ":"))

    def compute(since: datetime, until: datetime) -> list[list[Any]]:
        return _grouped(session, since, until, site, service, targets)

    # Only the months that hold cases: a period of centuries costs what its cases cost.
    first, last = session.execute(
        select(func.min(CaseRecord.opened_at), func.max(CaseRecord.opened_at)).where(
            CaseRecord.process_key == NC
        )
    ).one()
    start = max(period.start, first.date().replace(day=1)) if first else None
    end = min(period.end, report_cache.month_end(last.date())) if last else None
    grouped = (
        report_cache.rows(session, NC, "nonconformity", scope, start, end, compute)
        if start and end and start <= end
        else []
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
    histogram: dict[int, int] = {}
    for row in grouped:
        if row[0] == "d":  # whole days to close -> how many cases took them
            histogram[row[1]] = histogram.get(row[1], 0) + row[2]
            continue
        _g, sev, src, st, svc, *values = row
        for key, value in zip(totals, values, strict=True):
            totals[key] += value
        for dim, key in (("severity", sev), ("source", src), ("site", st), ("service", svc)):
            slot = groups[dim].setdefault(key or "-", {"opened": 0, "closed": 0})
            slot["opened"] += values[0]
            slot["closed"] += values[1]
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
            "median": _median(histogram),
        },
        "effective_first_check": {
            "closed": totals["closed"],
            "effective": totals["effective"],
            "percent": _percent(totals["effective"], totals["closed"]),
        },
        "reopened": totals["reopened"],
        "recurring": totals["recurring"],
    }


def _grouped(
    session: Session,
    since: datetime,
    until: datetime,
    site: str | None,
    service: str | None,
    targets: dict[str, int],
) -> list[list[Any]]:
    """One scan of the covering report index: counts by the four dimensions and by the whole
    days each closed case took (-1: still open)."""
    c = CaseRecord
    days = _days(session, c.opened_at, c.closed_at)
    whole_days = case((c.closed_at.is_(None), -1), else_=_whole(session, days))
    target = case(
        *((c.severity == k, literal(v)) for k, v in targets.items()), else_=literal(max(targets.values()))
    )
    closed = c.closed_at.is_not(None)
    query = select(
        c.severity,
        c.source,
        c.site,
        c.service,
        whole_days,
        func.count(),
        func.sum(case((and_(closed, days <= target), 1), else_=0)),
        func.sum(case((closed, days), else_=0)),
        func.sum(case((and_(closed, c.reopened == 0), 1), else_=0)),
        func.sum(case((c.reopened > 0, 1), else_=0)),
        func.sum(case((c.recurring.is_(True), 1), else_=0)),
    ).where(c.process_key == NC, c.opened_at >= since, c.opened_at < until, c.status != "cancelled")
    if site:
        query = query.where(c.site == site)
    if service:
        query = query.where(c.service == service)
    query = query.group_by(c.severity, c.source, c.site, c.service, whole_days)
    # Kept compact for the cache: sums by the four dimensions ("g") and a histogram ("d").
    sums: dict[tuple[Any, ...], list[Any]] = {}
    days_taken: dict[int, int] = {}
    for sev, src, st, svc, took, n, on_time, sum_days, effective, reopened, recurs in session.execute(query):
        took = -1 if took is None else int(took)
        slot = sums.setdefault((sev, src, st, svc), [0, 0, 0, 0.0, 0, 0, 0])
        for i, value in enumerate((n, n if took >= 0 else 0, on_time, sum_days, effective, reopened, recurs)):
            slot[i] += float(value or 0) if i == 3 else int(value or 0)
        if took >= 0:
            days_taken[took] = days_taken.get(took, 0) + n
    return [["g", *key, *values] for key, values in sums.items()] + [
        ["d", d, n] for d, n in days_taken.items()
    ]


def _median(histogram: dict[int, int]) -> float | None:
    """The median of whole days to close (the middle two averaged when the count is even)."""
    count = sum(histogram.values())
    if not count:
        return None
    wanted = [(count - 1) // 2, count // 2]
    found: list[int] = []
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        while wanted and wanted[0] < seen:
            found.append(value)
            wanted.pop(0)
    return round(sum(found) / len(found), 1)


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
    # Open at the end: open now (the partial index of open cases), and closed since (by date).
    counts: dict[str, dict[str, int]] = {label: {} for _l, _h, label in AGE_BUCKETS}
    for still_open in (c.closed_at.is_(None), c.closed_at >= at_end):
        query = (
            select(bucket, c.severity, func.count())
            .where(c.process_key == NC, still_open, c.opened_at < at_end, c.status != "cancelled")
            .group_by(bucket, c.severity)
        )
        for label, severity, n in session.execute(_scope(query, c.site, c.service, user, site, service)):
            slot = counts.setdefault(label, {})
            slot[severity or "-"] = slot.get(severity or "-", 0) + n
    return [{"bucket": label, "count": sum(v.values()), "by_severity": v} for label, v in counts.items()]


def monitoring(
    session: Session, user: User, period: Period, site: str | None = None, service: str | None = None
) -> dict[str, Any]:
    """Pass rates by method, month, site, team and the lowest agents, from the monthly rows."""
    policy.check_may_read_reports(user)
    m = MonitoringMonth
    months = (period.start.strftime("%Y-%m"), period.end.strftime("%Y-%m"))
    query = select(m.period, m.site, m.method, m.team, m.agent_code, m.online_name, m.checks, m.passed).where(
        m.period >= months[0], m.period <= months[1]
    )
    query = _scope(query, m.site, m.service, user, site, service)
    sums: dict[str, dict[tuple[str, ...], list[int]]] = {
        "by_method": {}, "by_month": {}, "by_site": {}, "by_team": {}, "agents": {},
    }  # fmt: skip
    for month, st, method, team, code, name, checks, ok in session.execute(query):
        for table, key in (
            ("by_method", (method,)),
            ("by_month", (month, method)),
            ("by_site", (st or "-", method)),
            ("by_team", (team or "-", method)),
            ("agents", (code, name or "-")),
        ):
            slot = sums[table].setdefault(key, [0, 0])
            slot[0] += checks
            slot[1] += ok

    def rows(table: str) -> list[dict[str, Any]]:
        return [
            {"key": list(k), "checks": n, "passed": ok, "percent": _percent(ok, n)}
            for k, (n, ok) in sorted(sums[table].items())
        ]

    agents = sorted(rows("agents"), key=lambda r: (r["passed"] / r["checks"], r["key"]))
    return {
        "period": {"from": period.start.isoformat(), "to": period.end.isoformat()},
        "by_method": rows("by_method"),
        "by_month": rows("by_month"),
        "by_site": rows("by_site"),
        "by_team": rows("by_team"),
        "lowest_agents": agents[:20],
    }
