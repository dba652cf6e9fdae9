"""The audit trail is append-only and hash-chained; verify names the first broken link."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from engine import audit
from engine.db import is_postgres
from engine.models import AuditEvent
from tests.helpers import task_by_bpmn

RAISE = {"description": "Wrong tariff given", "severity_hint": "minor", "site": "Bogor", "agent_code": "1001"}


def make_history(session, engine, people):
    inst = engine.start(session, "review", people.qc).instance
    engine.claim(session, task_by_bpmn(session, inst.id, "raise").id, people.qc)
    engine.complete(session, task_by_bpmn(session, inst.id, "raise").id, people.qc, RAISE)
    return inst


def test_completion_events_carry_who_and_agent_code(session, engine, deployed, people):
    inst = make_history(session, engine, people)
    events = list(
        session.execute(
            select(AuditEvent).where(AuditEvent.instance_id == inst.id).order_by(AuditEvent.seq)
        ).scalars()
    )
    assert [e.kind for e in events] == ["started", "claimed", "completed"]
    done = events[-1]
    assert done.actor_username == "qc" and done.agent_code == "2001" and done.bpmn_id == "raise"
    assert done.data["data"]["description"] == "Wrong tariff given"
    assert [e.prev_hash for e in events[1:]] == [e.hash for e in events[:-1]]
    assert audit.verify(session) == []


def test_updates_and_deletes_are_refused_by_the_database(session, engine, deployed, people):
    inst = make_history(session, engine, people)
    with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
        session.execute(text("UPDATE audit_event SET kind = 'x' WHERE instance_id = :i"), {"i": inst.id})
    with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
        session.execute(text("DELETE FROM audit_event WHERE instance_id = :i"), {"i": inst.id})


def _without_guard(session):
    if is_postgres(session):
        session.execute(text("ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only"))
    else:
        session.execute(text("DROP TRIGGER audit_event_no_update"))
        session.execute(text("DROP TRIGGER audit_event_no_delete"))


def test_verify_reports_the_first_broken_link(session, engine, deployed, people):
    inst = make_history(session, engine, people)
    _without_guard(session)  # an attacker with database access; rolled back with the test
    session.execute(
        text("UPDATE audit_event SET data = :d WHERE instance_id = :i AND seq = 2"),
        {"d": '{"forged": true}', "i": inst.id},
    )
    broken = audit.verify(session, audit.chain_for(inst.id))
    assert [(b.seq, b.reason) for b in broken] == [(2, "its content does not match its hash (altered)")]


def test_verify_reports_a_missing_event(session, engine, deployed, people):
    inst = make_history(session, engine, people)
    _without_guard(session)
    session.execute(text("DELETE FROM audit_event WHERE instance_id = :i AND seq = 2"), {"i": inst.id})
    broken = audit.verify(session, audit.chain_for(inst.id))
    assert [(b.seq, b.reason) for b in broken] == [(3, "expected event #2; an event is missing")]


def test_deploys_are_on_the_system_chain(session, engine, deployed):
    events = list(session.execute(select(AuditEvent).where(AuditEvent.chain == "system")).scalars())
    assert sorted(e.data["process_key"] for e in events if e.kind == "deployed") == ["review", "verification"]
