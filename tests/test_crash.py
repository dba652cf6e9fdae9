"""A process killed with SIGKILL in the middle of a completion loses nothing and half-writes nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from engine.db import session_scope
from engine.identity import get_user
from engine.models import AuditEvent, HumanTask, ProcessInstance
from engine.runtime import ProcessEngine
from tests.conftest import make_people, review_files
from tests.helpers import assert_inbox_matches, open_tasks, task_by_bpmn

ROOT = Path(__file__).resolve().parent.parent


def test_sigkill_mid_completion_leaves_the_task_completable(committed_db, registry, clock):
    engine = ProcessEngine(registry, clock)
    with session_scope(committed_db.sessions) as session:
        make_people(session)
        engine.deploy(session, review_files())
        inst = engine.start(session, "review", get_user(session, "qc")).instance
        task_id = task_by_bpmn(session, inst.id, "raise").id
        state_before, version_before = inst.state_json, inst.lock_version

    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.crash_worker", committed_db.url, str(task_id)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        line = worker.stdout.readline()
        assert line.strip() == "PAUSED", worker.stderr.read()
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(30)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == -signal.SIGKILL

    with session_scope(committed_db.sessions) as session:
        inst = session.get(ProcessInstance, inst.id)
        assert inst.state_json == state_before and inst.lock_version == version_before
        assert [t.bpmn_id for t in open_tasks(session, inst.id)] == ["raise"]
        assert session.get(HumanTask, task_id).status == "open"
        assert_inbox_matches(session, engine, inst)
        completions = session.execute(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.kind == "completed")
        ).scalar()
        assert completions == 0
        data = {"description": "After the crash", "severity_hint": "major", "site": "Semarang"}
        result = engine.complete(session, task_id, get_user(session, "qc"), data)
        assert result.incident is None
    with session_scope(committed_db.sessions) as session:
        assert [t.bpmn_id for t in open_tasks(session, inst.id)] == ["triage"]
