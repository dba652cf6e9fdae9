"""Keep a long-lived case's stored state small: finished history above the live work is dropped.

SpiffWorkflow keeps every task it ever ran in one tree, so each rework loop of a case adds its
tasks and a step costs more the longer the case has lived. Every task still to run (ready,
waiting, predicted) sits below one lowest common ancestor; everything outside that subtree is
finished and can no longer change what happens next. Once enough of it has piled up, the
ancestor is hung directly below the workflow's start task and the rest is dropped. What the
dropped tasks did is kept as history beside the tree: the elements that ran and the flows
taken, for the case diagram and for scenario coverage. The audit trail and inbox rows hold the
rest, as they always did.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow import TaskState

KEEP = 40  # finished tasks allowed above the live work before the tree is compacted
HISTORY = "mutu_history"


def history(workflow: Any) -> dict[str, list[Any]]:
    found = getattr(workflow, HISTORY, None)
    return found if isinstance(found, dict) else {"done": [], "edges": []}


def _path(task: Any) -> list[Any]:
    out = []
    while task is not None:
        out.append(task)
        task = task.parent
    return list(reversed(out))


def _bpmn_ancestor(task: Any) -> Any:
    parent = task.parent
    while parent is not None and not getattr(parent.task_spec, "bpmn_id", None):
        parent = parent.parent
    return parent


def prune(workflow: Any, keep: int | None = None) -> int:
    """Drop finished tasks outside the live work's subtree once there are more than ``keep``."""
    keep = KEEP if keep is None else keep
    if workflow.subprocesses:
        return 0  # subprocess workflows keep their parent tasks: leave such a case whole
    if len(workflow.tasks) <= keep + 2:
        return 0  # fewer tasks than may pile up: nothing to drop, no walk (most steps)
    finished = TaskState.FINISHED_MASK
    unfinished = [t for t in workflow.tasks.values() if not t.has_state(finished)]
    if not unfinished:
        return 0  # an ended case keeps its whole history
    paths = [_path(t) for t in unfinished]
    common = 0
    while all(len(p) > common and p[common] is paths[0][common] for p in paths):
        common += 1
    if common < 3:
        return 0
    root, start, anchor = paths[0][0], paths[0][1], paths[0][common - 1]
    keep_ids = {t.id for t in _subtree(anchor)} | {root.id, start.id}
    dropped = [t for t in workflow.tasks.values() if t.id not in keep_ids]
    if len(dropped) <= keep:
        return 0
    past = history(workflow)
    done, edges = set(past["done"]), {tuple(e) for e in past["edges"]}
    for task in dropped:
        bpmn_id = getattr(task.task_spec, "bpmn_id", None)
        if not bpmn_id or task.state != TaskState.COMPLETED:
            continue
        done.add(bpmn_id)
        source = _bpmn_ancestor(task)
        if source is not None and source.state == TaskState.COMPLETED:
            edges.add((source.task_spec.bpmn_id, bpmn_id))
    if anchor.state == TaskState.COMPLETED and getattr(anchor.task_spec, "bpmn_id", None):
        source = _bpmn_ancestor(anchor)
        if source is not None and getattr(source.task_spec, "bpmn_id", None):
            edges.add((source.task_spec.bpmn_id, anchor.task_spec.bpmn_id))
    for task in dropped:
        del workflow.tasks[task.id]
    root.children = [start]
    start.children = [anchor]
    anchor.parent = start
    if workflow.last_task is not None and workflow.last_task.id not in keep_ids:
        workflow.last_task = None
    setattr(workflow, HISTORY, {"done": sorted(done), "edges": sorted(edges)})
    return len(dropped)


def _subtree(task: Any) -> list[Any]:
    out, stack = [], [task]
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(node.children)
    return out
