"""Long-lived cases: finished history leaves the stored tree, and the case still reads whole."""

from __future__ import annotations

import json

from engine import paths, prune, scenarios
from tests.scenario import library_files

EFFECTIVE = "workflows/nonconformity/scenarios/rencana_dikembalikan_dan_dibuka_kembali.json"
LOOP = [
    {"task": "nc_rca", "data": {"method": "5_whys", "whys": ["a", "b"], "root_cause": "Skrip lama"}},
    {
        "task": "nc_plan",
        "data": {"actions": [{"action": "Perbarui", "owner": "teamlead", "due_date": "2026-01-12"}]},
    },
    {"task": "nc_approve", "data": {"plan_approved": True}},
    {"task": "nc_implement", "data": {"implementation_report": "Selesai"}},
    {"wait": "P30DT1M"},
]


def _reopened(loops: int) -> dict:
    effective = json.loads(library_files()[EFFECTIVE])
    start = effective["start"]
    steps = [
        {"task": "nc_triage", "data": {"is_nonconformity": True, "impact": "sedang", "repeated": False}},
        {"task": "nc_contain", "data": {"correction": "Dikoreksi"}},
    ]
    for n in range(loops):
        steps += LOOP + [
            {"task": "nc_verify", "data": {"effective": n == loops - 1, "verification_note": "Cek"}}
        ]
    doc = {"name": "reopened", "start": start, "steps": steps, "expect": {"status": "completed"}}
    return {**doc, "people": effective.get("people", [])}  # the plan's owner is one of them


def test_a_case_reopened_many_times_keeps_a_small_state_and_its_whole_marking(scenario_sandbox, monkeypatch):
    monkeypatch.setattr(prune, "KEEP", 10)  # compact early, so a short run shows it
    sizes = []
    original = prune.prune

    def measured(workflow, keep=None):  # type: ignore[no-untyped-def]
        dropped = original(workflow, keep)
        sizes.append(len(workflow.tasks))
        return dropped

    monkeypatch.setattr("engine.runtime.writes.prune", measured)
    result = scenarios.run(scenario_sandbox, "nonconformity", _reopened(8))
    assert result.passed, result.difference
    assert max(sizes[-20:]) < 60  # the tree stays small however long the case lives
    # The diagram and scenario coverage still see the early work the tree no longer holds.
    assert {"nc_triage", "nc_contain", "nc_classify", "nc_reopen", "nc_close"} <= set(result.completed)
    flows = paths.diagram_flows(library_files(), "nonconformity")
    triage_flows = {f for (src, _tgt), f in flows.items() if src == "nc_triage"}
    assert triage_flows & set(result.flows)


def test_compaction_waits_while_the_task_that_ran_last_is_not_live_work() -> None:
    """The last task carries the case data and says the case has begun: it is never dropped."""
    from SpiffWorkflow import TaskState
    from SpiffWorkflow.bpmn import BpmnWorkflow

    from engine.spiff import new_parser
    from tests.conftest import DATA

    parser = new_parser()
    parser.add_bpmn_file(str(DATA / "constructs" / "loop_long.bpmn"))
    workflow = BpmnWorkflow(parser.get_spec("loop_long"))
    workflow.do_engine_steps()
    for _ in range(6):
        next(t for t in workflow.get_tasks(state=TaskState.READY) if t.task_spec.bpmn_id == "rework").run()
        workflow.do_engine_steps()
    last = workflow.last_task
    early = next(t for t in workflow.get_tasks() if getattr(t.task_spec, "bpmn_id", None) == "init")
    workflow.last_task = early
    assert prune.prune(workflow, keep=2) == 0 and early.id in workflow.tasks
    workflow.last_task = last
    assert prune.prune(workflow, keep=2) > 0
    assert early.id not in workflow.tasks and workflow.last_task is last and last.id in workflow.tasks
    assert "init" in prune.history(workflow)["done"]
