"""The nonconformity process: its scenario files (every flow of the diagram), and who may act.

The scenarios in workflows/nonconformity/scenarios/ run through the editor's runner; the
hand-driven cases below check what a scenario cannot: who may not act, and case numbering.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.errors import NotAuthorized, ValidationFailed
from engine.inbox import list_tasks
from tests.helpers import NC_REPORT, task_by_bpmn
from tests.scenario import Case, assert_full_coverage, assert_passes, scenario_paths

REPORT = {**NC_REPORT, "customer_phone": "0812 555 0101"}


class NcCase(Case):
    def __init__(self, session, engine, people, report=REPORT):  # type: ignore[no-untyped-def]
        super().__init__(session, engine, "nonconformity", people.qc, report)
        self.people = people


@pytest.fixture
def nc(library):  # type: ignore[no-untyped-def]
    return library


def triage_major(case: NcCase) -> None:
    case.do("nc_triage", case.people.qmr, {"is_nonconformity": True, "impact": "sedang", "repeated": False})


def plan_and_approve(case: NcCase, returned_first: bool = False) -> None:
    p = case.people
    case.do(
        "nc_rca",
        p.tl,
        {
            "method": "5_whys",
            "whys": ["Tarif lama di skrip", "Skrip belum diperbarui"],
            "root_cause": "Skrip layanan belum diperbarui setelah perubahan tarif",
        },
    )
    plan = {"actions": [{"action": "Perbarui skrip tarif", "owner": "teamlead", "due_date": "2026-01-12"}]}
    case.do("nc_plan", p.tl, plan)
    if returned_first:
        case.do(
            "nc_approve", p.qmr, {"plan_approved": False, "approval_comments": "Tambahkan pelatihan ulang"}
        )
        assert case.open() == ["nc_plan"]
        plan["actions"].append(
            {"action": "Pelatihan ulang agen", "owner": "teamlead", "due_date": "2026-01-14"}
        )
        case.do("nc_plan", p.tl, plan)
    case.do("nc_approve", p.qmr, {"plan_approved": True})


def test_who_may_act_along_a_major_finding(session, nc, people):
    case = NcCase(session, nc, people)
    with pytest.raises(ValidationFailed) as info:  # a reason, impact and recurrence are needed
        case.do("nc_triage", people.qmr, {"is_nonconformity": True})
    assert set(info.value.errors) == {"impact", "repeated"}
    triage_major(case)
    assert case.case().severity == "major"
    assert case.open() == ["nc_acknowledge", "nc_contain"]
    ack = task_by_bpmn(session, case.instance.id, "nc_acknowledge")
    assert [o.user_id for o in ack.owners] == [people.agent.id]  # routed by agent login code
    with pytest.raises(NotAuthorized):
        nc.complete(session, ack.id, people.agent2, {"acknowledged": True})
    case.do("nc_acknowledge", people.agent, {"acknowledged": True, "agent_comment": "Saya mengerti"})
    case.do("nc_contain", people.tl, {"correction": "Pelanggan ditelepon ulang dengan tarif yang benar"})
    plan_and_approve(case)
    implement = task_by_bpmn(session, case.instance.id, "nc_implement")
    assert implement.due_at == nc.clock.now() + timedelta(days=7)  # major: 7 days to act
    case.do("nc_implement", people.tl, {"implementation_report": "Skrip diperbarui dan disosialisasikan"})
    assert case.open() == []  # the waiting period before verification
    case.wait(timedelta(days=29))
    assert case.open() == []
    case.wait(timedelta(days=1, minutes=1))
    assert case.open() == ["nc_verify"]
    verify = task_by_bpmn(session, case.instance.id, "nc_verify")
    # Verification is for a Quality Control officer or the QMR (a lane with two roles).
    assert verify.id in [t.id for t in list_tasks(session, people.qmr, "roles")]
    assert verify.id in [t.id for t in list_tasks(session, people.qc, "roles")]
    assert verify.id not in [t.id for t in list_tasks(session, people.tl, "roles")]
    with pytest.raises(NotAuthorized):
        nc.claim(session, verify.id, people.tl)
    case.do(
        "nc_verify",
        people.qmr,
        {"effective": True, "verification_note": "Tapping ulang: informasi tarif benar"},
    )
    assert case.instance.status == "completed"
    assert case.case().status == "Ditutup"


def test_case_numbers_are_gap_free_per_year(session, nc, people):
    numbers = [NcCase(session, nc, people).case().number for _ in range(3)]
    assert numbers == ["NC-2026-0001", "NC-2026-0002", "NC-2026-0003"]
    nc.clock.advance(timedelta(days=365))
    assert NcCase(session, nc, people).case().number == "NC-2027-0001"


@pytest.mark.parametrize("path", scenario_paths("nonconformity"))
def test_scenario(scenario_sandbox, path):
    assert_passes(scenario_sandbox, "nonconformity", path)


def test_every_flow_of_the_nonconformity_diagram_is_taken(scenario_sandbox):
    assert_full_coverage(scenario_sandbox, "nonconformity")


def test_a_step_rewrites_the_case_row_only_when_a_case_field_changed(session, nc, people):
    from datetime import timedelta as td

    from engine.models import CaseRecord

    def row(case):  # type: ignore[no-untyped-def]
        session.expire_all()
        rec = session.get(CaseRecord, case.instance.id)
        return {
            k: getattr(rec, k) for k in ("number", "summary", "site", "severity", "status", "fields")
        }, rec.updated_at

    case = NcCase(session, nc, people)
    steps = [
        ("nc_triage", people.qmr, {"is_nonconformity": True, "impact": "sedang", "repeated": False}),
        ("nc_acknowledge", people.agent, {"acknowledged": True}),
        ("nc_contain", people.tl, {"correction": "Pelanggan ditelepon ulang"}),
    ]
    rewrites = 0
    for bpmn_id, user, data in steps:
        before, stamp = row(case)
        nc.clock.advance(td(minutes=5))
        case.do(bpmn_id, user, data)
        after, new_stamp = row(case)
        assert (after != before) == (new_stamp != stamp), bpmn_id
        rewrites += new_stamp != stamp
    assert 0 < rewrites < len(steps)  # triage sets severity and status; the acknowledgement changes nothing
