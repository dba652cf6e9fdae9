"""Supplier evaluation and procurement (manual 8.4): scenario files take every flow; register rules."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from engine import scenarios
from engine.models import ProcessInstance, Timer
from engine.models_registers import Supplier
from tests.scenario import Case, assert_full_coverage, assert_passes, scenario_paths

REQUEST = {
    "resource_type": "infrastructure",
    "specification": "20 unit headset noise-cancelling untuk agen 147",
    "quantity": 20,
    "estimated_value": 45_000_000,
    "pks_reference": "PKS 2025 lampiran 3",
    "site": "Bandung",
}
RECEIVED = {"received_on": "2026-01-20", "delivery_note": "BA-0117"}


def register(session, name: str, score: int, valid_days: int = 200, approved: bool = True) -> Supplier:  # type: ignore[no-untyped-def]
    """Put a supplier on the approved list, as a previous evaluation would have."""
    from engine.clock import ManualClock

    now = ManualClock().now()
    supplier = Supplier(
        name=name,
        approved=approved,
        score=score,
        evaluated_at=now - timedelta(days=100),
        valid_until=now + timedelta(days=valid_days),
        deliveries=3,
        updated_at=now,
    )
    session.add(supplier)
    session.flush()
    return supplier


class SpCase(Case):
    def __init__(self, session, engine, people, request=REQUEST):  # type: ignore[no-untyped-def]
        super().__init__(session, engine, "supplier_procurement", people.ops, request)
        self.people = people

    def approve(self) -> None:
        self.do("sp_approve", self.people.ops, {"request_approved": True})
        self.do("sp_coordinate", self.people.procurement, {"corporate_reference": "PROC-CORP-2026-011"})


def test_a_failed_step_takes_back_its_register_writes(session, library, clock):
    services = library.services
    with pytest.raises(RuntimeError), services.bound(session, clock.now()):
        services.call(
            "supplier_evaluate",
            {"name": {"value": "PT Setengah Jadi"}, "score": {"value": 70}, "approved": {"value": True}},
        )
        assert session.execute(select(Supplier.name)).scalars().all() == ["PT Setengah Jadi"]
        raise RuntimeError("a later element of the same step failed")
    assert session.execute(select(Supplier)).all() == []


def test_rating_a_supplier_missing_from_the_register_is_an_incident(session, library, people):
    register(session, "PT Audio Nusantara", 82)
    case = SpCase(session, library, people)
    case.approve()
    case.do("sp_choose", people.procurement, {"supplier_name": "PT Audio Nusantara"})
    case.do("sp_po", people.procurement, {"po_number": "PO-1", "po_date": "2026-01-06"})
    case.do("sp_receipt", people.procurement, RECEIVED)
    case.do(
        "sp_check_infra", people.ops, {"verification_passed": True, "quality_score": 90, "findings": "Sesuai"}
    )
    session.execute(Supplier.__table__.delete())  # removed from the register meanwhile
    result = library.complete(session, case.task("sp_register").id, people.ops, {"register_number": "AST-1"})
    assert result.incident is not None and "not in the register" in result.incident.message
    assert result.incident.element_id == "sp_rate"
    assert case.open() == ["sp_register"]  # still at its last wait state


@pytest.mark.parametrize(
    "resource_type, value, method",
    [
        ("service", 300_000_000, "tender"),
        ("infrastructure", 300_000_000, "po"),
        ("service", 200_000_000, "po"),
        ("people", 500_000_001, "tender"),
    ],
)
def test_procurement_method_table(scenario_sandbox, resource_type, value, method):
    doc = {
        "name": f"{resource_type} {value}",
        "start": {"data": {**REQUEST, "resource_type": resource_type, "estimated_value": value}},
        "steps": [
            {"task": "sp_approve", "data": {"request_approved": True}},
            {"task": "sp_coordinate", "data": {"corporate_reference": "PROC-CORP-2026-011"}},
        ],
        "expect": {"case": {"procurement_method": method}},
    }
    result = scenarios.run(scenario_sandbox, "supplier_procurement", doc)
    assert result.passed, result.difference


@pytest.mark.parametrize(
    "path", scenario_paths("supplier_procurement") + scenario_paths("supplier_reevaluation")
)
def test_scenario(scenario_sandbox, path):
    assert_passes(scenario_sandbox, path.split("/")[1], path)


def test_every_flow_of_the_supplier_procurement_diagram_is_taken(scenario_sandbox):
    assert_full_coverage(scenario_sandbox, "supplier_procurement")


def test_approved_suppliers_are_reevaluated_every_six_months(session, library, people, clock):
    register(session, "PT Audio Nusantara", 82, valid_days=400)
    register(session, "PT Baru Jaya", 55, valid_days=400)
    [timer] = session.execute(
        select(Timer).where(Timer.process_key == "supplier_reevaluation", Timer.kind == "start")
    ).scalars()
    clock.set(timer.fire_at + timedelta(minutes=1))
    assert library.fire_timer(session, timer.id)
    [inst] = session.execute(
        select(ProcessInstance).where(ProcessInstance.process_key == "supplier_reevaluation")
    ).scalars()
    case = Case.__new__(Case)
    case.session, case.engine, case.process_key, case.instance = (
        session,
        library,
        "supplier_reevaluation",
        inst,
    )
    evaluations = {
        "evaluations": [
            {"supplier_name": "PT Audio Nusantara", "score": 88, "decision": "keep"},
            {"supplier_name": "PT Baru Jaya", "score": 41, "decision": "remove"},
        ]
    }
    case.do("sr_evaluate", people.procurement, evaluations)
    case.do(
        "sr_review", people.qmr, {"review_approved": False, "review_comments": "Lengkapi skor PT Insan Prima"}
    )
    evaluations["evaluations"].append(
        {"supplier_name": "PT Insan Prima", "score": 66, "decision": "probation"}
    )
    case.do("sr_evaluate", people.procurement, evaluations)
    case.do("sr_review", people.qmr, {"review_approved": True})
    assert inst.status == "completed"
    assert case.case().fields == {"removed": ["PT Baru Jaya"], "on_probation": ["PT Insan Prima"]}
    register_now = {s.name: (s.approved, s.score) for s in session.execute(select(Supplier)).scalars()}
    assert register_now == {
        "PT Audio Nusantara": (True, 88),
        "PT Baru Jaya": (False, 41),
        "PT Insan Prima": (True, 66),
    }


def test_every_flow_of_the_supplier_reevaluation_diagram_is_taken(scenario_sandbox):
    assert_full_coverage(scenario_sandbox, "supplier_reevaluation")
