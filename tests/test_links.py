"""Linked nonconformities, and trend rules that raise one from earlier findings."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from engine import links
from engine.errors import Conflict, NotAuthorized, NotFound, ValidationFailed
from engine.models import AuditEvent, CaseRecord
from engine.models_links import CaseLink
from tests.helpers import NC_REPORT


def report(session, library, people, **changes):  # type: ignore[no-untyped-def]
    return library.start(session, "nonconformity", people.qc, {**NC_REPORT, **changes}).instance


def test_cases_link_both_ways_and_only_what_the_user_sees(session, library, people, clock):
    first = report(session, library, people)
    second = report(session, library, people, agent_code="1002")
    number = session.get(CaseRecord, first.id).number
    row = links.link(session, people.qmr, second.id, number, "recurs", clock.now(), "sama seperti bulan lalu")
    assert [
        (x.other_id, x.outgoing, x.link.kind) for x in links.links_of(session, people.qmr, second.id)
    ] == [(first.id, True, "recurs")]
    assert [(x.other_id, x.outgoing) for x in links.links_of(session, people.qmr, first.id)] == [
        (second.id, False)
    ]
    with pytest.raises(Conflict):
        links.link(session, people.qmr, first.id, str(second.id), "recurs", clock.now())
    with pytest.raises(ValidationFailed):
        links.link(session, people.qmr, first.id, str(first.id), "related", clock.now())
    with pytest.raises(ValidationFailed):
        links.link(session, people.qmr, first.id, str(second.id), "trend", clock.now())
    with pytest.raises(NotAuthorized):
        links.link(session, people.agent, first.id, str(second.id), "related", clock.now())
    with pytest.raises(NotFound):
        links.link(session, people.qmr, first.id, "NC-2099-9999", "related", clock.now())
    kinds = [
        e.kind
        for e in session.execute(select(AuditEvent).where(AuditEvent.instance_id == second.id)).scalars()
    ]
    assert "linked" in kinds
    links.unlink(session, people.qmr, row.id, clock.now())
    assert links.links_of(session, people.qmr, second.id) == []


def test_three_findings_for_one_agent_within_the_window_raise_a_linked_nonconformity(
    session, library, people, clock
):
    links.set_rule(session, people.qmr, "site_source", 3, 90, False, clock.now())  # this test: agents only
    ids = [report(session, library, people).id]
    clock.advance(timedelta(days=10))
    ids.append(report(session, library, people).id)
    report(session, library, people, agent_code="1002")  # another agent: not counted
    assert links.evaluate(session, library, clock.now()) == []
    clock.advance(timedelta(days=10))
    ids.append(report(session, library, people).id)
    [raised] = links.evaluate(session, library, clock.now())
    case = session.get(CaseRecord, raised)
    assert case.agent_code == "1001" and case.summary.startswith(
        "Tren: 3 temuan untuk agen 1001 dalam 30 hari"
    )
    linked = session.execute(
        select(CaseLink.to_id).where(CaseLink.from_id == raised, CaseLink.kind == "trend")
    )
    assert sorted(linked.scalars()) == sorted(ids)
    assert links.evaluate(session, library, clock.now()) == []  # covered: not raised twice
    events = session.execute(
        select(AuditEvent).where(AuditEvent.instance_id == raised, AuditEvent.kind == "trend_raised")
    )
    assert events.scalar_one().data["records"] == ids


def test_old_findings_fall_out_of_the_window(session, library, people, clock):
    links.set_rule(session, people.qmr, "site_source", 3, 30, True, clock.now())
    report(session, library, people)
    clock.advance(timedelta(days=25))
    report(session, library, people)
    clock.advance(timedelta(days=10))  # the first is now 35 days old
    report(session, library, people)
    assert links.evaluate(session, library, clock.now()) == []


def test_the_same_source_at_one_site_and_the_qmr_sets_the_thresholds(session, library, people, clock):
    links.set_rule(session, people.qmr, "agent_findings", 3, 30, False, clock.now())
    links.set_rule(session, people.qmr, "site_source", 2, 90, True, clock.now())
    report(session, library, people, source="mystery_shopping", agent_code="1001")
    report(session, library, people, source="mystery_shopping", agent_code="1002", site="Bogor")
    assert links.evaluate(session, library, clock.now()) == []
    report(session, library, people, source="mystery_shopping", agent_code="1003")
    [raised] = links.evaluate(session, library, clock.now())
    case = session.get(CaseRecord, raised)
    assert case.site == "Bandung" and "mystery_shopping di Bandung" in case.summary
    with pytest.raises(NotAuthorized):
        links.set_rule(session, people.tl, "site_source", 2, 90, True, clock.now())
    with pytest.raises(ValidationFailed):
        links.set_rule(session, people.qmr, "site_source", 1, 900, True, clock.now())
    assert links.rules(session)["site_source"].threshold == 2
