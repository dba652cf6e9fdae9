"""Start to end through gateways, a parallel split, a call activity and a DMN table."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.errors import Conflict, InvalidState, NotAuthorized, ValidationFailed
from engine.models import AuditEvent, CaseRecord
from tests.helpers import assert_inbox_matches, open_tasks, task_by_bpmn

RAISE = {
    "description": "Wrong tariff given",
    "severity_hint": "major",
    "site": "Bandung",
    "agent_code": "1001",
}


def start_review(session, engine, people, data=None):
    result = engine.start(session, "review", people.qc, data)
    assert result.incident is None
    return result.instance


def test_happy_path_through_gateway_split_call_activity_and_dmn(session, engine, deployed, people):
    inst = start_review(session, engine, people)
    assert_inbox_matches(session, engine, inst)
    raise_task = task_by_bpmn(session, inst.id, "raise")
    assert raise_task.role_key == "quality_control"
    assert raise_task.form_ref == "review/raise.json"
    engine.complete(session, raise_task.id, people.qc, RAISE)
    assert_inbox_matches(session, engine, inst)

    triage = task_by_bpmn(session, inst.id, "triage")
    assert triage.role_key == "qmr"
    # DMN: major -> 7 days, and the due property turns it into a due date
    assert (triage.due_at - engine.clock.now()).days == 7
    case = session.get(CaseRecord, inst.id)
    assert case.severity == "major" and case.site == "Bandung" and case.agent_code == "1001"
    assert case.number.startswith("RV-2026-")

    engine.complete(session, triage.id, people.qmr, {"valid": True, "agent_named": "1001"})
    assert_inbox_matches(session, engine, inst)
    names = sorted(t.bpmn_id for t in open_tasks(session, inst.id))
    assert names == ["acknowledge", "contain"]  # parallel split

    engine.complete(session, task_by_bpmn(session, inst.id, "contain").id, people.tl, {})
    assert [t.bpmn_id for t in open_tasks(session, inst.id)] == ["acknowledge"]
    engine.complete(session, task_by_bpmn(session, inst.id, "acknowledge").id, people.agent, {})
    assert_inbox_matches(session, engine, inst)

    act = task_by_bpmn(session, inst.id, "act")
    engine.complete(session, act.id, people.tl, {"done": "retrained"})
    verify = task_by_bpmn(session, inst.id, "verify")  # inside the called process
    assert verify.process_key == "verification" and verify.role_key == "qmr"
    result = engine.complete(session, verify.id, people.qmr, {"effective": True})
    assert result.instance.status == "completed"
    assert open_tasks(session, inst.id) == []
    kinds = [
        e.kind
        for e in session.execute(
            select(AuditEvent).where(AuditEvent.instance_id == inst.id).order_by(AuditEvent.seq)
        ).scalars()
    ]
    assert kinds[0] == "started" and kinds[-1] == "instance_completed"
    assert kinds.count("completed") == 6
    data = engine._load(result.instance).last_task.data
    assert data["completed_by"]["raise"] == {"username": "qc", "agent_code": "2001", "online_name": "Qc"}
    assert data["completed_by"]["acknowledge"] == {
        "username": "agent",
        "agent_code": "1001",
        "online_name": "Agent",
    }


def test_exclusive_gateway_condition_ends_rejected(session, engine, deployed, people):
    inst = start_review(session, engine, people)
    engine.complete(
        session, task_by_bpmn(session, inst.id, "raise").id, people.qc, {**RAISE, "severity_hint": "critical"}
    )
    triage = task_by_bpmn(session, inst.id, "triage")
    assert (triage.due_at - engine.clock.now()).days == 1
    result = engine.complete(session, triage.id, people.qmr, {"valid": False})
    assert result.instance.status == "completed"
    assert open_tasks(session, inst.id) == []


def test_validation_returns_every_field_error_and_changes_nothing(session, engine, deployed, people):
    inst = start_review(session, engine, people)
    task = task_by_bpmn(session, inst.id, "raise")
    state_before = inst.state_json
    with pytest.raises(ValidationFailed) as info:
        engine.complete(
            session, task.id, people.qc, {"description": "x", "agent_code": "12a", "found_on": "31-12-2026"}
        )
    errors = info.value.errors
    assert set(errors) == {"description", "severity_hint", "site", "agent_code", "found_on"}
    session.refresh(inst)
    assert inst.state_json == state_before
    assert task_by_bpmn(session, inst.id, "raise").status == "open"


def test_completing_twice_is_a_conflict(session, engine, deployed, people):
    inst = start_review(session, engine, people)
    task = task_by_bpmn(session, inst.id, "raise")
    engine.complete(session, task.id, people.qc, RAISE)
    with pytest.raises(Conflict, match="already completed"):
        engine.complete(session, task.id, people.qc, RAISE)


def test_only_role_members_or_admin_may_act(session, engine, deployed, people):
    inst = start_review(session, engine, people)
    task = task_by_bpmn(session, inst.id, "raise")
    with pytest.raises(NotAuthorized):
        engine.complete(session, task.id, people.agent, RAISE)
    with pytest.raises(NotAuthorized):
        engine.claim(session, task.id, people.tl)
    engine.claim(session, task.id, people.admin)
    with pytest.raises(Conflict, match="claimed"):
        engine.complete(session, task.id, people.qc, RAISE)
    engine.unclaim(session, task.id, people.admin)
    engine.claim(session, task.id, people.qc)
    with pytest.raises(Conflict):
        engine.claim(session, task.id, people.admin)
    engine.complete(session, task.id, people.qc, RAISE)


def test_assign_needs_assigner_role_and_eligible_assignee(session, engine, deployed, people):
    inst = start_review(session, engine, people)
    task = task_by_bpmn(session, inst.id, "raise")
    with pytest.raises(NotAuthorized):
        engine.assign(session, task.id, people.qc, people.qc)
    with pytest.raises(NotAuthorized, match="assignee"):
        engine.assign(session, task.id, people.qmr, people.agent)
    row = engine.assign(session, task.id, people.qmr, people.qc)
    assert row.assignee_id == people.qc.id


@pytest.mark.parametrize("named_as", ["agent2", "1002"], ids=["username", "agent_code"])
def test_lane_owners_name_users_for_a_lane(session, engine, deployed, people, named_as):
    inst = start_review(session, engine, people)
    engine.complete(session, task_by_bpmn(session, inst.id, "raise").id, people.qc, RAISE)
    triage = task_by_bpmn(session, inst.id, "triage")
    engine.complete(session, triage.id, people.qmr, {"valid": True, "agent_named": named_as})
    ack = task_by_bpmn(session, inst.id, "acknowledge")
    assert [o.user_id for o in ack.owners] == [people.agent2.id]  # by username or login code (8.5.2)
    with pytest.raises(NotAuthorized):
        engine.complete(session, ack.id, people.agent, {})
    engine.complete(session, ack.id, people.agent2, {})


def test_start_needs_a_startable_role(session, engine, deployed, people):
    with pytest.raises(NotAuthorized, match="may not start"):
        engine.start(session, "review", people.agent, {})


def test_suspend_blocks_completion_and_resume_restores(session, engine, deployed, people):
    inst = start_review(session, engine, people)
    task = task_by_bpmn(session, inst.id, "raise")
    engine.suspend(session, inst.id, people.qmr)
    with pytest.raises(InvalidState, match="suspended"):
        engine.complete(session, task.id, people.qc, RAISE)
    engine.resume(session, inst.id, people.qmr)
    engine.complete(session, task.id, people.qc, RAISE)


def test_cancel_closes_open_tasks(session, engine, deployed, people):
    inst = start_review(session, engine, people)
    with pytest.raises(NotAuthorized):
        engine.cancel(session, inst.id, people.agent)
    engine.cancel(session, inst.id, people.qmr, "raised by mistake")
    assert inst.status == "cancelled"
    assert open_tasks(session, inst.id) == []
    with pytest.raises(InvalidState):
        engine.cancel(session, inst.id, people.qmr)
