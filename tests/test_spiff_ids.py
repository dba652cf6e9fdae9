"""The task converter that looks ids up writes and reads what SpiffWorkflow's own does."""

from __future__ import annotations

import json
from pathlib import Path
from uuid import UUID

import pytest
from SpiffWorkflow import TaskState
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import TaskConverter
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.task import Task

from engine import spiff_ids
from engine.spiff import SERIALIZER_VERSION, dump_state, load_state, new_parser

BPMN = Path(__file__).parent / "data" / "bpmn"


def review_workflow() -> tuple[BpmnWorkflow, object, dict]:
    parser = new_parser()
    parser.add_bpmn_file(str(BPMN / "review.bpmn"))
    parser.add_bpmn_file(str(BPMN / "verification.bpmn"))
    parser.add_dmn_file(str(BPMN / "severity.dmn"))
    spec = parser.get_spec("review")
    subs = parser.get_subprocess_specs("review")
    workflow = BpmnWorkflow(spec, subs)
    workflow.do_engine_steps()
    return workflow, spec, subs


def test_the_state_is_spiffworkflows_own_and_reads_back_step_after_step() -> None:
    stock = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure({**SPIFF_CONFIG, Task: TaskConverter}))
    workflow, spec, subs = review_workflow()
    raise_task = workflow.get_next_task(state=TaskState.READY)
    raise_task.data.update({"description": "Wrong tariff", "severity_hint": "major", "site": "Bandung"})
    raise_task.run()
    workflow.do_engine_steps()
    ours = json.loads(dump_state(workflow))
    theirs = stock.to_dict(workflow)
    for name in ("tasks", "root", "last_task"):
        assert ours[name] == json.loads(json.dumps(theirs[name], default=str)), name
    # Stored and loaded twice: the same ids (the same objects, looked up), data and states.
    again = load_state(json.dumps(ours), SERIALIZER_VERSION, spec, subs)
    twice = load_state(dump_state(again), SERIALIZER_VERSION, spec, subs)
    for loaded in (again, twice):
        assert {str(t.id): (t.state, t.task_spec.name, t.data) for t in loaded.get_tasks()} == {
            str(t.id): (t.state, t.task_spec.name, t.data) for t in workflow.get_tasks()
        }
    first = next(iter(again.tasks))
    assert isinstance(first, UUID) and any(first is key for key in twice.tasks)
    triage = twice.get_next_task(state=TaskState.READY)
    assert triage.task_spec.bpmn_id == "triage"


def test_the_table_of_ids_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spiff_ids, "LIMIT", 3)
    monkeypatch.setattr(spiff_ids, "_IDS", {})
    monkeypatch.setattr(spiff_ids, "_TEXTS", {})
    texts = [str(UUID(int=n)) for n in range(1, 8)]
    ids = [spiff_ids.task_id(t) for t in texts]
    assert [str(i) for i in ids] == texts
    assert [spiff_ids.id_text(i) for i in ids] == texts
    assert len(spiff_ids._IDS) <= 3 and len(spiff_ids._TEXTS) <= 3
