"""Conformance: each BPMN construct run by Mutu, state stored and reloaded between steps, against
the same specs run by SpiffWorkflow in memory; the same end state, the same path, the same data.

Mutu adds only ``completed_by`` (who completed each step) to the data; nothing else may differ.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from SpiffWorkflow import TaskState
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition
from sqlalchemy import select

from engine import clock as clock_mod
from engine.deploy import SourceFile
from engine.models import HumanTask, ProcessInstance
from engine.runtime import ProcessEngine
from engine.runtime.tasks import COMPLETED_BY
from engine.scheduler import fire_due_timers  # noqa: F401 - the scheduler's own path, for reading
from engine.timers import due_timer_ids
from tests.conftest import DATA, make_people

CONSTRUCTS = DATA / "constructs"
DAY = timedelta(days=1, seconds=1)
CASES = [
    ("exclusive gateway, default flow", ["exclusive.bpmn"], "exclusive", ["coach"]),
    ("parallel fork and join", ["parallel.bpmn"], "parallel", ["right", "left"]),
    ("inclusive split and merge", ["inclusive.bpmn"], "inclusive", ["write_sop", "train"]),
    ("loop back through a gateway", ["loop.bpmn"], "loop", ["rework"] * 3),
    ("a long rework loop, compacted as it runs", ["loop_long.bpmn"], "loop_long", ["rework"] * 25),
    ("multi-instance, parallel", ["multi_parallel.bpmn"], "multi_parallel", ["check_agent"] * 3),
    ("multi-instance, sequential, collecting", ["multi_sequential.bpmn"], "multi_sequential", ["review"]),
    (
        "call activity across files",
        ["call_parent.bpmn", "call_child.bpmn"],
        "call_parent",
        ["answer_it", "read"],
    ),
    (
        "error end event caught on the boundary",
        ["error_boundary.bpmn"],
        "error_boundary",
        ["search", "escalate"],
    ),
    ("event-based gateway, timer branch", ["event_gateway.bpmn"], "evgw", [("time", 2 * DAY)]),
    ("event-based gateway, message branch", ["event_gateway.bpmn"], "evgw", [("message", "answer")]),
    ("timer event subprocess", ["timer_event_subprocess.bpmn"], "evsub", [("time", DAY), "remind", "work"]),
    (
        "timer event subprocess, interrupting",
        ["timer_event_subprocess_interrupting.bpmn"],
        "evsub_interrupting",
        [("time", DAY), "remind"],
    ),
    ("decision table (DMN)", ["decision.bpmn", "grade.dmn"], "decision", ["announce"]),
    (
        "timer boundaries, interrupting and not",
        ["timer_boundary.bpmn"],
        "timer_boundary",
        [("time", DAY), "escalate"],
    ),
    ("signal thrown and caught", ["signal.bpmn"], "signal", ["prepare", "react"]),
    ("signal boundary event, interrupting", ["signal_boundary.bpmn"], "signal_boundary", ["decide"]),
    (
        "timer catch events, duration then date",
        ["timer_catch.bpmn"],
        "timer_catch",
        [("time", DAY), ("time", 20 * DAY), "go_on"],
    ),
    ("escalation caught on a subprocess boundary", ["escalation.bpmn"], "escalation", ["inform", "finish"]),
    (
        "message event subprocess, twice",
        ["message_event_subprocess.bpmn"],
        "evmsg",
        [("message", "nudge"), ("message", "nudge"), "respond", "respond", "work"],
    ),
    (
        "receive task, then a message boundary event",
        ["receive_and_boundary.bpmn"],
        "receive_boundary",
        [("message", "invoice_paid"), ("message", "order_cancelled")],
    ),
]


def marking(workflow: BpmnWorkflow) -> tuple[list[str], list[str]]:
    """Elements done and waiting, as the case diagram marks them."""
    done, active = set(), set()
    for task in workflow.get_tasks():
        bpmn_id = getattr(task.task_spec, "bpmn_id", None)
        if not bpmn_id:
            continue
        if task.state == TaskState.COMPLETED:
            done.add(bpmn_id)
        elif task.state in (TaskState.READY, TaskState.WAITING, TaskState.STARTED):
            active.add(bpmn_id)
    return sorted(done - active), sorted(active)


def end_data(workflow: BpmnWorkflow) -> dict[str, Any]:
    data = dict(workflow.data or {}) if workflow.completed else {}
    if workflow.last_task is not None:
        data.update(workflow.last_task.data)
    data.pop(COMPLETED_BY, None)
    return data


def in_memory(engine, version, actions, clock) -> BpmnWorkflow:  # type: ignore[no-untyped-def]
    spec, subs = engine.specs_for(version)
    with clock_mod.using(clock):
        workflow = BpmnWorkflow(spec, subs, script_engine=engine.script_engine)
        workflow.do_engine_steps()
        for action in actions:
            if isinstance(action, str):
                task = next(
                    t for t in workflow.get_tasks(state=TaskState.READY) if t.task_spec.bpmn_id == action
                )
                task.run()
            elif action[0] == "time":
                clock.advance(action[1])
                workflow.refresh_timers()
            else:
                workflow.send_event(BpmnEvent(MessageEventDefinition(action[1]), payload={}))
            workflow.do_engine_steps()
    return workflow


def in_mutu(session, engine, actions, clock, process_id, admin, restart) -> ProcessInstance:  # type: ignore[no-untyped-def]
    instance_id = engine.start(session, process_id, admin, {}).instance.id

    def reload() -> None:
        nonlocal engine
        session.commit()
        session.expire_all()
        if restart:  # another worker, or the same after a restart: specs come from the database
            engine = ProcessEngine(engine.registry, clock, script_timeout=1.0)

    reload()
    for action in actions:
        if isinstance(action, str):
            row = session.execute(
                select(HumanTask)
                .where(
                    HumanTask.instance_id == instance_id,
                    HumanTask.status == "open",
                    HumanTask.bpmn_id == action,
                )
                .order_by(HumanTask.id)
                .limit(1)
            ).scalar_one()
            assert engine.complete(session, row.id, admin, {}).incident is None
        elif action[0] == "time":
            clock.advance(action[1])
            for timer_id in due_timer_ids(session, clock.now(), 100):
                engine.fire_timer(session, timer_id)
        else:
            engine.send_message(session, action[1], {}, {}, admin)
        reload()
    return session.get(ProcessInstance, instance_id)


@pytest.mark.parametrize("restart", [False, True], ids=["one worker", "a new worker each step"])
@pytest.mark.parametrize(("construct", "files", "process_id", "actions"), CASES, ids=[c[0] for c in CASES])
def test_mutu_runs_the_construct_as_spiffworkflow_does_in_memory(
    session, engine, clock, construct, files, process_id, actions, restart
):
    engine.deploy(session, [SourceFile(name, (CONSTRUCTS / name).read_bytes()) for name in files])
    admin = make_people(session).admin
    version = engine.latest_version(session, process_id)
    start = clock.now()
    memory = in_memory(engine, version, actions, clock)
    clock.set(start)
    stored = in_mutu(session, engine, actions, clock, process_id, admin, restart)
    reloaded = engine._load(stored)
    assert (stored.status == "completed") == memory.completed, construct
    states = engine.element_states(stored)  # the case diagram's marking, history included
    assert (states["completed"], states["active"]) == marking(memory), construct
    assert end_data(reloaded) == end_data(memory), construct
    assert stored.status in ("completed", "running"), construct


def test_a_construct_the_engine_does_not_run_is_refused_at_deploy_with_a_reason(session, engine):
    from engine.errors import DeployError

    with pytest.raises(DeployError) as refused:
        engine.deploy(
            session, [SourceFile("compensation.bpmn", (CONSTRUCTS / "compensation.bpmn").read_bytes())]
        )
    [problem] = refused.value.problems
    assert problem.element == "undo_book"
    assert "does not run catch events with compensate definition" in problem.message
    assert "<bpmn:" not in problem.message  # no quoted XML
