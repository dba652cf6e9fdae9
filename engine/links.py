"""Links between cases ("recurs", "related"), and trend rules that raise a nonconformity.

A trend rule reads only the case table: nonconformities naming one agent code, or of one
source at one site, within a window of days. When enough of them are not yet covered by an
earlier trend, a new nonconformity is started by the scheduler, linked to each of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from . import audit, policy
from .errors import Conflict, NotAuthorized, NotFound, ValidationFailed
from .models import CaseRecord, ProcessInstance, User
from .models_links import LINK_KINDS, RULE_KINDS, CaseLink, TrendRule

NC = "nonconformity"
# kind -> (threshold, window in days), until the QMR sets them.
DEFAULTS = {"agent_findings": (3, 30), "site_source": (3, 90)}
LINKER_ROLES = frozenset({"admin", "qmr", "quality_control", "team_leader"})


@dataclass
class Linked:
    link: CaseLink
    other_id: int
    number: str | None
    summary: str | None
    outgoing: bool  # this case links to the other (else the other links here)


def _case_by_ref(session: Session, ref: str) -> ProcessInstance:
    ref = (ref or "").strip()
    if ref.isdigit() and len(ref) < 10:
        found = session.get(ProcessInstance, int(ref))
        if found is not None:
            return found
    row = session.execute(
        select(CaseRecord.instance_id).where(func.upper(CaseRecord.number) == ref.upper())
    ).first()
    if row is None:
        raise NotFound(f"no case {ref!r}")
    instance = session.get(ProcessInstance, row[0])
    assert instance is not None
    return instance


def link(
    session: Session, actor: User, from_id: int, to_ref: str, kind: str, now: datetime, note: str = ""
) -> CaseLink:
    """Link two cases both visible to ``actor``; the history of the first says so."""
    if not (actor.active and LINKER_ROLES & actor.role_keys):
        raise NotAuthorized(f"{actor.username} may not link cases")
    if kind not in LINK_KINDS or kind == "trend":
        raise ValidationFailed({"kind": ["choose recurs or related"]})
    source = policy.check_may_see(session, actor, from_id)
    target = _case_by_ref(session, to_ref)
    if not policy.may_see_case(session, actor, target.id):
        raise NotFound(f"no case {to_ref!r}")  # what one may not see does not exist for one
    if target.id == source.id:
        raise ValidationFailed({"to": ["a case cannot be linked to itself"]})
    exists = session.execute(
        select(CaseLink.id).where(
            or_(
                and_(CaseLink.from_id == source.id, CaseLink.to_id == target.id),
                and_(CaseLink.from_id == target.id, CaseLink.to_id == source.id),
            ),
            CaseLink.kind == kind,
        )
    ).first()
    if exists:
        raise Conflict("the two cases are linked so already")
    row = CaseLink(
        from_id=source.id, to_id=target.id, kind=kind, note=(note or "").strip()[:500] or None,
        created_by_id=actor.id, created_at=now,
    )  # fmt: skip
    session.add(row)
    if kind == "recurs":  # the reports count recurring cases from the case rows
        session.execute(
            update(CaseRecord)
            .where(CaseRecord.instance_id.in_((source.id, target.id)))
            .values(recurring=True)
        )
    number = session.execute(select(CaseRecord.number).where(CaseRecord.instance_id == target.id)).scalar()
    audit.record(
        session, "linked", now, instance=source, actor=actor, data={"kind": kind, "to": number or target.id}
    )
    session.flush()
    return row


def unlink(session: Session, actor: User, link_id: int, now: datetime) -> None:
    row = session.get(CaseLink, link_id)
    if row is None or not policy.may_see_case(session, actor, row.from_id):
        raise NotFound(f"no link {link_id}")
    if not (actor.active and LINKER_ROLES & actor.role_keys) or row.kind == "trend":
        raise NotAuthorized(f"{actor.username} may not remove this link")
    source = session.get(ProcessInstance, row.from_id)
    audit.record(
        session, "unlinked", now, instance=source, actor=actor, data={"kind": row.kind, "to": row.to_id}
    )
    session.delete(row)
    session.flush()
    if row.kind == "recurs":
        _recount_recurring(session, (row.from_id, row.to_id))


def _recount_recurring(session: Session, ids: tuple[int, int]) -> None:
    for instance_id in ids:
        still = session.execute(
            select(CaseLink.id)
            .where(
                CaseLink.kind == "recurs", (CaseLink.from_id == instance_id) | (CaseLink.to_id == instance_id)
            )
            .limit(1)
        ).first()
        session.execute(
            update(CaseRecord)
            .where(CaseRecord.instance_id == instance_id)
            .values(recurring=still is not None)
        )


def links_of(session: Session, user: User, instance_id: int) -> list[Linked]:
    """Both directions, only to cases the user may see."""
    rows = session.execute(
        select(CaseLink)
        .where(or_(CaseLink.from_id == instance_id, CaseLink.to_id == instance_id))
        .order_by(CaseLink.id)
    ).scalars()
    out = []
    for row in rows:
        other = row.to_id if row.from_id == instance_id else row.from_id
        if not policy.may_see_case(session, user, other):
            continue
        case = session.get(CaseRecord, other)
        out.append(
            Linked(
                row,
                other,
                case.number if case else None,
                case.summary if case else None,
                row.from_id == instance_id,
            )
        )
    return out


# -- trend rules ------------------------------------------------------------------------------


def rules(session: Session) -> dict[str, TrendRule]:
    """Every rule, with its defaults until the QMR changed it (not stored until then)."""
    stored = {r.kind: r for r in session.execute(select(TrendRule)).scalars()}
    for kind, (threshold, days) in DEFAULTS.items():
        if kind not in stored:
            stored[kind] = TrendRule(kind=kind, threshold=threshold, window_days=days, active=True)
    return stored


def set_rule(
    session: Session, actor: User, kind: str, threshold: int, window_days: int, active: bool, now: datetime
) -> TrendRule:
    if not policy.may_manage(actor):
        raise NotAuthorized(f"{actor.username} may not change trend rules; only the QMR and admins may")
    errors: dict[str, list[str]] = {}
    if kind not in RULE_KINDS:
        errors["kind"] = [f"one of {', '.join(RULE_KINDS)}"]
    if not 2 <= threshold <= 100:
        errors["threshold"] = ["between 2 and 100 findings"]
    if not 1 <= window_days <= 366:
        errors["window_days"] = ["between 1 and 366 days"]
    if errors:
        raise ValidationFailed(errors)
    row = session.execute(select(TrendRule).where(TrendRule.kind == kind)).scalar_one_or_none()
    if row is None:
        row = TrendRule(kind=kind)
        session.add(row)
    row.threshold, row.window_days, row.active = threshold, window_days, active
    row.updated_by_id, row.updated_at = actor.id, now
    session.flush()
    return row


def _uncovered(now: datetime, days: int) -> Any:
    covered = select(CaseLink.to_id).where(CaseLink.kind == "trend")
    return and_(
        CaseRecord.process_key == NC,
        ProcessInstance.started_at >= now - timedelta(days=days),
        ProcessInstance.status != "cancelled",
        CaseRecord.instance_id.not_in(covered),
        CaseRecord.instance_id.not_in(select(CaseLink.from_id).where(CaseLink.kind == "trend")),
    )


def evaluate(session: Session, engine: Any, now: datetime) -> list[int]:
    """Raise the nonconformities the active rules call for; return the new instances' ids."""
    raised: list[int] = []
    source_of = CaseRecord.source
    for kind, rule in rules(session).items():
        if not rule.active:
            continue
        keys = (CaseRecord.agent_code,) if kind == "agent_findings" else (CaseRecord.site, source_of)
        base = (
            select(CaseRecord.instance_id, *keys)
            .join(ProcessInstance, ProcessInstance.id == CaseRecord.instance_id)
            .where(
                _uncovered(now, rule.window_days), *(k.is_not(None) for k in keys), *(k != "" for k in keys)
            )
            .order_by(ProcessInstance.started_at, CaseRecord.instance_id)
        )
        groups: dict[tuple[Any, ...], list[int]] = {}
        for row in session.execute(base):
            groups.setdefault(tuple(row[1:]), []).append(row[0])
        for key, ids in groups.items():
            if len(ids) >= rule.threshold:
                raised.append(_raise(session, engine, kind, rule, key, ids, now))
    return raised


def _raise(
    session: Session,
    engine: Any,
    kind: str,
    rule: TrendRule,
    key: tuple[Any, ...],
    ids: list[int],
    now: datetime,
) -> int:
    cases = [session.get(CaseRecord, i) for i in ids]
    numbers = ", ".join(c.number or str(c.instance_id) for c in cases if c is not None)
    latest = cases[-1]
    assert latest is not None
    if kind == "agent_findings":
        what = f"Tren: {len(ids)} temuan untuk agen {key[0]} dalam {rule.window_days} hari ({numbers})"
    else:
        what = f"Tren: {len(ids)} temuan {key[1]} di {key[0]} dalam {rule.window_days} hari ({numbers})"
    data = {
        "source": latest.source or "other",
        "service": latest.service or "147",
        "site": latest.site,
        "description": what[:2000],
    }
    if kind == "agent_findings" and latest.agent_code:
        data["agent_code"] = latest.agent_code
    result = engine.start(session, NC, None, data, engine_data={"raised_by_rule": kind})
    new = result.instance
    for i in ids:
        session.add(CaseLink(from_id=new.id, to_id=i, kind="trend", created_at=now))
    audit.record(
        session,
        "trend_raised",
        now,
        instance=new,
        data={"rule": kind, "records": ids, "threshold": rule.threshold},
    )
    session.flush()
    return new.id
