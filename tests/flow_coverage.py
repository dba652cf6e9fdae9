"""Which sequence flows of a diagram scenario tests have taken, read from the task trees."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from lxml import etree
from SpiffWorkflow import TaskState
from SpiffWorkflow.bpmn.specs.defaults import ParallelGateway
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent

NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL"}
ROOT = Path(__file__).resolve().parent.parent

TAKEN: dict[str, set[str]] = defaultdict(set)


def diagram_flows(file_name: str, process_id: str) -> dict[tuple[str, str], str]:
    """(source id, target id) -> sequence flow id, for one process of a file in bpmn/."""
    root = etree.parse(str(ROOT / "bpmn" / file_name)).getroot()
    process = root.find(f".//bpmn:process[@id='{process_id}']", NS)
    return {
        (f.get("sourceRef"), f.get("targetRef")): f.get("id")
        for f in process.iterfind("bpmn:sequenceFlow", NS)
    }


def _bpmn_ancestor(task):  # type: ignore[no-untyped-def]
    parent = task.parent
    while parent is not None and not getattr(parent.task_spec, "bpmn_id", None):
        parent = parent.parent
    return parent


def record(process_id: str, flows: dict[tuple[str, str], str], workflow) -> set[str]:  # type: ignore[no-untyped-def]
    """Add the flows this workflow took (completed task after completed task) to TAKEN."""
    taken = set()
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
        if (
            isinstance(task.task_spec, CatchingEvent)
            and getattr(task.task_spec, "attached_to", None) is not None
        ):
            continue  # a boundary event has no incoming flow
        flow = flows.get((source.task_spec.bpmn_id, target))
        if flow:
            taken.add(flow)
    TAKEN[process_id] |= taken
    return taken
