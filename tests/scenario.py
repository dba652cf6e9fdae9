"""The library's scenario files, run by the same runner the editor uses, and a few engine-level cases.

Scenario files live in ``workflows/<process>/scenarios/``; each test module runs its
process's files one by one (each passes alone) and checks that together they take every
sequence flow of the diagram. ``Case`` drives a case by hand for what a scenario file
cannot say (who may not act, register rows removed meanwhile, start timers).
"""

from __future__ import annotations

import json
from datetime import timedelta
from functools import cache
from typing import Any

import pytest

from engine import bundle, message_jobs, paths, scenarios, signatures
from engine.deploy import read_sources
from engine.models import CaseRecord
from engine.registry import load_registry
from engine.runtime import ProcessEngine
from engine.sandbox import Sandbox
from engine.timers import due_timer_ids
from tests.flow_coverage import ROOT
from tests.helpers import assert_inbox_matches, open_tasks, task_by_bpmn


@cache
def _library() -> dict[str, str]:
    return bundle.library_files(ROOT / "bpmn", ROOT / "workflows")


def library_files() -> dict[str, str]:
    return dict(_library())


def library_operators() -> dict[str, Any]:
    return load_registry(ROOT / "workflows").operators


def scenario_paths(process_key: str) -> list[Any]:
    """pytest parameters, one per scenario file of the process, named by its file."""
    return [
        pytest.param(path, id=path.rsplit("/", 1)[1].removesuffix(".json"))
        for path in scenarios.scenario_files(_library(), process_key)
    ]


def run_file(sandbox: Sandbox, process_key: str, path: str) -> scenarios.Result:
    return scenarios.run(sandbox, process_key, json.loads(_library()[path]), path)


def assert_passes(sandbox: Sandbox, process_key: str, path: str) -> scenarios.Result:
    result = run_file(sandbox, process_key, path)
    assert result.passed, f"{result.name}: {result.difference}"
    return result


def assert_full_coverage(sandbox: Sandbox, process_key: str) -> None:
    """Every scenario of the process run here, and every flow of its diagram taken by one."""
    flows = set(paths.diagram_flows(_library(), process_key).values())
    taken: set[str] = set()
    for result in scenarios.run_all(sandbox, process_key, _library()):
        assert result.passed, f"{result.name}: {result.difference}"
        taken |= set(result.flows)
    print(f"\n{process_key} flow coverage: {len(taken & flows)}/{len(flows)}")
    assert sorted(flows - taken) == [], "flows no scenario takes"


@pytest.fixture
def library(session, clock) -> ProcessEngine:  # type: ignore[no-untyped-def]
    """An engine with the real process library (bpmn/ and workflows/) deployed."""
    engine = ProcessEngine(load_registry(ROOT / "workflows"), clock, script_timeout=1.0)
    engine.deploy(session, read_sources([ROOT / "bpmn"], 5_000_000))
    return engine


class Case:
    """One case moving through the engine by hand; every step checks that the inbox equals the workflow."""

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
        signed = signatures.witnessed(user, self.engine.clock.now(), "sandbox")
        result = self.engine.complete(self.session, task.id, user, data or {}, signature=signed)
        assert result.incident is None, result.incident and result.incident.message
        message_jobs.drain(self.session, self.engine)  # the workers' next pass: messages sent
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
        message_jobs.drain(self.session, self.engine)
        assert_inbox_matches(self.session, self.engine, self.instance)

    def case(self) -> CaseRecord:
        self.session.expire_all()
        return self.session.get(CaseRecord, self.instance.id)
