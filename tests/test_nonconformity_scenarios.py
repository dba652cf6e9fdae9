"""The nonconformity process: its scenario files (every flow of the diagram), and who may act.

The scenarios in workflows/nonconformity/scenarios/ run through the editor's runner; the
hand-driven cases below check what a scenario cannot: who may not act, and case numbering.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.errors import NotAuthorized, ValidationFailed
from engine.inbox import list_tasks
from tests.helpers import NC_REPORT, open_tasks, task_by_bpmn
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
    # The action's own owner and date (17:00 in Jakarta), not the severity's period.
    assert implement.due_at == datetime(2026, 1, 12, 10, 0, tzinfo=UTC)
    assert [o.user_id for o in implement.owners] == [people.tl.id]
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


def test_each_action_of_a_plan_is_a_task_of_its_own_owner(session, nc, people):
    from tests.conftest import make_user

    ops = make_user(session, "ops2", "operations_manager", site="Bandung")
    case = NcCase(session, nc, people)
    triage_major(case)
    case.do("nc_acknowledge", people.agent, {"acknowledged": True})
    case.do("nc_contain", people.tl, {"correction": "Pelanggan ditelepon ulang dengan tarif yang benar"})
    case.do(
        "nc_rca",
        people.tl,
        {"method": "5_whys", "whys": ["Skrip lama", "Belum diperbarui"], "root_cause": "Skrip lama"},
    )
    actions = [
        {"action": "Perbarui skrip tarif", "owner": "teamlead", "due_date": "2026-01-12"},
        {"action": "Jadwalkan pelatihan", "owner": "ops2", "due_date": "2026-01-20"},
    ]
    case.do("nc_plan", people.tl, {"actions": actions})
    case.do("nc_approve", people.qmr, {"plan_approved": True})
    tasks = sorted(
        (t for t in open_tasks(session, case.instance.id) if t.bpmn_id == "nc_implement"),
        key=lambda t: t.due_at,
    )
    assert [[o.user_id for o in t.owners] for t in tasks] == [[people.tl.id], [ops.id]]
    assert [t.due_at for t in tasks] == [
        datetime(2026, 1, 12, 10, 0, tzinfo=UTC),
        datetime(2026, 1, 20, 10, 0, tzinfo=UTC),
    ]
    with pytest.raises(NotAuthorized):  # the team leader's action is not the manager's
        nc.complete(session, tasks[0].id, ops, {"implementation_report": "Bukan tugas saya"})
    nc.complete(session, tasks[1].id, ops, {"implementation_report": "Pelatihan dijadwalkan 19 Januari"})
    assert case.open() == ["nc_implement"]  # implementation waits for every action
    nc.complete(session, tasks[0].id, people.tl, {"implementation_report": "Skrip diperbarui"})
    assert case.open() == []  # on to the waiting period
    workflow = nc._load(case.instance)  # stored and loaded again, as every step does
    [waiting] = [t for t in workflow.get_tasks() if t.task_spec.bpmn_id == "nc_wait"]
    done = waiting.data["implementations"]
    assert sorted((i["owner"], i["action"], i["report"]) for i in done.values()) == [
        ("ops2", "Jadwalkan pelatihan", "Pelatihan dijadwalkan 19 Januari"),
        ("teamlead", "Perbarui skrip tarif", "Skrip diperbarui"),
    ]
