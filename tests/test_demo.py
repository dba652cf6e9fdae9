"""Demo data for make run: every role at every site, cases at different stages, never twice."""

from __future__ import annotations

from sqlalchemy import func, select

from engine.demo import DEMO_USERS, load_demo_cases, load_demo_users
from engine.deploy import read_sources
from engine.identity import BUILTIN_ROLES, check_password, get_user
from engine.models import HumanTask, ProcessInstance
from engine.registry import load_registry
from engine.runtime import ProcessEngine
from tests.flow_coverage import ROOT


def test_demo_users_and_cases_load_once(session, clock):
    engine = ProcessEngine(load_registry(ROOT / "workflows"), clock)
    engine.deploy(session, read_sources([ROOT / "bpmn"], 5_000_000))
    created = load_demo_users(session, clock)
    for name in ("qmr", "director", "qc", "teamlead", "agent", "ops", "procurement", "client"):
        assert name in created
    assert check_password(get_user(session, "qmr"), "mutu-demo")
    roles = {r for spec in DEMO_USERS for r in spec["roles"]}
    assert roles == set(BUILTIN_ROLES) - {"admin"}
    assert {spec["site"] for spec in DEMO_USERS} >= {"Bogor", "Bandung", "Semarang", "Malang"}

    started = load_demo_cases(session, engine)
    assert len(started) == 12
    per_process = dict(
        session.execute(
            select(ProcessInstance.process_key, func.count()).group_by(ProcessInstance.process_key)
        ).all()
    )
    assert per_process == {
        "nonconformity": 4,
        "requirement_change": 2,
        "supplier_procurement": 2,
        "release_monitoring": 2,
        "supplier_reevaluation": 2,
    }
    statuses = dict(
        session.execute(select(ProcessInstance.status, func.count()).group_by(ProcessInstance.status)).all()
    )
    assert statuses == {"running": 9, "completed": 3}
    open_steps = set(session.execute(select(HumanTask.bpmn_id).where(HumanTask.status == "open")).scalars())
    assert open_steps == {
        "nc_triage",
        "nc_contain",
        "nc_acknowledge",
        "nc_approve",
        "rc_review_pks",
        "rc_review_ops",
        "sp_choose",
        "rm_tapping",
        "rm_mystery",
        "rm_propper",
        "sr_evaluate",
        "rc_decide",
        "sr_review",
    }

    assert load_demo_users(session, clock) == []
    assert load_demo_cases(session, engine) == []
