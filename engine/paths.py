"""The path a case took through its diagram: sequence flows read from the task tree.

Scenarios draw it on the diagram and the library's tests count it against every flow of a
process, so a branch no scenario takes is seen before a case needs it.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow import TaskState
from SpiffWorkflow.bpmn.specs.defaults import ParallelGateway
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent

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


def _bpmn_ancestor(task: Any) -> Any:
    parent = task.parent
    while parent is not None and not getattr(parent.task_spec, "bpmn_id", None):
        parent = parent.parent
    return parent


def flows_taken(workflow: Any, flows: dict[tuple[str, str], str]) -> set[str]:
    """The flows this workflow took: a completed element followed by the next one it ran."""
    taken: set[str] = set()
    for task in workflow.get_tasks(state=TaskState.COMPLETED | TaskState.CANCELLED):
        target = getattr(task.task_spec, "bpmn_id", None)
        if not target:
            continue
        # A parallel join leaves one task per arriving branch; all but the last end CANCELLED.
        if task.state == TaskState.CANCELLED and not isinstance(task.task_spec, ParallelGateway):
            continue
        source = _bpmn_ancestor(task)
        if source is None or source.state != TaskState.COMPLETED:
            continue
        if isinstance(task.task_spec, CatchingEvent) and getattr(task.task_spec, "attached_to", None):
            continue  # a boundary event has no incoming flow
        flow = flows.get((source.task_spec.bpmn_id, target))
        if flow:
            taken.add(flow)
    # What compaction dropped from a long case's tree it kept as (source, target) pairs.
    for source, target in (getattr(workflow, "mutu_history", None) or {}).get("edges", []):
        flow = flows.get((source, target))
        if flow:
            taken.add(flow)
    # The flows into what waits now (a task or timer reached but not finished) are taken too.
    for task in workflow.get_tasks(state=TaskState.READY | TaskState.WAITING | TaskState.STARTED):
        target = getattr(task.task_spec, "bpmn_id", None)
        source = _bpmn_ancestor(task)
        if target and source is not None and source.state == TaskState.COMPLETED:
            flow = flows.get((source.task_spec.bpmn_id, target))
            if flow:
                taken.add(flow)
    return taken


def ended_at(workflow: Any) -> list[str]:
    """The end events the workflow's top process reached."""
    out = []
    for task in workflow.get_tasks(state=TaskState.COMPLETED):
        spec = task.task_spec
        if type(spec).__name__ == "EndEvent" and task.workflow is workflow:
            out.append(spec.bpmn_id)
    return sorted(set(out))
