"""Several schedulers on one database fire each due timer exactly once, even when one is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from engine.clock import ManualClock
from engine.db import session_scope
from engine.deploy import SourceFile
from engine.models import AuditEvent, HumanTask, Timer
from engine.registry import Registry
from engine.runtime import ProcessEngine
from engine.sandbox import person
from tests.conftest import DATA

TIMERS = 1000
CONSTRUCT = DATA / "constructs" / "timer_catch.bpmn"


@pytest.mark.parametrize("committed_db", ["postgres"], indirect=True)
def test_three_schedulers_one_killed_fire_a_thousand_timers_exactly_once(committed_db):
    engine = ProcessEngine(Registry(), ManualClock(datetime.now(UTC) - timedelta(days=2)))
    with session_scope(committed_db.sessions) as session:
        engine.deploy(session, [SourceFile(CONSTRUCT.name, CONSTRUCT.read_bytes())])
        admin = person(session, "admin", None)
        for _ in range(TIMERS):
            engine.start(session, "timer_catch", admin, {})
        # All of them fell due a minute ago, on the real clock the schedulers read.
        session.execute(update(Timer).values(fire_at=datetime.now(UTC) - timedelta(minutes=1)))
    env = {**os.environ, "PYTHONPATH": str(DATA.parent.parent)}
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.scheduler_worker", committed_db.url, "0.002"],
            cwd=DATA.parent.parent,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    for _ in range(300):  # until all three are firing, part of the way through
        with session_scope(committed_db.sessions) as session:
            left = session.execute(
                select(func.count())
                .select_from(Timer)
                .where(Timer.bpmn_id == "wait_a_day", Timer.status == "waiting")
            ).scalar_one()
        if left < TIMERS * 0.8:
            break
        time.sleep(0.05)
    assert 0 < left < TIMERS  # killed in the middle
    workers[0].send_signal(signal.SIGKILL)
    outputs = [w.communicate(timeout=300) for w in workers]
    assert workers[0].returncode == -signal.SIGKILL
    assert all(w.returncode == 0 for w in workers[1:]), [o[1][-2000:] for o in outputs]
    fired_by = [int(o[0].split("FIRED ")[1]) for o in outputs[1:]]
    with session_scope(committed_db.sessions) as session:
        waiting = session.execute(
            select(func.count())
            .select_from(Timer)
            .where(Timer.bpmn_id == "wait_a_day", Timer.status == "waiting")
        ).scalar_one()
        fired_events = session.execute(
            select(AuditEvent.instance_id, func.count())
            .where(AuditEvent.kind == "timer_fired", AuditEvent.bpmn_id == "wait_a_day")
            .group_by(AuditEvent.instance_id)
        ).all()
        open_go_on = session.execute(
            select(func.count())
            .select_from(HumanTask)
            .where(HumanTask.bpmn_id == "go_on", HumanTask.status == "open")
        ).scalar_one()
    assert waiting == 0
    assert len(fired_events) == TIMERS and all(n == 1 for _i, n in fired_events)  # each exactly once
    assert open_go_on == TIMERS
    assert sum(fired_by) <= TIMERS and all(n > 0 for n in fired_by)  # the living two shared the work


def test_the_timer_watch_fires_a_timer_once_it_is_due_and_skips_suspended_cases(
    committed_db, registry, clock
):
    """The watch sleeps until the next due timer (never past ``wake``); a suspended case's due
    timer neither fires nor keeps it busy."""
    import time as real_time
    from datetime import timedelta
    from types import SimpleNamespace

    from sqlalchemy import select

    from engine.db import session_scope
    from engine.models import Timer
    from engine.runtime import ProcessEngine
    from engine.scheduler import TimerWatch, next_due
    from engine.settings import Settings
    from tests.conftest import make_people, review_files
    from tests.test_timers import run_to_act

    engine = ProcessEngine(registry, clock, script_timeout=1.0)
    with session_scope(committed_db.sessions) as session:
        people = make_people(session)
        engine.deploy(session, review_files())
        first = run_to_act(session, engine, people).id
        second = run_to_act(session, engine, people).id
        engine.suspend(session, second, people.qmr)
    with session_scope(committed_db.sessions) as session:
        assert next_due(session) == clock.now() + timedelta(days=3)  # the suspended one's is not counted
    settings = Settings.from_env({}, database_url=committed_db.url, secret_key="t", timer_wake_seconds=0.05)
    rt = SimpleNamespace(sessions=committed_db.sessions, engine=engine, settings=settings)
    watch = TimerWatch(rt)  # type: ignore[arg-type]
    watch.start()
    try:
        clock.advance(timedelta(days=3, seconds=1))
        deadline = real_time.monotonic() + 20
        while real_time.monotonic() < deadline:
            with session_scope(committed_db.sessions) as session:
                states = dict(session.execute(select(Timer.instance_id, Timer.status)).all())
            if states[first] == "fired":
                break
            real_time.sleep(0.05)
    finally:
        watch.stop()
        watch.join(5)
    assert states == {first: "fired", second: "waiting"}
    assert not watch.is_alive()


def test_only_one_scheduler_at_a_time_runs_the_jobs_that_must_not_double(committed_db):
    """Due-date notices and trend rules: a second scheduler skips the round the first holds."""
    from engine.db import job_lock, session_scope

    with session_scope(committed_db.sessions) as first:
        assert job_lock(first, "trend-rules")
        with session_scope(committed_db.sessions) as second:
            held = not job_lock(second, "trend-rules")
            assert job_lock(second, "scan-due")  # another job's lock is free
        if committed_db.engine.dialect.name == "postgresql":
            assert held
    with session_scope(committed_db.sessions) as later:  # released with its transaction
        assert job_lock(later, "trend-rules")
