"""The QMR moves a due date or a timer, or fires it now; each with its reason in the history."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from engine import case_status
from engine.deploy import SourceFile
from engine.errors import InvalidState, NotAuthorized, ValidationFailed
from engine.models import AuditEvent, HumanTask, Timer
from tests.conftest import DATA
from tests.helpers import open_tasks, task_by_bpmn


@pytest.fixture
def case(session, engine, people):  # type: ignore[no-untyped-def]
    path = DATA / "constructs" / "due_boundary.bpmn"
    engine.deploy(session, [SourceFile(path.name, path.read_bytes())])
    return engine.start(session, "due_boundary", people.qc).instance


def timer(session, inst, bpmn_id):  # type: ignore[no-untyped-def]
    return session.execute(
        select(Timer).where(Timer.instance_id == inst.id, Timer.bpmn_id == bpmn_id, Timer.status == "waiting")
    ).scalar_one()


def history(session, inst, kind):  # type: ignore[no-untyped-def]
    return [
        e.data
        for e in session.execute(
            select(AuditEvent).where(AuditEvent.instance_id == inst.id, AuditEvent.kind == kind)
        ).scalars()
    ]


def test_a_moved_timer_waits_for_its_new_date(session, engine, people, clock, case):
    late = timer(session, case, "late")
    new = clock.now() + timedelta(days=5)
    engine.move_timer(session, late.id, people.qmr, new, "supplier holiday")
    session.expire_all()
    assert timer(session, case, "late").fire_at == new
    assert history(session, case, "timer_moved")[0]["reason"] == "supplier holiday"
    clock.advance(timedelta(days=3))
    assert engine.fire_timer(session, late.id) is False  # the old date means nothing now
    assert [t.bpmn_id for t in open_tasks(session, case.id)] == ["work"]
    clock.advance(timedelta(days=2, seconds=1))
    assert engine.fire_timer(session, late.id) is True  # loaded again from the database
    assert [t.bpmn_id for t in open_tasks(session, case.id)] == ["chase"]


def test_fire_now_ends_the_wait_at_once(session, engine, people, clock, case):
    late = timer(session, case, "late")
    engine.fire_now(session, late.id, people.qmr, "the client asked for it")
    assert [t.bpmn_id for t in open_tasks(session, case.id)] == ["chase"]
    session.refresh(late)
    assert late.status == "fired"
    assert history(session, case, "timer_fired_now") == [
        {"due": (clock.now() + timedelta(days=2)).isoformat(), "reason": "the client asked for it"}
    ]
    with pytest.raises(InvalidState):
        engine.fire_now(session, late.id, people.qmr, "again")


def test_a_new_due_date_moves_the_overdue_timer_with_it(session, engine, people, clock, case):
    work = task_by_bpmn(session, case.id, "work")
    new = clock.now() + timedelta(days=4)
    engine.set_due(session, work.id, people.qmr, new, "waiting for the vendor")
    session.expire_all()
    assert session.get(HumanTask, work.id).due_at == new
    assert timer(session, case, "late").fire_at == new
    assert timer(session, case, "nudge").fire_at == clock.now() + timedelta(days=1)  # a reminder stays
    [changed] = history(session, case, "due_changed")
    assert changed["reason"] == "waiting for the vendor" and changed["to"] == new.isoformat()


def test_only_the_qmr_and_admins_move_time_and_always_with_a_reason(session, engine, people, clock, case):
    late = timer(session, case, "late")
    work = task_by_bpmn(session, case.id, "work")
    with pytest.raises(NotAuthorized):
        engine.fire_now(session, late.id, people.tl, "impatient")
    with pytest.raises(NotAuthorized):
        engine.set_due(session, work.id, people.qc, clock.now() + timedelta(days=9), "more time")
    with pytest.raises(ValidationFailed, match="reason"):
        engine.move_timer(session, late.id, people.qmr, clock.now() + timedelta(days=9), "  ")
    with pytest.raises(ValidationFailed, match="future"):
        engine.set_due(session, work.id, people.admin, clock.now() - timedelta(days=1), "back")


def test_the_status_says_what_the_case_waits_for(session, engine, people, clock, case):
    status = case_status.status_of(session, engine, case)
    assert [(w.kind, w.bpmn_id) for w in status.waiting] == [
        ("task", "work"),
        ("timer", "nudge"),
        ("timer", "late"),
    ]
    assert status.waiting[2].name == "Late" and status.waiting[2].due == clock.now() + timedelta(days=2)
    engine.complete(session, task_by_bpmn(session, case.id, "work").id, people.qc, {})
    session.refresh(case)
    done = case_status.status_of(session, engine, case)
    assert done.state == "completed" and done.ended == [("e_done", "Done")]
