"""The case row of an instance: its business fields, written only when they changed."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session

from . import batch, fastsql, report_cache
from .models import CaseRecord, ProcessInstance
from .registry import CASE_COLUMNS, ProcessGlue

CASE_NUMBER = "case_number"


def _expire_cached(session: Session, model: type, ident: Any) -> None:
    """Drop a stale copy of a row just changed behind the ORM's back, if the session holds one."""
    cached = session.identity_map.get(Session.identity_key(model, ident))
    if cached is not None:
        session.expire(cached)


# Set on a new instance's __dict__ (not a column) until its first step writes the case row.
CASE_INSERT = "_mutu_case_insert"
_NO_INSERT = object()
_TIMES = ("opened_at", "closed_at", "reopened")  # what the reports count, from the instance
_CASE_INSERT = fastsql.Prepared.insert(CaseRecord.__table__)
_CASE_UPDATE = fastsql.Prepared(
    update(CaseRecord.__table__)
    .where(CaseRecord.__table__.c.instance_id == bindparam("case_id"))
    .values({c: bindparam(c) for c in (*CASE_COLUMNS, *_TIMES, "fields", "updated_at")})
)


_CASE_LENGTHS = {c: CaseRecord.__table__.c[c].type.length or 300 for c in CASE_COLUMNS}


def write_case(
    session: Session,
    instance: ProcessInstance,
    data: dict[str, Any],
    glue: ProcessGlue,
    now: datetime,
) -> None:
    values: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for column, key in glue.case_fields.items():
        if column == "number":
            continue  # only the counter numbers cases (deploy refuses such glue too)
        value = data.get(key)
        if column in CASE_COLUMNS:
            values[column] = None if value is None else str(value)[: _CASE_LENGTHS[column]]
        elif value is not None:
            extra[column] = value
    values["number"] = data.get(CASE_NUMBER)  # given at start by the counter, never by a form
    row = {column: values.get(column) for column in CASE_COLUMNS}
    if "status" not in glue.case_fields:
        row["status"] = instance.status
    row["fields"] = extra
    row["opened_at"] = instance.started_at
    row["closed_at"] = instance.ended_at if instance.status == "completed" else None
    reopened = extra.get("reopen_count")
    row["reopened"] = reopened if isinstance(reopened, int) and not isinstance(reopened, bool) else 0
    digest = hashlib.sha256(json.dumps(row, sort_keys=True, default=str).encode("utf-8")).hexdigest()
    if digest == instance.case_hash:
        return  # most steps change no case field: skip the statement
    instance.case_hash = digest
    row["updated_at"] = now
    if glue.meta.get("close_target_days"):  # a process with a dashboard: its cached month is stale
        report_cache.bump(session, instance.process_key, instance.started_at)
    if instance.__dict__.pop(CASE_INSERT, _NO_INSERT) is not _NO_INSERT:
        first = {"instance_id": instance.id, "process_key": instance.process_key, "recurring": False, **row}
        if not batch.defer(session, "case_insert", first):
            fastsql.execute(session, _CASE_INSERT, first)
        return
    # A constant table-level UPDATE: an ORM-enabled one costs more to prepare than to run.
    if not batch.defer(session, "case_update", {"case_id": instance.id, **row}):
        fastsql.execute(session, _CASE_UPDATE, {"case_id": instance.id, **row})
    _expire_cached(session, CaseRecord, instance.id)
