"""The path a case took through its diagram: sequence flows read from the task tree.

Scenarios draw it on the diagram and the library's tests count it against every flow of a
process, so a branch no scenario takes is seen before a case needs it.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow import TaskState

from . import prune
from .deploy import NS
from .spiff import bpmn_roots


def diagram_flows(files: dict[str, str], process_id: str) -> dict[tuple[str, str], str]:
    """(source id, target id) -> sequence flow id, for one process of a bundle's diagrams."""
    for _path, root in bpmn_roots(files):
        process = root.find(f".//bpmn:process[@id='{process_id}']", NS)
        if process is not None:
            return {
                (f.get("sourceRef", ""), f.get("targetRef", "")): f.get("id", "")
                for f in process.iterfind("bpmn:sequenceFlow", NS)
            }
    return {}


def flows_taken(workflow: Any, flows: dict[tuple[str, str], str]) -> set[str]:
    """The flows this workflow took: into what it ran and what waits now, from what ran before."""
    pairs = {prune.edge(task) for task in workflow.get_tasks()}
    # What compaction dropped from the tree it kept as (source, target) pairs.
    pairs |= {tuple(e) for e in prune.history(workflow)["edges"]}
    return {flows[pair] for pair in pairs if pair in flows}


def ended_at(workflow: Any) -> list[str]:
    """The end events the workflow's top process reached, those compaction took from the tree too."""
    out = []
    for task in workflow.get_tasks(state=TaskState.COMPLETED):
        spec = task.task_spec
        if type(spec).__name__ == "EndEvent" and task.workflow is workflow:
            out.append(spec.bpmn_id)
    done = set(prune.history(workflow)["done"])
    if done:  # a branch that ended while another went on, compacted away since
        for spec in workflow.spec.task_specs.values():
            if type(spec).__name__ == "EndEvent" and getattr(spec, "bpmn_id", None) in done:
                out.append(spec.bpmn_id)
    return sorted(set(out))
