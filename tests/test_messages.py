"""Messages follow BPMN: a message start event of any process in effect receives a thrown message.

A message one case throws to another leaves the sender's step as a message job; ``deliver``
runs the jobs due now as the scheduler or a Celery worker would.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from engine import message_jobs
from engine.deploy import SourceFile
from engine.models import AuditEvent, Incident, MessageJob, ProcessInstance
from tests.conftest import DATA, make_people
from tests.helpers import open_tasks

CONSTRUCTS = DATA / "constructs"


def _deploy(session, engine, *names):  # type: ignore[no-untyped-def]
    engine.deploy(session, [SourceFile(n, (CONSTRUCTS / n).read_bytes()) for n in names])


def deliver(session, engine) -> None:  # type: ignore[no-untyped-def]
    session.commit()
    message_jobs.drain(session, engine)
    session.expire_all()  # what the worker wrote is read back from the database


def test_a_message_start_event_is_found_by_the_message_name_not_the_process_key(session, engine):
    _deploy(session, engine, "message_start.bpmn", "message_sender.bpmn")
    admin = make_people(session).admin
    sender = engine.start(session, "complaint_desk", admin, {})
    assert sender.incident is None and sender.instance.status == "completed"
    session.commit()
    [job] = session.execute(select(MessageJob)).scalars()
    assert (job.status, job.name, job.sender_id, job.element_id) == (
        "waiting",
        "complaint_received",
        sender.instance.id,
        "send",
    )
    assert (
        session.execute(
            select(ProcessInstance).where(ProcessInstance.process_key == "complaint_intake")
        ).all()
        == []
    )
    deliver(session, engine)
    [received] = session.execute(
        select(ProcessInstance).where(ProcessInstance.process_key == "complaint_intake")
    ).scalars()
    assert [t.bpmn_id for t in open_tasks(session, received.id)] == ["read_it"]
    workflow = engine._load(received)
    [ready] = [t for t in workflow.get_tasks() if getattr(t.task_spec, "bpmn_id", None) == "read_it"]
    assert (
        ready.data["text"] == "pelanggan marah"
        and ready.data["raised_by"]["instance_id"] == sender.instance.id
    )
    job = session.get(MessageJob, job.id)
    assert (job.status, job.attempts, job.received) == ("done", 1, [received.id])
    [arrived] = session.execute(
        select(AuditEvent).where(AuditEvent.instance_id == received.id, AuditEvent.kind == "message_received")
    ).scalars()
    assert arrived.data["from"] == sender.instance.id and arrived.data["started"] is True
    assert engine.deliver_message_job(session, job) == "skipped"  # run again: it is done
    assert session.execute(
        select(ProcessInstance).where(ProcessInstance.process_key == "complaint_intake")
    ).all() == [(received,)]
    assert message_jobs.forget_finished(session, engine.clock.now()) == 0
    assert message_jobs.forget_finished(session, engine.clock.now() + timedelta(days=31)) == 1


def test_a_message_nobody_receives_is_retried_then_an_incident_on_the_sender_whose_retry_sends_it(
    session, engine, clock
):
    _deploy(session, engine, "message_sender.bpmn")
    admin = make_people(session).admin
    result = engine.start(session, "complaint_desk", admin, {})
    assert result.incident is None and result.instance.status == "completed"  # its step did not wait
    sender = result.instance.id
    waits = []
    for _ in range(message_jobs.RETRIES):
        deliver(session, engine)
        job = session.execute(select(MessageJob)).scalar_one()
        assert job.status == "waiting" and "no deployed process receives" in job.last_error
        waits.append((job.due_at - clock.now()).total_seconds())
        clock.advance(job.due_at - clock.now())
    assert waits == [2.0, 4.0, 8.0]  # the receiver may only be late: backoff before an incident
    deliver(session, engine)
    job = session.execute(select(MessageJob)).scalar_one()
    [incident] = session.execute(select(Incident)).scalars()
    assert (job.status, job.attempts) == ("failed", 4)
    assert incident.instance_id == sender and incident.pending_action["action"] == "deliver"
    assert "no deployed process receives message 'complaint_received'" in incident.message
    assert incident.element_id == "send" and engine.element_states(session.get(ProcessInstance, sender))[
        "incident"
    ] == ["send"]
    assert session.get(ProcessInstance, sender).status == "incident"

    _deploy(session, engine, "message_start.bpmn")  # the receiving process is published; retry
    ended_at = session.get(ProcessInstance, sender).ended_at
    assert engine.retry(session, sender, admin).incident is None
    assert session.get(ProcessInstance, sender).status == "completed"
    assert session.get(ProcessInstance, sender).ended_at == ended_at  # it ended once, when it ended
    ends = session.execute(
        select(AuditEvent).where(AuditEvent.instance_id == sender, AuditEvent.kind == "instance_completed")
    ).all()
    assert len(ends) == 1
    deliver(session, engine)
    job = session.execute(select(MessageJob)).scalar_one()
    assert job.status == "done" and len(job.received) == 1


def _buyers(session, engine):  # type: ignore[no-untyped-def]
    _deploy(session, engine, "buyer.bpmn", "supplier_desk.bpmn")
    admin = make_people(session).admin
    first = engine.start(session, "buyer", admin, engine_data={"order_id": "PO-1"})
    second = engine.start(session, "buyer", admin, engine_data={"order_id": "PO-2"})
    assert first.incident is None and second.incident is None
    deliver(session, engine)
    return admin, first.instance.id, second.instance.id


def test_a_reply_reaches_the_one_waiting_case_whose_correlation_key_matches(session, engine):
    from engine.models_messages import MessageWait

    admin, first, second = _buyers(session, engine)
    suppliers = (
        session.execute(select(ProcessInstance).where(ProcessInstance.process_key == "supplier_desk"))
        .scalars()
        .all()
    )
    assert len(suppliers) == 2  # each request started the supplier's desk by its message start event
    waits = session.execute(select(MessageWait).where(MessageWait.status == "waiting")).scalars().all()
    assert {(w.instance_id, w.name) for w in waits} == {(first, "order_reply"), (second, "order_reply")}
    out = engine.send_message(
        session, "order_reply", {"order_id": "PO-2", "price": 12}, {"order": {"order_id": "PO-2"}}, admin
    )
    assert out == {"received": [second], "started": []}  # a message from outside arrives in its request
    session.commit()
    session.expire_all()
    assert [t.bpmn_id for t in open_tasks(session, second)] == ["check"]
    assert [t.bpmn_id for t in open_tasks(session, first)] == []  # still waiting for its own reply
    [still] = session.execute(select(MessageWait).where(MessageWait.status == "waiting")).scalars()
    assert still.instance_id == first
    data = next(
        t
        for t in engine._load(session.get(ProcessInstance, second)).get_tasks()
        if t.task_spec.bpmn_id == "check"
    ).data
    assert data["answer"] == {"order_id": "PO-2", "price": 12}  # in the variable the catch event names


def test_a_reply_nobody_correlates_is_undelivered_and_changes_nothing(session, engine):
    import pytest

    from engine.runtime import MessageUndelivered

    admin, first, _second = _buyers(session, engine)
    with pytest.raises(MessageUndelivered, match="order_reply"):
        engine.send_message(
            session, "order_reply", {"order_id": "PO-9"}, {"order": {"order_id": "PO-9"}}, admin
        )


def test_a_receive_task_then_a_message_boundary_event_take_their_messages_across_reloads(session, engine):
    _deploy(session, engine, "receive_and_boundary.bpmn")
    admin = make_people(session).admin
    inst = engine.start(session, "receive_boundary", admin, {}).instance
    session.commit()
    session.expire_all()
    assert engine.send_message(session, "invoice_paid", {}, {}, admin)["received"] == [inst.id]
    session.commit()
    session.expire_all()
    assert [t.bpmn_id for t in open_tasks(session, inst.id)] == ["deliver"]
    assert engine.send_message(session, "order_cancelled", {}, {}, admin)["received"] == [inst.id]
    session.commit()
    session.expire_all()
    done = session.get(ProcessInstance, inst.id)
    assert done.status == "completed" and open_tasks(session, inst.id) == []
    assert "e_cancelled" in engine.element_states(done)["completed"]


def test_an_event_based_gateway_takes_the_message_branch_and_drops_its_timer(session, engine):
    from engine.models import Timer

    _deploy(session, engine, "event_gateway.bpmn")
    admin = make_people(session).admin
    inst = engine.start(session, "evgw", admin, {}).instance
    session.commit()
    session.expire_all()
    assert engine.send_message(session, "answer", {}, {}, admin)["received"] == [inst.id]
    session.commit()
    session.expire_all()
    assert session.get(ProcessInstance, inst.id).status == "completed"
    [timer] = session.execute(select(Timer).where(Timer.instance_id == inst.id)).scalars()
    assert timer.status == "cancelled"


def test_a_message_started_event_subprocess_is_found_and_runs_beside_the_work_across_reloads(session, engine):
    """SpiffWorkflow makes the event subprocess only when its message comes: no task waits in the tree."""
    _deploy(session, engine, "message_event_subprocess.bpmn")
    admin = make_people(session).admin
    inst = engine.start(session, "evmsg", admin, {}).instance
    session.commit()
    session.expire_all()
    for _ in range(2):  # non-interrupting: each nudge runs the subprocess again
        assert engine.send_message(session, "nudge", {}, {}, admin)["received"] == [inst.id]
        session.commit()
        session.expire_all()
    assert sorted(t.bpmn_id for t in open_tasks(session, inst.id)) == ["respond", "respond", "work"]
    for task in open_tasks(session, inst.id):
        assert engine.complete(session, task.id, admin, {}).incident is None
        session.commit()
        session.expire_all()
    assert session.get(ProcessInstance, inst.id).status == "completed"


@pytest.mark.parametrize("committed_db", ["sqlite", "postgres"], indirect=True)
def test_the_schedulers_pass_delivers_a_burst_past_one_batch_each_exactly_once(committed_db, registry, clock):
    from engine.db import session_scope
    from engine.runtime import ProcessEngine
    from engine.scheduler import messages

    engine = ProcessEngine(registry, clock, script_timeout=1.0)
    with session_scope(committed_db.sessions) as session:
        _deploy(session, engine, "message_start.bpmn", "message_sender.bpmn")
        admin = make_people(session).admin
    for _ in range(130):
        with session_scope(committed_db.sessions) as session:
            engine.start(session, "complaint_desk", session.merge(admin), {})
    runtime = type("Rt", (), {"sessions": committed_db.sessions, "engine": engine})()
    assert messages(runtime) == {"done": 130}  # two batches of up to 100 in one pass
    assert messages(runtime) == {}
    with session_scope(committed_db.sessions) as session:
        intakes = session.execute(
            select(ProcessInstance.id).where(ProcessInstance.process_key == "complaint_intake")
        ).all()
        assert len(intakes) == 130


@pytest.mark.parametrize("committed_db", ["sqlite", "postgres"], indirect=True)
def test_a_message_that_cannot_be_read_back_is_an_incident_and_does_not_hold_the_others(
    committed_db, registry, clock
):
    from engine.db import session_scope
    from engine.runtime import ProcessEngine
    from engine.scheduler import messages

    engine = ProcessEngine(registry, clock, script_timeout=1.0)
    with session_scope(committed_db.sessions) as session:
        _deploy(session, engine, "message_start.bpmn", "message_sender.bpmn")
        admin = make_people(session).admin
        broken = engine.start(session, "complaint_desk", admin, {}).instance.id
        fine = engine.start(session, "complaint_desk", admin, {}).instance.id
        first = session.execute(select(MessageJob).where(MessageJob.sender_id == broken)).scalar_one()
        first.event_json = '{"typename": "NoSuchEvent"}'  # as a hand edit or a lost converter leaves it
    runtime = type("Rt", (), {"sessions": committed_db.sessions, "engine": engine})()
    assert messages(runtime) == {"incident": 1, "done": 1}  # the one behind it still goes
    with session_scope(committed_db.sessions) as session:
        [incident] = session.execute(select(Incident).where(Incident.instance_id == broken)).scalars()
        assert "cannot be read back" in incident.message and incident.element_id == "send"
        assert session.get(ProcessInstance, fine).status == "completed"
        assert (
            len(
                session.execute(
                    select(ProcessInstance).where(ProcessInstance.process_key == "complaint_intake")
                ).all()
            )
            == 1
        )


def test_a_pass_in_batches_ends_at_a_batch_with_a_row_that_raised():
    """The next batch would claim that row again: a row that always raises must not loop a pass."""
    from engine.scheduler import in_batches

    batches = []

    def run(limit: int) -> dict[str, int]:
        batches.append(limit)
        return {"done": 100, "error": 1} if len(batches) == 1 else {"done": limit}

    assert in_batches(run, 101) == {"done": 100, "error": 1} and batches == [101]
    assert in_batches(lambda limit: {"done": limit // 2}, 10) == {"done": 5}
