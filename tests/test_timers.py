"""Timers through the injectable clock: boundary interrupts, catch-up after downtime, start cycles."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from engine.db import session_scope
from engine.deploy import SourceFile
from engine.models import AuditEvent, HumanTask, ProcessInstance, Timer
from engine.runtime import ProcessEngine
from engine.scheduler import fire_due_timers
from engine.timers import due_timer_ids
from tests.conftest import DATA, make_people, review_files
from tests.helpers import assert_inbox_matches, open_tasks, statements_sent, task_by_bpmn

RAISE = {"description": "Wrong tariff given", "severity_hint": "minor", "site": "Bandung"}


def run_to_act(session, engine, people):
    inst = engine.start(session, "review", people.qc).instance
    engine.complete(session, task_by_bpmn(session, inst.id, "raise").id, people.qc, RAISE)
    engine.complete(
        session,
        task_by_bpmn(session, inst.id, "triage").id,
        people.qmr,
        {"valid": True, "agent_named": "agent"},
    )
    engine.complete(session, task_by_bpmn(session, inst.id, "contain").id, people.tl, {})
    engine.complete(session, task_by_bpmn(session, inst.id, "acknowledge").id, people.agent, {})
    return inst


def waiting_timers(session, inst):
    return list(
        session.execute(
            select(Timer).where(Timer.instance_id == inst.id, Timer.status == "waiting")
        ).scalars()
    )


def test_boundary_timer_interrupts_the_task(session, engine, deployed, people, clock):
    inst = run_to_act(session, engine, people)
    [timer] = waiting_timers(session, inst)
    assert timer.bpmn_id == "act_overdue"
    assert timer.fire_at == clock.now() + timedelta(days=3)
    clock.advance(timedelta(days=2))
    assert due_timer_ids(session, clock.now(), 10) == []
    assert engine.fire_timer(session, timer.id) is False  # not due yet
    clock.advance(timedelta(days=1, seconds=1))
    assert due_timer_ids(session, clock.now(), 10) == [timer.id]
    assert engine.fire_timer(session, timer.id) is True
    assert [t.bpmn_id for t in open_tasks(session, inst.id)] == ["escalate"]
    assert_inbox_matches(session, engine, inst)
    session.refresh(timer)
    assert timer.status == "fired"
    assert engine.fire_timer(session, timer.id) is False  # exactly once
    kinds = [
        e.kind for e in session.execute(select(AuditEvent).where(AuditEvent.instance_id == inst.id)).scalars()
    ]
    assert kinds.count("timer_fired") == 1


def test_a_timer_at_its_very_moment_waits_a_moment_and_is_never_lost(
    session, engine, deployed, people, clock
):
    """SpiffWorkflow expires a timer only after its moment; firing at it would mark it fired for nothing."""
    inst = run_to_act(session, engine, people)
    [timer] = waiting_timers(session, inst)
    clock.set(timer.fire_at)
    assert due_timer_ids(session, clock.now(), 10) == [] and engine.fire_timer(session, timer.id) is False
    clock.advance(timedelta(microseconds=1))
    assert engine.fire_timer(session, timer.id) is True
    assert [t.bpmn_id for t in open_tasks(session, inst.id)] == ["escalate"]


def test_completing_before_the_deadline_cancels_the_timer(session, engine, deployed, people, clock):
    inst = run_to_act(session, engine, people)
    [timer] = waiting_timers(session, inst)
    engine.complete(session, task_by_bpmn(session, inst.id, "act").id, people.tl, {})
    session.refresh(timer)
    assert timer.status == "cancelled"
    clock.advance(timedelta(days=10))
    assert engine.fire_timer(session, timer.id) is False


def test_suspended_instance_timer_waits_until_resumed(session, engine, deployed, people, clock):
    inst = run_to_act(session, engine, people)
    [timer] = waiting_timers(session, inst)
    engine.suspend(session, inst.id, people.qmr)
    clock.advance(timedelta(days=4))
    assert engine.fire_timer(session, timer.id) is False
    engine.resume(session, inst.id, people.qmr)
    assert engine.fire_timer(session, timer.id) is True
    assert [t.bpmn_id for t in open_tasks(session, inst.id)] == ["escalate"]


def test_timer_due_while_scheduler_was_down_fires_on_start(committed_db, registry, clock):
    engine = ProcessEngine(registry, clock)
    with session_scope(committed_db.sessions) as session:
        people = make_people(session)
        engine.deploy(session, review_files())
        inst_id = run_to_act(session, engine, people).id
    # The scheduler is down for a week; nothing fires by itself.
    clock.advance(timedelta(days=7))
    with session_scope(committed_db.sessions) as session:
        assert [t.bpmn_id for t in open_tasks(session, inst_id)] == ["act"]
    # It comes back: the overdue timer fires once, and a second pass finds nothing.
    assert fire_due_timers(committed_db.sessions, engine) == 1
    assert fire_due_timers(committed_db.sessions, engine) == 0
    with session_scope(committed_db.sessions) as session:
        assert [t.bpmn_id for t in open_tasks(session, inst_id)] == ["escalate"]
        fired = session.execute(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.instance_id == inst_id, AuditEvent.kind == "timer_fired")
        ).scalar()
        assert fired == 1


CYCLE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="c_defs" targetNamespace="http://mutu.example/bpmn">
  <bpmn:process id="monthly" name="Monthly check" isExecutable="true">
    <bpmn:laneSet id="c_lanes"><bpmn:lane id="c_lane" name="Quality Control">
      <bpmn:flowNodeRef>c_start</bpmn:flowNodeRef><bpmn:flowNodeRef>plan</bpmn:flowNodeRef><bpmn:flowNodeRef>c_end</bpmn:flowNodeRef>
    </bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="c_start" name="Each month">
      <bpmn:outgoing>c1</bpmn:outgoing>
      <bpmn:timerEventDefinition id="c_timer"><bpmn:timeCycle>"R3/2026-02-01T00:00:00+07:00/P1M"</bpmn:timeCycle></bpmn:timerEventDefinition>
    </bpmn:startEvent>
    <bpmn:userTask id="plan" name="Plan the monthly check"><bpmn:incoming>c1</bpmn:incoming><bpmn:outgoing>c2</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="c_end"><bpmn:incoming>c2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="c1" sourceRef="c_start" targetRef="plan" />
    <bpmn:sequenceFlow id="c2" sourceRef="plan" targetRef="c_end" />
  </bpmn:process>
</bpmn:definitions>
"""


def test_start_cycle_timer_starts_instances_periodically(session, engine, clock):
    engine.deploy(session, [SourceFile("monthly.bpmn", CYCLE.encode())])
    [timer] = session.execute(select(Timer).where(Timer.kind == "start")).scalars()
    assert timer.fire_at.isoformat() == "2026-01-31T17:00:00+00:00" and timer.cycles_left == 3
    started = []
    for _ in range(4):
        clock.set(timer.fire_at + timedelta(minutes=1))
        if not engine.fire_timer(session, timer.id):
            break
        session.refresh(timer)
        started.append(timer.fire_at)
    instances = list(
        session.execute(select(ProcessInstance).where(ProcessInstance.process_key == "monthly")).scalars()
    )
    assert len(instances) == 3
    assert timer.status == "fired"
    for inst in instances:
        assert [t.bpmn_id for t in open_tasks(session, inst.id)] == ["plan"]
    # Redeploying the same content keeps the schedule; a change replans it.
    engine.deploy(session, [SourceFile("monthly.bpmn", CYCLE.encode())])
    assert session.execute(select(func.count()).select_from(Timer).where(Timer.kind == "start")).scalar() == 1


FRAGILE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="f_defs" targetNamespace="http://mutu.example/bpmn">
  <bpmn:process id="fragile" name="Fragile escalation" isExecutable="true">
    <bpmn:startEvent id="f_start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="work" name="Work"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:boundaryEvent id="late" attachedToRef="work" cancelActivity="true">
      <bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:timerEventDefinition id="late_def"><bpmn:timeDuration>"P1D"</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:scriptTask id="escalate_calc" name="Escalate"><bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing>
      <bpmn:script>{script}</bpmn:script></bpmn:scriptTask>
    <bpmn:userTask id="escalated" name="Escalated"><bpmn:incoming>f4</bpmn:incoming><bpmn:outgoing>f5</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="f_end"><bpmn:incoming>f2</bpmn:incoming><bpmn:incoming>f5</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="f_start" targetRef="work" />
    <bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="f_end" />
    <bpmn:sequenceFlow id="f3" sourceRef="late" targetRef="escalate_calc" />
    <bpmn:sequenceFlow id="f4" sourceRef="escalate_calc" targetRef="escalated" />
    <bpmn:sequenceFlow id="f5" sourceRef="escalated" targetRef="f_end" />
  </bpmn:process>
</bpmn:definitions>
"""


def test_timer_whose_step_fails_stays_armed_until_retried(session, engine, people, clock):
    engine.deploy(session, [SourceFile("fragile.bpmn", FRAGILE.format(script="level = 1 / 0").encode())])
    inst = engine.start(session, "fragile", people.qc).instance
    [timer] = waiting_timers(session, inst)
    clock.advance(timedelta(days=2))
    assert engine.fire_timer(session, timer.id) is True
    session.refresh(timer)
    assert inst.status == "incident" and timer.status == "waiting"  # re-armed, not lost
    assert engine.fire_timer(session, timer.id) is False  # the scheduler leaves an incident alone
    assert [t.bpmn_id for t in open_tasks(session, inst.id)] == ["work"]
    # The QMR fixes the script in a new version, moves the case and retries.
    engine.deploy(session, [SourceFile("fragile.bpmn", FRAGILE.format(script="level = 1").encode())])
    due = timer.fire_at
    engine.migrate(session, inst.id, people.qmr)
    session.refresh(timer)
    assert timer.fire_at == due  # moving to the fixed version does not restart the deadline
    assert engine.retry(session, inst.id, people.qmr).incident is None
    session.refresh(timer)
    assert timer.status == "fired" and inst.status == "running"
    assert [t.bpmn_id for t in open_tasks(session, inst.id)] == ["escalated"]
    assert_inbox_matches(session, engine, inst)


CONSTRUCTS = DATA / "constructs"


def _run_construct(session, engine, clock, file_name, process_id):  # type: ignore[no-untyped-def]
    engine.deploy(session, [SourceFile(file_name, (CONSTRUCTS / file_name).read_bytes())])
    admin = make_people(session).admin
    inst = engine.start(session, process_id, admin, {}).instance
    session.commit()
    session.expire_all()  # every step below reads the stored state again
    return inst, admin


def test_a_timer_on_an_event_based_gateway_is_scheduled_and_fires(session, engine, clock):
    inst, _admin = _run_construct(session, engine, clock, "event_gateway.bpmn", "evgw")
    [timer] = waiting_timers(session, inst)
    assert (timer.bpmn_id, timer.fire_at) == ("gw", clock.now() + timedelta(days=2))
    clock.advance(timedelta(days=2, seconds=1))
    assert engine.fire_timer(session, timer.id) is True
    session.expire_all()
    assert session.get(ProcessInstance, inst.id).status == "completed"
    ended = engine.element_states(session.get(ProcessInstance, inst.id))["completed"]
    assert "e_timer" in ended and "e_msg" not in ended


def test_a_timer_started_event_subprocess_runs_beside_the_work_across_reloads(session, engine, clock):
    inst, admin = _run_construct(session, engine, clock, "timer_event_subprocess.bpmn", "evsub")
    [timer] = waiting_timers(session, inst)
    assert timer.bpmn_id == "late_start"
    clock.advance(timedelta(days=1, seconds=1))
    assert engine.fire_timer(session, timer.id) is True
    session.expire_all()
    assert sorted(t.bpmn_id for t in open_tasks(session, inst.id)) == ["remind", "work"]
    for bpmn_id in ("work", "remind"):
        result = engine.complete(session, task_by_bpmn(session, inst.id, bpmn_id).id, admin, {})
        assert result.incident is None
        session.expire_all()
    assert session.get(ProcessInstance, inst.id).status == "completed"


def test_on_postgresql_a_steps_timer_rows_ride_in_its_one_statement(session, engine, deployed, people, clock):
    """Arming a boundary timer, cancelling it, and the inbox row its firing interrupts are
    written inside the step's statement, not by statements of their own."""
    import pytest

    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite runs each write at once, in-process")
    first, second = run_to_act(session, engine, people), run_to_act(session, engine, people)
    assert len(waiting_timers(session, first)) == 1  # armed by acknowledge's statement
    act = task_by_bpmn(session, first.id, "act")
    assert statements_sent(lambda: engine.complete(session, act.id, people.tl, {}))[1] == ["SELECT", "WITH"]
    assert waiting_timers(session, first) == []
    assert session.execute(select(Timer.status).where(Timer.instance_id == first.id)).scalar_one() == (
        "cancelled"
    )
    [timer] = waiting_timers(session, second)
    clock.advance(timedelta(days=3, seconds=1))
    fired_now, fired = statements_sent(lambda: engine.fire_timer(session, timer.id))
    assert fired_now is True
    assert fired.count("WITH") == 1 and fired.count("UPDATE") == 1, fired  # the claim, then the step
    assert [t.bpmn_id for t in open_tasks(session, second.id)] == ["escalate"]
    act_rows = select(HumanTask.status).where(HumanTask.instance_id == second.id, HumanTask.bpmn_id == "act")
    assert session.execute(act_rows).scalar_one() == "cancelled"
    session.refresh(timer)
    assert timer.status == "fired"
    assert_inbox_matches(session, engine, second)
    assert_inbox_matches(session, engine, first)
