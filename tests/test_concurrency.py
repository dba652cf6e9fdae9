"""Two threads complete the same task: exactly one wins, the other gets a Conflict.

The interleaving is forced with the engine's hook points and events, not sleeps
(Camunda's ControllableThread idea): on PostgreSQL the first thread holds the row
lock while the second is seen blocked in pg_stat_activity; on SQLite the second
thread runs to commit while the first waits between advancing and writing.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from engine.db import is_postgres, session_scope
from engine.errors import Conflict
from engine.identity import get_user
from engine.models import AuditEvent
from engine.runtime import ProcessEngine
from tests.conftest import make_people, review_files
from tests.helpers import task_by_bpmn

RAISE = {"description": "Wrong tariff given", "severity_hint": "minor", "site": "Bogor"}


class Gate:
    """Pause one thread at a named hook point until the test opens the gate."""

    def __init__(self, point: str) -> None:
        self.point = point
        self.reached = threading.Event()
        self.opened = threading.Event()
        self.owner: int | None = None

    def __call__(self, point: str, ctx: dict) -> None:
        if point == self.point and threading.get_ident() == self.owner:
            self.reached.set()
            assert self.opened.wait(30), "gate never opened"


def wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.01)


def test_same_task_completed_by_two_threads(committed_db, registry, clock):
    sessions = committed_db.sessions
    postgres = is_postgres(committed_db.engine)
    gate = Gate("locked")
    engine = ProcessEngine(registry, clock, hook=gate)
    with session_scope(sessions) as session:
        make_people(session)
        engine.deploy(session, review_files())
        qc = get_user(session, "qc")
        inst_id = engine.start(session, "review", qc).instance.id
        task_id = task_by_bpmn(session, inst_id, "raise").id

    outcomes: dict[str, str] = {}

    def complete(name: str) -> None:
        if name == "A":
            gate.owner = threading.get_ident()
        try:
            with session_scope(sessions) as session:
                engine.complete(session, task_id, get_user(session, "qc"), RAISE)
            outcomes[name] = "won"
        except Conflict as exc:
            outcomes[name] = f"conflict: {exc}"

    a = threading.Thread(target=complete, args=("A",))
    a.start()
    assert gate.reached.wait(30)
    b = threading.Thread(target=complete, args=("B",))
    b.start()
    if postgres:
        # B must be blocked on A's row lock before A may go on.
        def b_blocked() -> bool:
            with committed_db.engine.connect() as conn:
                return bool(
                    conn.execute(
                        text(
                            "select count(*) from pg_stat_activity where wait_event_type = 'Lock' and datname = current_database()"
                        )
                    ).scalar()
                )

        wait_for(b_blocked)
    else:
        # SQLite: A took the write lock when its transaction began; B queues behind it.
        b.join(1.0)
        assert b.is_alive() and "B" not in outcomes
    gate.opened.set()
    a.join(30)
    b.join(30)

    winners = [k for k, v in outcomes.items() if v == "won"]
    losers = [v for v in outcomes.values() if v.startswith("conflict")]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    assert winners == ["A"]  # the first to lock wins, on both databases
    assert f"task {task_id}" in losers[0] or f"instance {inst_id}" in losers[0]
    with session_scope(sessions) as session:
        completions = session.execute(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.instance_id == inst_id, AuditEvent.kind == "completed")
        ).scalar()
        assert completions == 1
        assert task_by_bpmn(session, inst_id, "triage")


@pytest.mark.parametrize("committed_db", ["postgres"], indirect=True)
def test_stale_lock_version_is_a_conflict(committed_db, registry, clock):
    """Two sessions that loaded the same instance version: the second writer loses.

    PostgreSQL only: on SQLite every transaction takes the write lock when it begins, so two
    writers never hold the same version open at once.
    """
    engine = ProcessEngine(registry, clock)
    sessions = committed_db.sessions
    with session_scope(sessions) as session:
        people = make_people(session)
        engine.deploy(session, review_files())
        inst_id = engine.start(session, "review", people.qc).instance.id
    first, second = sessions(), sessions()
    try:
        from engine.models import ProcessInstance

        one = first.get(ProcessInstance, inst_id)
        two = second.get(ProcessInstance, inst_id)
        one.updated_at = clock.advance(timedelta(seconds=1))
        first.commit()
        two.updated_at = clock.advance(timedelta(seconds=1))
        from engine.runtime.writes import _flush_or_conflict

        with pytest.raises(Conflict, match="changed by someone else"):
            _flush_or_conflict(second, two)
    finally:
        first.close()
        second.rollback()
        second.close()
