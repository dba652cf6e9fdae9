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
