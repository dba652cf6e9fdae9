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
