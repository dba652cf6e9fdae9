"""Monthly release monitoring (manual 8.6): scenario files take every flow; failed checks raise cases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.models import AuditEvent, CaseRecord, ProcessInstance, Timer
from tests.helpers import open_tasks
from tests.scenario import Case, assert_full_coverage, assert_passes, scenario_paths

PLAN = {
    "site": "Bandung",
    "service": "147",
    "period": "2026-01",
    "pass_mark": 80,
    "sampled_agents": [{"agent_code": "1001", "online_name": "Dewi-147"}, {"agent_code": "1002"}],
}


class RmCase(Case):
    def __init__(self, session, engine, people):  # type: ignore[no-untyped-def]
        super().__init__(session, engine, "release_monitoring", people.qc, {})
        self.people = people

    def checks(self, tapping: int, mystery: int, behaviour: int) -> None:
        p = self.people
        self.do("rm_plan", p.qc, PLAN)
        assert self.open() == ["rm_mystery", "rm_propper", "rm_tapping"]
        self.do(
            "rm_tapping",
            p.qc,
            {
                "tapping_results": [
                    {"agent_code": "1001", "score": tapping, "evidence": ["rekaman-0113.wav"]},
                    {"agent_code": "1002", "score": 91},
                ]
            },
        )
        self.do(
            "rm_mystery",
            p.qc,
            {
                "mystery_results": [
                    {"agent_code": "1001", "score": mystery},
                    {"agent_code": "1002", "score": 88},
                ]
            },
        )
        self.do(
            "rm_propper",
            p.qc,
            {
                "propper_results": [
                    {"agent_code": "1002", "product": 90, "procedure": 85, "behaviour": behaviour}
                ]
            },
        )
        self.do("rm_kpi", p.ops, {"kpis": [{"kpi": "Service level", "target": 80, "actual": 83.5}]})
        self.do(
            "rm_individual",
            p.tl,
            {
                "evaluations": [
                    {"agent_code": "1001", "rating": "memenuhi"},
                    {"agent_code": "1002", "rating": "melampaui"},
                ]
            },
        )


def nonconformities(session) -> list[CaseRecord]:  # type: ignore[no-untyped-def]
    return list(
        session.execute(
            select(CaseRecord)
            .where(CaseRecord.process_key == "nonconformity")
            .order_by(CaseRecord.instance_id)
        ).scalars()
    )


def test_each_failed_check_raises_a_nonconformity_with_agent_and_evidence(session, library, people):
    case = RmCase(session, library, people)
    case.checks(tapping=62, mystery=90, behaviour=70)  # tapping of 1001 and Propper behaviour of 1002 fail
    raised = nonconformities(session)
    assert [(c.agent_code, c.source, c.site, c.status) for c in raised] == [
        ("1001", "tapping", "Bandung", "Triase"),
        ("1002", "propper_test", "Bandung", "Triase"),
    ]
    assert [c.number for c in raised] == ["NC-2026-0001", "NC-2026-0002"]
    first = session.get(ProcessInstance, raised[0].instance_id)
    assert [t.bpmn_id for t in open_tasks(session, first.id)] == ["nc_triage"]
    sent = list(
        session.execute(
            select(AuditEvent).where(
                AuditEvent.instance_id == case.instance.id, AuditEvent.kind == "message_sent"
            )
        ).scalars()
    )
    assert [e.data["name"] for e in sent] == ["nonconformity", "nonconformity"]
    for raised_case in raised:  # each case says which monitoring raised it
        [arrived] = session.execute(
            select(AuditEvent).where(
                AuditEvent.instance_id == raised_case.instance_id, AuditEvent.kind == "message_received"
            )
        ).scalars()
        assert arrived.data["from"] == case.instance.id and arrived.data["started"] is True
    case.do("rm_evidence", people.qc, {"evidence_pack_ref": "EV-SMG-2026-01"})
    assert case.case().fields["failure_count"] == 2


def test_a_monitoring_period_starts_every_month(session, library, people, clock):
    [timer] = session.execute(
        select(Timer).where(Timer.process_key == "release_monitoring", Timer.kind == "start")
    ).scalars()
    assert timer.fire_at == clock.now() + timedelta(days=31)  # R/P1M from the deploy in January
    clock.set(timer.fire_at + timedelta(minutes=1))
    assert library.fire_timer(session, timer.id)
    session.refresh(timer)
    assert timer.status == "waiting" and timer.fire_at > clock.now()  # the next month is planned
    [started] = session.execute(
        select(ProcessInstance).where(ProcessInstance.process_key == "release_monitoring")
    ).scalars()
    assert [t.bpmn_id for t in open_tasks(session, started.id)] == ["rm_plan"]


@pytest.mark.parametrize("path", scenario_paths("release_monitoring"))
def test_scenario(scenario_sandbox, path):
    assert_passes(scenario_sandbox, "release_monitoring", path)


def test_every_flow_of_the_release_monitoring_diagram_is_taken(scenario_sandbox):
    assert_full_coverage(scenario_sandbox, "release_monitoring")
