"""Who may see, act on, work on and hand out which task: roles x sites x task states, in one place.

Each rule of engine.policy is checked in Python and against the SQL the inbox and the case list
run, so the pages, the API and the CLI (which all ask these) cannot drift apart.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine import inbox, policy, workspace
from engine.errors import Conflict, NotAuthorized
from engine.models import AuditEvent, HumanTask
from tests.conftest import make_user
from tests.helpers import NC_REPORT, task_by_bpmn

ROLES_AT_SITES = {
    "tl": "team_leader",
    "agent": "agent",
    "ops": "operations_manager",
    "qc": "quality_control",
}
GLOBAL = {"qmr": "qmr", "director": "director", "procurement": "procurement", "client": "client_liaison"}


@pytest.fixture
def crowd(session):  # type: ignore[no-untyped-def]
    """One user per site-held role at Bandung and at Bogor, one per global role, and an admin."""
    users = {}
    code = 7000
    for site in ("Bandung", "Bogor"):
        for short, role in ROLES_AT_SITES.items():
            code += 1
            users[f"{short}.{site.lower()}"] = make_user(
                session, f"{short}.{site.lower()}", role, agent_code=str(code), site=site
            )
    users["agent2.bandung"] = make_user(session, "agent2.bandung", "agent", agent_code="7999", site="Bandung")
    for short, role in GLOBAL.items():
        users[short] = make_user(session, short, role)
    users["admin"] = make_user(session, "admin", "admin")
    return users


@pytest.fixture
def case(session, library, crowd):  # type: ignore[no-untyped-def]
    """A Bandung nonconformity naming agent.bandung, triaged: containment and acknowledgement wait."""
    report = {**NC_REPORT, "agent_code": crowd["agent.bandung"].agent_code}
    instance = library.start(session, "nonconformity", crowd["qc.bandung"], report).instance
    triage = task_by_bpmn(session, instance.id, "nc_triage")
    library.complete(
        session, triage.id, crowd["qmr"], {"is_nonconformity": True, "impact": "sedang", "repeated": False}
    )
    return instance


OVERSIGHT = {"qmr", "director", "qc.bandung", "qc.bogor", "admin"}
# who may see the case: oversight roles, the site's team leader and operations manager, the agent named
SEES_CASE = OVERSIGHT | {"tl.bandung", "ops.bandung", "agent.bandung"}
EXPECTED = {
    # bpmn id: (who may act, who may hand it out)
    "nc_contain": ({"tl.bandung", "admin"}, {"tl.bandung", "qmr", "admin"}),
    "nc_acknowledge": ({"agent.bandung", "admin"}, {"tl.bandung", "qmr", "admin"}),
}


def test_the_matrix_of_users_and_open_tasks(session, library, crowd, case):  # type: ignore[no-untyped-def]
    for bpmn_id, (acts, oversees) in EXPECTED.items():
        row = task_by_bpmn(session, case.id, bpmn_id)
        for name, user in crowd.items():
            assert policy.may_act(row, user) == (name in acts), (bpmn_id, name)
            assert policy.may_work(row, user) == (name in acts), (bpmn_id, name)
            assert policy.may_oversee(row, user) == (name in oversees), (bpmn_id, name)
            assert policy.may_see_task(session, row, user) == (name in SEES_CASE), (bpmn_id, name)
    for name, user in crowd.items():
        assert policy.may_see_case(session, user, case.id) == (name in SEES_CASE), name
        # The SQL of the case list says the same as the rule.
        rows, total = workspace.search_cases(session, user, workspace.CaseFilter())
        assert (case.id in [i.id for i, _c in rows]) == (name in SEES_CASE), name
        # The "my roles" queue holds exactly the unclaimed tasks the user may act on.
        queue = {t.bpmn_id for t in inbox.list_tasks(session, user, "roles", instance_id=case.id)}
        expected = {b for b, (acts, _o) in EXPECTED.items() if name in acts}
        if name == "admin":
            expected = {"nc_contain", "nc_acknowledge"}
        assert queue == expected, name
        assert inbox.count_tasks(session, user, "roles") == len(expected) or name == "admin", name


def test_the_engine_refuses_what_the_rules_refuse(session, library, crowd, case):  # type: ignore[no-untyped-def]
    contain = task_by_bpmn(session, case.id, "nc_contain")
    for name in ("tl.bogor", "agent.bandung", "ops.bandung", "qmr", "director", "qc.bandung"):
        with pytest.raises(NotAuthorized):
            library.claim(session, contain.id, crowd[name])
    # A team leader of another site neither gives away nor takes back this site's work.
    with pytest.raises(NotAuthorized, match="may not assign"):
        library.assign(session, contain.id, crowd["tl.bogor"], crowd["tl.bandung"])
    library.claim(session, contain.id, crowd["tl.bandung"])
    with pytest.raises(NotAuthorized, match="may not release"):
        library.unclaim(session, contain.id, crowd["tl.bogor"])
    # Claimed: only its holder writes to it, admins included; they hand it over first.
    for name in ("admin", "qmr"):
        assert not policy.may_work(contain, crowd[name])
    with pytest.raises(Conflict, match="claimed by another user"):
        library.complete(session, contain.id, crowd["admin"], {"correction": "x"})
    with pytest.raises(Conflict):
        workspace.save_draft(session, contain.id, crowd["admin"], {}, library.clock.now())
    with pytest.raises(NotAuthorized):
        workspace.save_draft(session, contain.id, crowd["qmr"], {}, library.clock.now())
    library.assign(session, contain.id, crowd["admin"], crowd["admin"])
    library.complete(session, contain.id, crowd["admin"], {"correction": "Tarif dikoreksi"})
    done = session.get(HumanTask, contain.id)
    assert done.status == "completed" and not any(policy.may_work(done, u) for u in crowd.values())
    # Only the QMR and admins manage a case; whoever reported it cannot cancel it.
    for name in ("qc.bandung", "tl.bandung", "director"):
        with pytest.raises(NotAuthorized, match="only the QMR and admins"):
            library.cancel(session, case.id, crowd[name], "gone")
    library.cancel(session, case.id, crowd["qmr"], "laporan ganda")


def test_an_agent_code_nobody_holds_goes_to_the_sites_team_leaders(session, library, crowd):  # type: ignore[no-untyped-def]
    report = {**NC_REPORT, "agent_code": "99999"}
    instance = library.start(session, "nonconformity", crowd["qc.bandung"], report).instance
    triage = task_by_bpmn(session, instance.id, "nc_triage")
    library.complete(
        session, triage.id, crowd["qmr"], {"is_nonconformity": True, "impact": "sedang", "repeated": False}
    )
    ack = task_by_bpmn(session, instance.id, "nc_acknowledge")
    assert ack.role_key == "team_leader" and ack.site == "Bandung" and not ack.has_owners
    acting = {name for name, user in crowd.items() if policy.may_act(ack, user)}
    assert acting == {"tl.bandung", "admin"}  # never every agent
    warning = session.execute(
        select(AuditEvent).where(AuditEvent.instance_id == instance.id, AuditEvent.kind == "rerouted")
    ).scalar_one()
    assert warning.bpmn_id == "nc_acknowledge" and warning.data["to_role"] == "team_leader"


def test_a_case_without_a_site_is_open_to_the_role_everywhere(session, library, crowd):  # type: ignore[no-untyped-def]
    """Procurement requests name a site; re-evaluations do not: their tasks follow the role alone."""
    instance = library.start(session, "supplier_reevaluation", None, {}).instance
    row = session.execute(
        select(HumanTask).where(HumanTask.instance_id == instance.id, HumanTask.status == "open")
    ).scalar_one()
    assert row.site is None
    assert {n for n, u in crowd.items() if policy.may_act(row, u)} == {"procurement", "admin"}


def test_deactivated_users_may_do_nothing(session, library, crowd, case):  # type: ignore[no-untyped-def]
    tl = crowd["tl.bandung"]
    tl.active = False
    contain = task_by_bpmn(session, case.id, "nc_contain")
    assert not (policy.may_act(contain, tl) or policy.may_oversee(contain, tl) or policy.may_manage(tl))
    assert policy.visible_cases(tl) is not True and not policy.may_see_case(session, tl, case.id)
