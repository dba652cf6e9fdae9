"""A scratch PostgreSQL database for a benchmark, recreated each run; None when there is none."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

PG_URL = os.environ.get("MUTU_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def scratch_database(name: str, emit: Callable[[dict[str, Any]], None]) -> str | None:
    """Drop and create database ``name`` next to MUTU_TEST_POSTGRES_URL and return its URL."""
    try:
        url = make_url(PG_URL)
        admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        return url.set(database=name).render_as_string(hide_password=False)
    except Exception as exc:  # noqa: BLE001 - report and go on without PostgreSQL
        emit({"postgres": "unavailable", "reason": str(exc).splitlines()[0]})
        return None


def prototype_rows(sessions: Any, proto_id: int) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The instance, task and case columns of one real instance, to copy in bulk (no ids)."""
    from sqlalchemy import select

    from engine.db import session_scope
    from engine.models import CaseRecord, HumanTask, ProcessInstance

    with session_scope(sessions) as session:
        proto = session.get(ProcessInstance, proto_id)
        task = session.execute(select(HumanTask).where(HumanTask.instance_id == proto_id)).scalar_one()
        case = session.get(CaseRecord, proto_id)
        inst_cols = {c.key: getattr(proto, c.key) for c in ProcessInstance.__table__.columns if c.key != "id"}
        task_cols = {c.key: getattr(task, c.key) for c in HumanTask.__table__.columns if c.key != "id"}
        case_cols = {c.key: getattr(case, c.key) for c in CaseRecord.__table__.columns}
    return inst_cols, task_cols, case_cols
