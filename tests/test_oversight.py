"""The QMR's and team leaders' view of the work: every task they oversee, bulk actions, saved views."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from engine import inbox, oversight
from engine.errors import NotAuthorized, ValidationFailed
from tests.conftest import make_user
from tests.helpers import task_by_bpmn
from tests.test_timers import RAISE

ZONE = ZoneInfo("Asia/Jakarta")


def triage_tasks(session, engine, people, sites):  # type: ignore[no-untyped-def]
    """One triage task waiting in the QMR's queue per site given."""
    out = []
    for site in sites:
        inst = engine.start(session, "review", people.qc).instance
        engine.complete(
            session, task_by_bpmn(session, inst.id, "raise").id, people.qc, {**RAISE, "site": site}
        )
        out.append(task_by_bpmn(session, inst.id, "triage"))
    return out


def page(session, user, clock, **filters):  # type: ignore[no-untyped-def]
    rows, total = inbox.search_tasks(session, user, "oversee", inbox.TaskFilter(**filters), clock.now(), ZONE)
    return [r.task.id for r in rows], total


def test_the_qmr_oversees_every_open_task_and_a_team_leader_their_sites(
    session, engine, deployed, people, clock
):
    bandung, bogor = triage_tasks(session, engine, people, ["Bandung", "Bogor"])
    assert bandung.site == "Bandung" and bogor.site == "Bogor"
    ids, total = page(session, people.qmr, clock)
    assert set(ids) == {bandung.id, bogor.id} and total == 2
    assert page(session, people.tl, clock)[0] == [bandung.id]  # Bandung's team leader
    assert page(session, people.agent, clock) == ([], 0)
    assert page(session, people.qmr, clock, site="Bogor")[0] == [bogor.id]
    assert page(session, people.qmr, clock, role="qmr")[1] == 2
    assert page(session, people.qmr, clock, role="team_leader")[1] == 0


def test_filters_by_holder_and_overdue(session, engine, deployed, people, clock):
    first, second = triage_tasks(session, engine, people, ["Bandung", "Bandung"])
    engine.claim(session, first.id, people.qmr)
    assert page(session, people.qmr, clock, assignee="none")[0] == [second.id]
    assert page(session, people.qmr, clock, assignee="qmr")[0] == [first.id]
    assert page(session, people.qmr, clock, due="overdue")[1] == 0
    clock.advance(timedelta(days=30))
    assert page(session, people.qmr, clock, due="overdue")[1] == 2


def test_bulk_claim_takes_what_it_can_and_says_what_it_could_not(session, engine, deployed, people, clock):
    one, two, three = triage_tasks(session, engine, people, ["Bandung"] * 3)
    other = make_user(session, "qmr2", "qmr")
    engine.claim(session, two.id, other)
    result = oversight.bulk(session, engine, people.qmr, [one.id, two.id, three.id, one.id], "claim")
    assert result.done == [one.id, three.id]
    assert [i for i, _ in result.refused] == [two.id] and "claimed" in result.refused[0][1]
    session.refresh(two)
    assert two.assignee_id == other.id  # the refused one is untouched


def test_a_team_leader_hands_out_only_their_sites_tasks_to_people_who_may_do_them(
    session, engine, deployed, people, clock
):
    bandung, bogor = triage_tasks(session, engine, people, ["Bandung", "Bogor"])
    other_qmr = make_user(session, "qmr2", "qmr")
    make_user(session, "tl.bogor", "team_leader", site="Bogor")
    result = oversight.bulk(session, engine, people.tl, [bandung.id, bogor.id], "assign", other_qmr)
    assert result.done == [bandung.id] and [i for i, _ in result.refused] == [bogor.id]
    refused = oversight.bulk(session, engine, people.qmr, [bogor.id], "assign", people.agent)
    assert refused.done == [] and "may not act" in refused.refused[0][1]
    with pytest.raises(ValidationFailed):
        oversight.bulk(session, engine, people.qmr, [], "claim")
    with pytest.raises(ValidationFailed):
        oversight.bulk(session, engine, people.qmr, [bogor.id], "assign")
    with pytest.raises(ValidationFailed):
        oversight.bulk(session, engine, people.qmr, list(range(1, 300)), "claim")


def test_an_agent_code_finds_its_tasks(session, engine, deployed, people, clock):
    from engine.models import CaseRecord

    task, other = triage_tasks(session, engine, people, ["Bandung", "Bandung"])
    session.get(CaseRecord, task.instance_id).agent_code = "10077"
    session.flush()
    assert page(session, people.qmr, clock, text="10077")[0] == [task.id]


def test_saved_views_are_each_users_own(session, people, clock):
    view = oversight.save_view(
        session, people.qmr, "Bogor overdue", {"scope": "oversee", "site": "Bogor", "x": "1"}, clock.now()
    )
    assert view.params == {"scope": "oversee", "site": "Bogor"}  # only the inbox's own keys
    again = oversight.save_view(
        session, people.qmr, "Bogor overdue", {"scope": "oversee", "due": "overdue"}, clock.now()
    )
    assert again.id == view.id and again.params == {"scope": "oversee", "due": "overdue"}
    assert [v.name for v in oversight.views(session, people.qmr)] == ["Bogor overdue"]
    assert oversight.views(session, people.tl) == []
    assert oversight.delete_view(session, people.tl, view.id) is False
    assert oversight.delete_view(session, people.qmr, view.id) is True
    with pytest.raises(ValidationFailed):
        oversight.save_view(session, people.qmr, " ", {}, clock.now())


def test_nobody_outside_the_assigning_roles_takes_back_a_task(session, engine, deployed, people, clock):
    [task] = triage_tasks(session, engine, people, ["Bandung"])
    engine.claim(session, task.id, people.qmr)
    with pytest.raises(NotAuthorized):
        engine.unclaim(session, task.id, people.qc)
