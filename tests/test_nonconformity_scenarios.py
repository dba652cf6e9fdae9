"""The nonconformity process end to end, with real users in real roles and the test clock.

Together the scenarios take every sequence flow of bpmn/nonconformity.bpmn; the last
test prints the coverage and fails below 100%.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.errors import NotAuthorized, ValidationFailed
from engine.inbox import list_tasks
from tests.helpers import NC_REPORT, task_by_bpmn
from tests.scenario import Case, assert_full_coverage

REPORT = {**NC_REPORT, "customer_phone": "0812 555 0101"}


class NcCase(Case):
    def __init__(self, session, engine, people, report=REPORT):  # type: ignore[no-untyped-def]
        super().__init__(session, engine, "nonconformity", people.qc, report)
        self.people = people

    def finish(self) -> None:  # type: ignore[override]
        super().finish("nonconformity.bpmn")


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


def test_not_a_nonconformity_is_closed_with_reason(session, nc, people):
    case = NcCase(session, nc, people)
    assert case.case().number == "NC-2026-0001" and case.case().status == "Triase"
    assert case.open() == ["nc_triage"]
    case.do(
        "nc_triage",
        people.qmr,
        {"is_nonconformity": False, "rejection_reason": "Sesuai prosedur yang berlaku"},
    )
    assert case.instance.status == "completed" and case.open() == []
    case.finish()


def test_major_finding_closed_after_effective_verification(session, nc, people):
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
    case.finish()


def test_returned_plan_reminder_overdue_and_reopening(session, nc, people):
    case = NcCase(session, nc, people, {**REPORT, "agent_code": ""})
    case.do("nc_triage", people.qmr, {"is_nonconformity": True, "impact": "rendah", "repeated": True})
    assert case.case().severity == "major"  # low impact but repeated
    assert case.open() == ["nc_contain"]  # no agent involved: nobody to acknowledge
    case.do("nc_contain", people.tl, {"correction": "Koreksi langsung oleh team leader"})
    plan_and_approve(case, returned_first=True)
    case.wait(timedelta(days=6, minutes=1))  # reminder a day before the due date; the task stays
    assert case.open() == ["nc_implement"]
    assert case.case().fields.get("reopen_count") == 0
    case.wait(timedelta(days=1))  # overdue: taken away and escalated to the QMR
    assert case.open() == ["nc_followup"]
    case.do("nc_followup", people.qmr, {"new_due_days": 3, "followup_note": "Selesaikan dalam 3 hari"})
    assert case.open() == ["nc_implement"]
    case.do("nc_implement", people.tl, {"implementation_report": "Pelatihan ulang dilakukan"})
    case.wait(timedelta(days=30, minutes=1))
    case.do(
        "nc_verify",
        people.qc,
        {"effective": False, "verification_note": "Masih salah pada tapping berikutnya"},
    )
    assert case.open() == ["nc_rca"] and case.case().status == "Dibuka kembali"
    assert case.case().fields["reopen_count"] == 1
    plan_and_approve(case)
    case.do("nc_implement", people.tl, {"implementation_report": "Skrip dan pelatihan diperbaiki"})
    case.wait(timedelta(days=30, minutes=1))
    case.do("nc_verify", people.qc, {"effective": True, "verification_note": "Efektif"})
    assert case.instance.status == "completed" and case.case().status == "Ditutup"
    case.finish()


def test_director_decides_when_the_qmr_does_not_follow_up(session, nc, people):
    case = NcCase(session, nc, people, {**REPORT, "agent_code": ""})
    case.do("nc_triage", people.qmr, {"is_nonconformity": True, "impact": "tinggi", "repeated": False})
    assert case.case().severity == "critical"
    case.do("nc_contain", people.tl, {"correction": "Penghentian sementara informasi promo"})
    plan_and_approve(case)
    case.wait(timedelta(days=3, minutes=1))  # critical: 3 days, then overdue
    assert case.open() == ["nc_followup"]
    case.wait(timedelta(days=3, minutes=1))  # the QMR lets it lie: the Director decides
    assert case.open() == ["nc_director"]
    director = task_by_bpmn(session, case.instance.id, "nc_director")
    assert director.role_key == "director"
    case.do("nc_director", people.director, {"new_due_days": 2, "director_instruction": "Selesaikan segera"})
    case.do("nc_implement", people.tl, {"implementation_report": "Selesai sesuai instruksi direktur"})
    case.wait(timedelta(days=14, minutes=1))  # critical: verification after 14 days
    case.do("nc_verify", people.qc, {"effective": True, "verification_note": "Efektif"})
    assert case.instance.status == "completed"
    case.finish()


def test_case_numbers_are_gap_free_per_year(session, nc, people):
    numbers = [NcCase(session, nc, people).case().number for _ in range(3)]
    assert numbers == ["NC-2026-0001", "NC-2026-0002", "NC-2026-0003"]
    nc.clock.advance(timedelta(days=365))
    assert NcCase(session, nc, people).case().number == "NC-2027-0001"


def test_every_flow_of_the_nonconformity_diagram_is_taken():
    assert_full_coverage("nonconformity.bpmn", "nonconformity")


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
