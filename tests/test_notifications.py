"""Notifications: what a step writes, who is told, each person's choice, and nothing for a rollback."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from engine import notify
from engine.deploy import SourceFile
from engine.errors import ValidationFailed
from engine.models_notify import Notification, NotificationEvent
from engine.scheduler import fire_due_timers
from tests.conftest import DATA, make_user
from tests.helpers import task_by_bpmn
from tests.test_timers import RAISE, run_to_act, waiting_timers


def told(session, user):
    return [
        (n.event, n.delivery)
        for n in session.execute(
            select(Notification).where(Notification.user_id == user.id).order_by(Notification.id)
        ).scalars()
    ]


def events(session):
    return [
        e.kind for e in session.execute(select(NotificationEvent).order_by(NotificationEvent.id)).scalars()
    ]


def test_a_task_reaching_a_role_queue_tells_its_holders_in_the_daily_digest(
    session, engine, deployed, people, clock
):
    inst = engine.start(session, "review", people.qc).instance
    engine.complete(session, task_by_bpmn(session, inst.id, "raise").id, people.qc, RAISE)
    assert events(session) == ["queued", "queued"]  # raise in QC's queue, then triage in the QMR's
    other_qmr = make_user(session, "qmr2", "qmr")
    result = notify.dispatch(session, clock.now())
    assert sorted(t.user.username for t in result) == ["qmr", "qmr2"]  # admins are not told by office
    assert told(session, people.qmr) == [("queued", "digest")]
    assert told(session, other_qmr) == [("queued", "digest")]
    assert told(session, people.admin) == []
    assert notify.dispatch(session, clock.now()) == []  # each event once


def test_a_task_given_to_me_is_told_at_once_and_a_claimed_queue_task_tells_nobody(
    session, engine, deployed, people, clock
):
    inst = engine.start(session, "review", people.qc).instance
    engine.complete(session, task_by_bpmn(session, inst.id, "raise").id, people.qc, RAISE)
    triage = task_by_bpmn(session, inst.id, "triage")
    engine.claim(session, triage.id, people.qmr)  # taken before the scheduler came round
    engine.unclaim(session, triage.id, people.qmr)
    engine.assign(session, triage.id, people.admin, people.qmr)
    notify.dispatch(session, clock.now())
    assert told(session, people.qmr) == [("assigned", "immediate")]  # the queue event found it held


def test_giving_myself_a_task_tells_nobody(session, engine, deployed, people, clock):
    inst = engine.start(session, "review", people.qc).instance
    engine.complete(session, task_by_bpmn(session, inst.id, "raise").id, people.qc, RAISE)
    notify.dispatch(session, clock.now())
    engine.assign(session, task_by_bpmn(session, inst.id, "triage").id, people.admin, people.admin)
    assert events(session) == ["queued", "queued"]


def test_a_rolled_back_step_leaves_no_event(session, engine, deployed, people, clock):
    inst = engine.start(session, "review", people.qc).instance
    raise_task = task_by_bpmn(session, inst.id, "raise")
    with pytest.raises(ValidationFailed):
        engine.complete(session, raise_task.id, people.qc, {"severity_hint": "no such"})
    assert events(session) == ["queued"]  # the start's: raise waits in QC's queue
    nested = session.begin_nested()
    engine.complete(session, raise_task.id, people.qc, RAISE)
    assert events(session) == ["queued", "queued"]
    nested.rollback()
    assert events(session) == ["queued"]
    notify.dispatch(session, clock.now())
    assert told(session, people.qmr) == []


def test_a_task_opened_by_a_timer_is_an_escalation_told_at_once(session, engine, deployed, people, clock):
    inst = run_to_act(session, engine, people)
    notify.dispatch(session, clock.now())
    [timer] = waiting_timers(session, inst)
    clock.advance(timedelta(days=3, seconds=1))
    assert engine.fire_timer(session, timer.id)
    assert events(session)[-1] == "escalation"
    notify.dispatch(session, clock.now())
    assert told(session, people.qmr)[-1] == ("escalation", "immediate")  # escalate is the QMR's


def test_a_non_interrupting_timer_reminds_the_holder_of_the_task(session, engine, people, clock):
    path = DATA / "constructs" / "timer_boundary.bpmn"
    engine.deploy(session, [SourceFile(path.name, path.read_bytes())])
    inst = engine.start(session, "timer_boundary", people.qc).instance
    [remind] = [t for t in waiting_timers(session, inst) if t.bpmn_id == "remind"]
    clock.advance(timedelta(hours=12, seconds=1))
    assert engine.fire_timer(session, remind.id)
    notify.dispatch(session, clock.now())
    assert told(session, people.qc) == [("reminder", "immediate")]


def test_due_soon_and_overdue_are_told_once_each(session, engine, deployed, people, clock):
    inst = engine.start(session, "review", people.qc).instance
    engine.complete(session, task_by_bpmn(session, inst.id, "raise").id, people.qc, RAISE)
    triage = task_by_bpmn(session, inst.id, "triage")
    engine.claim(session, triage.id, people.qmr)
    assert triage.due_at is not None
    assert notify.scan_due(session, clock.now()) == 0
    clock.set(triage.due_at - timedelta(hours=2))
    assert notify.scan_due(session, clock.now()) == 1
    assert notify.scan_due(session, clock.now()) == 0
    clock.set(triage.due_at + timedelta(minutes=1))
    assert notify.scan_due(session, clock.now()) == 1
    notify.dispatch(session, clock.now())
    assert [e for e, _ in told(session, people.qmr)] == ["due", "overdue"]  # held: only its holder


def test_each_user_chooses_per_kind(session, engine, deployed, people, clock):
    assert notify.preferences(session, people.qmr)["queued"] == "digest"
    assert notify.preferences(session, people.qmr)["assigned"] == "immediate"
    notify.set_preferences(session, people.qmr, {"queued": "off", "assigned": "digest"})
    inst = engine.start(session, "review", people.qc).instance
    engine.complete(session, task_by_bpmn(session, inst.id, "raise").id, people.qc, RAISE)
    notify.dispatch(session, clock.now())
    assert told(session, people.qmr) == []
    engine.assign(session, task_by_bpmn(session, inst.id, "triage").id, people.admin, people.qmr)
    notify.dispatch(session, clock.now())
    assert told(session, people.qmr) == [("assigned", "digest")]
    with pytest.raises(ValidationFailed, match="not one of"):
        notify.set_preferences(session, people.qmr, {"queued": "hourly"})
    with pytest.raises(ValidationFailed, match="unknown kind"):
        notify.set_preferences(session, people.qmr, {"gossip": "off"})


def test_the_bell_counts_and_marks_only_my_own(session, engine, deployed, people, clock):
    inst = engine.start(session, "review", people.qc).instance
    engine.complete(session, task_by_bpmn(session, inst.id, "raise").id, people.qc, RAISE)
    make_user(session, "qmr2", "qmr")
    notify.dispatch(session, clock.now())
    assert notify.unread_count(session, people.qmr) == 1
    [mine], total = notify.list_for(session, people.qmr)
    assert total == 1
    assert notify.mark_read(session, people.tl, clock.now(), [mine.id]) == 0  # not theirs
    assert notify.mark_read(session, people.qmr, clock.now(), [mine.id]) == 1
    assert notify.unread_count(session, people.qmr) == 0
    unread = select(func.count()).select_from(Notification).where(Notification.read_at.is_(None))
    assert session.execute(unread).scalar_one() == 1  # the other QMR's is untouched


def test_the_scheduler_fires_timers_without_losing_events(committed_db, registry, clock):
    """Timer steps write their events through the batching path on PostgreSQL as well."""
    from engine.db import session_scope
    from engine.runtime import ProcessEngine
    from tests.conftest import make_people, review_files

    engine = ProcessEngine(registry, clock, script_timeout=1.0)
    with session_scope(committed_db.sessions) as session:
        people = make_people(session)
        engine.deploy(session, review_files())
        inst_id = run_to_act(session, engine, people).id
    clock.advance(timedelta(days=3, seconds=1))
    assert fire_due_timers(committed_db.sessions, engine) == 1
    with session_scope(committed_db.sessions) as session:
        kinds = events(session)
        assert kinds.count("escalation") == 1
        rows = session.execute(
            select(NotificationEvent).where(NotificationEvent.kind == "escalation")
        ).scalars()
        assert [e.instance_id for e in rows] == [inst_id]
