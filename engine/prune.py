"""Keep a long-lived case's stored state small: finished history above the live work is dropped.

SpiffWorkflow keeps every task it ever ran in one tree, so each rework loop of a case adds its
tasks and a step costs more the longer the case has lived. Every task still to run (ready,
waiting, predicted) and the task that ran last sit below one lowest common ancestor;
everything outside that subtree is finished and can no longer change what happens next.
Once enough of it has piled up, the ancestor is hung directly below the workflow's start
task and the rest is dropped. What the dropped tasks did is kept as history beside the
tree: the elements that ran and the flows taken, for the case diagram and for scenario
coverage. The audit trail and inbox rows hold the rest, as they always did.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow import TaskState
from SpiffWorkflow.bpmn.specs.defaults import ParallelGateway
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent

# Finished tasks allowed above the live work before the tree is compacted. Small: each step
# reads and writes the whole tree, and what compaction drops it keeps as history.
KEEP = 4
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


_ARRIVED = TaskState.COMPLETED | TaskState.READY | TaskState.WAITING | TaskState.STARTED


def edge(task: Any) -> tuple[str, str] | None:
    """The sequence flow a task came by, as (source, target) element ids; None: no flow taken.

    Taken means the element before it completed and this one was reached. A parallel join
    leaves one task per arriving branch, all but the last CANCELLED; a boundary event has
    no incoming flow.
    """
    spec = task.task_spec
    target = getattr(spec, "bpmn_id", None)
    if not target:
        return None
    if task.state == TaskState.CANCELLED:
        if not isinstance(spec, ParallelGateway):
            return None
    elif not task.has_state(_ARRIVED):
        return None
    if isinstance(spec, CatchingEvent) and getattr(spec, "attached_to", None):
        return None
    source = _bpmn_ancestor(task)
    if source is None or source.state != TaskState.COMPLETED:
        return None
    return source.task_spec.bpmn_id, target


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
    # Predicted tasks below an unfinished one share its path: only the topmost ones count.
    # The task that ran last stays too: it carries the case data and says the case has begun.
    tops = [t for t in unfinished if t.parent is None or t.parent.has_state(finished)]
    last = [workflow.last_task] if workflow.last_task is not None else []
    paths = [_path(t) for t in tops + last]
    common = 0
    while all(len(p) > common and p[common] is paths[0][common] for p in paths):
        common += 1
    if common < 3:
        return 0
    root, start, anchor = paths[0][0], paths[0][1], paths[0][common - 1]
    kept = _subtree(anchor)
    keep_ids = {t.id for t in kept} | {root.id, start.id}
    dropped = [t for t in workflow.tasks.values() if t.id not in keep_ids]
    if len(dropped) <= keep:
        return 0
    past = history(workflow)
    done, edges = set(past["done"]), {tuple(e) for e in past["edges"]}
    for task in dropped:
        bpmn_id = getattr(task.task_spec, "bpmn_id", None)
        if bpmn_id and task.state == TaskState.COMPLETED:
            done.add(bpmn_id)
    # The flows the dropped tasks took, and those from them into the work that stays.
    came_in = [t for t in kept if getattr(_bpmn_ancestor(t), "id", None) not in keep_ids]
    for task in dropped + came_in:
        taken = edge(task)
        if taken is not None:
            edges.add(taken)
    for task in dropped:
        del workflow.tasks[task.id]
    root.children = [start]
    start.children = [anchor]
    anchor.parent = start
    setattr(workflow, HISTORY, {"done": sorted(done), "edges": sorted(edges)})
    return len(dropped)


def _subtree(task: Any) -> list[Any]:
    out, stack = [], [task]
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(node.children)
    return out
