"""The evidence pack for the client (manual 8.6): for a period, site and service, one PDF of
the monitoring done (who served, who checked), the pass rates and the nonconformities with
their signatures, a CSV of the same rows and the evidence files, in one zip.

A request only writes a queued row; the scheduler (or a Celery worker) builds it in stages,
each stage committing its progress, so no web worker waits. The zip's SHA-256 joins the
audit chain, and a pack left running by a killed process is taken up again.
"""

from __future__ import annotations

import calendar
import hashlib
import io
import json
import re
import zipfile
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from . import audit, exports, jobs, policy
from .db import session_scope
from .errors import NotFound, ValidationFailed
from .models import AuditEvent, CaseRecord, User
from .models_records import EvidencePack, MonitoringResult
from .models_workspace import Attachment
from .pack_report import render_pdf
from .workspace import attachment_path

PACK_CHAIN = "evidence_packs"
STALE = jobs.STALE
CHECK_COLUMNS = (
    "period", "method", "site", "service", "agent_code", "online_name", "score", "passed",
    "checked_by", "checked_at", "number",
)  # fmt: skip
NC_COLUMNS = (
    "number",
    "opened_at",
    "site",
    "service",
    "agent_code",
    "severity",
    "source",
    "status",
    "closed_at",
)
_MONTH = re.compile(r"^\d{4}-\d{2}$")


def period_bounds(period: str | None, start: str | None, end: str | None) -> tuple[date, date]:
    """A month (YYYY-MM) or a from/to pair of dates, as first and last day."""
    try:
        if period:
            if not _MONTH.match(period):
                raise ValueError("a period is YYYY-MM")
            first = date.fromisoformat(period + "-01")
            return first, first.replace(day=calendar.monthrange(first.year, first.month)[1])
        if start and end:
            first, last = date.fromisoformat(start), date.fromisoformat(end)
            if first > last or (last - first).days > 366:
                raise ValueError("from must come before to, at most a year apart")
            return first, last
    except ValueError as exc:
        raise ValidationFailed({"period": [str(exc)]}) from None
    raise ValidationFailed({"period": ["give a period (YYYY-MM) or from and to"]})


def request(
    session: Session,
    user: User,
    first: date,
    last: date,
    site: str | None,
    service: str | None,
    lang: str,
    now: datetime,
) -> EvidencePack:
    policy.check_may_make_packs(user, site)
    if site is not None and site not in policy.SITES:
        raise ValidationFailed({"site": [f"no site {site!r}"]})
    pack = EvidencePack(
        period_from=first.isoformat(),
        period_to=last.isoformat(),
        site=site,
        service=service,
        status="queued",
        progress=0,
        stage="queued",
        language="en" if lang == "en" else "id",
        requested_by_id=user.id,
        created_at=now,
    )
    session.add(pack)
    session.flush()
    return pack


def visible(session: Session, user: User, pack_id: int) -> EvidencePack:
    policy.check_may_read_packs(user)
    pack = session.get(EvidencePack, pack_id)
    bound = policy.records_site(user)
    if pack is None or (bound is not None and pack.site != bound and "client_liaison" not in user.role_keys):
        raise NotFound(f"no evidence pack {pack_id}")
    return pack


def listed(session: Session, user: User, page: int = 1, per_page: int = 50) -> tuple[list[EvidencePack], int]:
    policy.check_may_read_packs(user)
    query = select(EvidencePack)
    bound = policy.records_site(user)
    if bound is not None and "client_liaison" not in user.role_keys:
        query = query.where(EvidencePack.site == bound)
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = session.execute(
        query.order_by(EvidencePack.id.desc()).limit(per_page).offset((page - 1) * per_page)
    ).scalars()
    return list(rows), total


def run_pending(
    factory: sessionmaker[Session], upload_dir: Path, clock: Callable[[], datetime], limit: int = 3
) -> int:
    """Build queued packs (the scheduler's and workers' job); return how many were built."""
    return jobs.run_pending(
        factory, EvidencePack, lambda f, pack_id, c: build(f, pack_id, upload_dir, c), clock, limit
    )


def _progress(factory: sessionmaker[Session], pack_id: int, progress: int, stage: str) -> None:
    jobs.progress(factory, EvidencePack, pack_id, progress, stage)


def collect(session: Session, pack: EvidencePack) -> dict[str, Any]:
    """The rows of a pack, from the monitoring and case tables."""
    first, last = date.fromisoformat(pack.period_from), date.fromisoformat(pack.period_to)
    since = datetime.combine(first, time.min, UTC)
    until = datetime.combine(last + timedelta(days=1), time.min, UTC)
    m = MonitoringResult
    query = (
        select(m, CaseRecord.number)
        .outerjoin(CaseRecord, CaseRecord.instance_id == m.instance_id)
        .where(m.period >= first.strftime("%Y-%m"), m.period <= last.strftime("%Y-%m"))
    )
    c = CaseRecord
    ncs = select(c).where(c.process_key == "nonconformity", c.opened_at >= since, c.opened_at < until)
    for column_m, column_c, value in ((m.site, c.site, pack.site), (m.service, c.service, pack.service)):
        if value:
            query, ncs = query.where(column_m == value), ncs.where(column_c == value)
    checks = []
    for result, number in session.execute(query.order_by(m.site, m.period, m.method, m.agent_code, m.id)):
        checks.append(
            {
                "period": result.period,
                "method": result.method,
                "site": result.site,
                "service": result.service,
                "agent_code": result.agent_code,
                "online_name": result.online_name,
                "score": result.score,
                "passed": result.passed,
                "checked_by": result.checked_by,
                "checked_at": result.checked_at.date().isoformat(),
                "number": number,
                "instance_id": result.instance_id,
                "evidence": [str(e) for e in (result.detail or {}).get("evidence", [])],
            }
        )
    cases = [
        {
            "instance_id": r.instance_id,
            "number": r.number,
            "opened_at": r.opened_at.date().isoformat() if r.opened_at else None,
            "closed_at": r.closed_at.date().isoformat() if r.closed_at else None,
            "site": r.site,
            "service": r.service,
            "agent_code": r.agent_code,
            "severity": r.severity,
            "source": r.source,
            "status": r.status,
            "summary": r.summary,
        }
        for r in session.execute(ncs.order_by(c.opened_at, c.instance_id)).scalars()
    ]
    ids = [r["instance_id"] for r in cases]
    signatures = []
    for chunk_start in range(0, len(ids), 500):
        chunk = ids[chunk_start : chunk_start + 500]
        for event in session.execute(
            select(AuditEvent).where(AuditEvent.kind == "signed", AuditEvent.instance_id.in_(chunk))
        ).scalars():
            signatures.append({"instance_id": event.instance_id, **event.data})
    rm_ids = sorted({r["instance_id"] for r in checks})
    named = {int(e) for r in checks for e in r["evidence"] if str(e).isdigit()}
    files: dict[int, Attachment] = {}
    for chunk_start in range(0, max(len(rm_ids), 1), 500):
        chunk = rm_ids[chunk_start : chunk_start + 500]
        if chunk:
            for a in session.execute(select(Attachment).where(Attachment.instance_id.in_(chunk))).scalars():
                files[a.id] = a
    missing = named - files.keys()
    if missing:
        for a in session.execute(select(Attachment).where(Attachment.id.in_(sorted(missing)))).scalars():
            files[a.id] = a
    return {
        "checks": checks,
        "cases": cases,
        "signatures": signatures,
        "files": sorted(files.values(), key=lambda a: a.id),
    }


def build(
    factory: sessionmaker[Session], pack_id: int, upload_dir: Path, clock: Callable[[], datetime]
) -> None:
    with session_scope(factory) as session:
        pack = session.get(EvidencePack, pack_id)
        if pack is None:
            return
        rows = collect(session, pack)
        requester = session.get(User, pack.requested_by_id)
        who = requester.full_name or requester.username if requester else "?"
        session.expunge(pack)
        for a in rows["files"]:
            session.expunge(a)
    _progress(factory, pack_id, 30, "report")
    made = clock()
    pdf = render_pdf(pack, rows, who, made)
    _progress(factory, pack_id, 60, "tables")
    headers = list(CHECK_COLUMNS)
    checks_csv = exports.csv_bytes(CHECK_COLUMNS, headers, rows["checks"])
    cases_csv = exports.csv_bytes(NC_COLUMNS, list(NC_COLUMNS), rows["cases"])
    out = io.BytesIO()
    manifest: dict[str, str] = {}
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in (
            ("report.pdf", pdf),
            ("checks.csv", checks_csv),
            ("nonconformities.csv", cases_csv),
        ):
            archive.writestr(name, content)
            manifest[name] = hashlib.sha256(content).hexdigest()
        total = max(len(rows["files"]), 1)
        for i, a in enumerate(rows["files"]):
            path = attachment_path(upload_dir, a)
            name = f"evidence/{a.id}-{Path(a.filename).name}"
            if path.is_file():
                archive.write(path, name)
                manifest[name] = a.sha256
            if i % 50 == 0:
                _progress(factory, pack_id, 60 + int(35 * i / total), "files")
        archive.writestr("manifest.json", json.dumps(manifest, indent=1, sort_keys=True))
    content = out.getvalue()
    digest = hashlib.sha256(content).hexdigest()
    with session_scope(factory) as session:
        pack = session.get(EvidencePack, pack_id, with_for_update=True)
        assert pack is not None
        if pack.status == "done":  # another worker finished it first (a late redelivery)
            return
        pack.content, pack.sha256, pack.size = content, digest, len(content)
        pack.rows = len(rows["checks"])
        pack.status, pack.progress, pack.stage, pack.finished_at = "done", 100, "done", clock()
        audit.record(
            session,
            "evidence_pack",
            clock(),
            actor=session.get(User, pack.requested_by_id),
            data={
                "pack_id": pack.id,
                "period": [pack.period_from, pack.period_to],
                "site": pack.site,
                "service": pack.service,
                "checks": len(rows["checks"]),
                "nonconformities": len(rows["cases"]),
                "files": len(rows["files"]),
                "sha256": digest,
                "size": len(content),
            },
            chain=PACK_CHAIN,
        )


def downloaded(session: Session, user: User, pack: EvidencePack, now: datetime) -> None:
    audit.record(
        session,
        "pack_downloaded",
        now,
        actor=user,
        data={"pack_id": pack.id, "sha256": pack.sha256},
        chain=PACK_CHAIN,
    )
