"""Messages follow BPMN: a message start event of any process in effect receives a thrown message."""

from __future__ import annotations

from sqlalchemy import select

from engine.deploy import SourceFile
from engine.models import Incident, ProcessInstance
from tests.conftest import DATA, make_people
from tests.helpers import open_tasks

CONSTRUCTS = DATA / "constructs"


def _deploy(session, engine, *names):  # type: ignore[no-untyped-def]
    engine.deploy(session, [SourceFile(n, (CONSTRUCTS / n).read_bytes()) for n in names])


def test_a_message_start_event_is_found_by_the_message_name_not_the_process_key(session, engine):
    _deploy(session, engine, "message_start.bpmn", "message_sender.bpmn")
    admin = make_people(session).admin
    sender = engine.start(session, "complaint_desk", admin, {})
    assert sender.incident is None and sender.instance.status == "completed"
    session.commit()
    session.expire_all()  # the receiving case is read back from the database
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


def test_a_message_nobody_receives_is_an_incident_on_the_sender(session, engine):
    _deploy(session, engine, "message_sender.bpmn")
    result = engine.start(session, "complaint_desk", make_people(session).admin, {})
    assert result.incident is not None
    assert result.incident.element_id == "send" or result.incident.element_id is None
    assert "no deployed process receives message 'complaint_received'" in result.incident.message
    assert session.execute(select(Incident)).scalars().first() is not None


def _buyers(session, engine):  # type: ignore[no-untyped-def]
    _deploy(session, engine, "buyer.bpmn", "supplier_desk.bpmn")
    admin = make_people(session).admin
    first = engine.start(session, "buyer", admin, engine_data={"order_id": "PO-1"})
    second = engine.start(session, "buyer", admin, engine_data={"order_id": "PO-2"})
    assert first.incident is None and second.incident is None
    session.commit()
    session.expire_all()
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
    assert out == {"received": [second], "started": []}
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
