"""SQLite, the embedded default, with several processes writing at once (gunicorn workers, CLI, scheduler)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from engine.db import session_scope
from engine.models import AuditEvent, HumanTask
from engine.registry import load_registry
from engine.runtime import ProcessEngine
from tests.conftest import DATA, make_people, review_files

PROCESSES, CASES = 4, 30


@pytest.mark.parametrize("committed_db", ["sqlite"], indirect=True)
def test_four_processes_start_and_complete_cases_without_a_busy_error(committed_db, clock):
    engine = ProcessEngine(load_registry(DATA / "workflows"), clock)
    with session_scope(committed_db.sessions) as session:
        engine.deploy(session, review_files())
        make_people(session)
    root = DATA.parent.parent
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.sqlite_worker", committed_db.url, str(CASES)],
            cwd=root,
            env={**os.environ, "PYTHONPATH": str(root)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    outputs = [w.communicate(timeout=300)[0] for w in workers]
    assert all(line.strip().endswith("ERRORS {}") for line in outputs), outputs
    assert all(f"DONE {CASES}" in line for line in outputs), outputs
    with session_scope(committed_db.sessions) as session:
        done = session.execute(
            select(func.count())
            .select_from(HumanTask)
            .where(HumanTask.bpmn_id == "raise", HumanTask.status == "completed")
        ).scalar_one()
        started = session.execute(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.kind == "started")
        ).scalar_one()
    assert done == started == PROCESSES * CASES
