"""Drive one case of a process library diagram through the engine, checking the inbox each step."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.deploy import read_sources
from engine.models import CaseRecord, ProcessInstance
from engine.registry import load_registry
from engine.runtime import ProcessEngine
from engine.timers import due_timer_ids
from tests import flow_coverage
from tests.flow_coverage import ROOT
from tests.helpers import assert_inbox_matches, open_tasks, task_by_bpmn


@pytest.fixture
def library(session, clock) -> ProcessEngine:  # type: ignore[no-untyped-def]
    """An engine with the real process library (bpmn/ and workflows/) deployed."""
    engine = ProcessEngine(load_registry(ROOT / "workflows"), clock, script_timeout=1.0)
    engine.deploy(session, read_sources([ROOT / "bpmn"], 5_000_000))
    return engine


class Case:
    """One case moving through the engine; every step checks that the inbox equals the workflow."""

    def __init__(self, session, engine, process_key, starter, data):  # type: ignore[no-untyped-def]
        self.session, self.engine, self.process_key = session, engine, process_key
        result = engine.start(session, process_key, starter, dict(data))
        assert result.incident is None, result.incident and result.incident.message
        self.instance = result.instance

    @classmethod
    def adopt(cls, session, engine, instance):  # type: ignore[no-untyped-def]
        """Follow a case that something else started (a timer, a message)."""
        case = cls.__new__(cls)
        case.session, case.engine, case.process_key, case.instance = (
            session,
            engine,
            instance.process_key,
            instance,
        )
        return case

    def do(self, bpmn_id: str, user, data=None):  # type: ignore[no-untyped-def]
        task = task_by_bpmn(self.session, self.instance.id, bpmn_id)
        result = self.engine.complete(self.session, task.id, user, data or {})
        assert result.incident is None, result.incident and result.incident.message
        assert_inbox_matches(self.session, self.engine, self.instance)
        return task

    def task(self, bpmn_id: str):  # type: ignore[no-untyped-def]
        return task_by_bpmn(self.session, self.instance.id, bpmn_id)

    def open(self) -> list[str]:
        return sorted(t.bpmn_id for t in open_tasks(self.session, self.instance.id))

    def wait(self, delta: timedelta) -> None:
        """Let time pass and fire what fell due, as the scheduler would."""
        self.engine.clock.advance(delta)
        for timer_id in due_timer_ids(self.session, self.engine.clock.now(), 100):
            self.engine.fire_timer(self.session, timer_id)
        assert_inbox_matches(self.session, self.engine, self.instance)

    def case(self) -> CaseRecord:
        self.session.expire_all()
        return self.session.get(CaseRecord, self.instance.id)

    def finish(self, file_name: str) -> None:
        """Record the flows this case took, for the coverage test of its diagram."""
        workflow = self.engine._load(self.session.get(ProcessInstance, self.instance.id))
        flow_coverage.record(
            self.process_key, flow_coverage.diagram_flows(file_name, self.process_key), workflow
        )


def assert_full_coverage(file_name: str, process_key: str) -> None:
    flows = flow_coverage.diagram_flows(file_name, process_key)
    taken = flow_coverage.TAKEN[process_key]
    print(f"\n{process_key} flow coverage: {len(taken)}/{len(flows)} ({100 * len(taken) / len(flows):.0f}%)")
    assert sorted(set(flows.values()) - taken) == [], "flows never taken"
