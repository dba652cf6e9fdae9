"""SpiffWorkflow's task converter, with the task ids it reads and writes looked up, not parsed.

Every step loads a case's tasks and writes them back: about sixty task ids (each task's, its
parent's, its children's, the keys of the task map) turned from text into ``UUID`` and as many
back. ``UUID(text)`` costs 0.8 µs and ``str(uuid)`` 0.5 µs, about 60 µs a step in all, while the
same ids come back step after step. A bounded table of the ids seen answers in 0.02 µs; a
UUID is immutable, so one object serves every case that holds it.

The two methods follow SpiffWorkflow 3.2's ``TaskConverter`` (the one storing each task's
data as its change against its parent's) line for line, but for the id lookups.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from SpiffWorkflow import TaskState
from SpiffWorkflow.bpmn.serializer.default.workflow import TaskConverter
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.util.deep_merge import DeepMerge

# Ids kept, each table: about 240 bytes an id with its text, so some 12 MB at most; enough for
# the task trees of a few thousand busy cases. Past it a table starts again.
LIMIT = 50_000
_IDS: dict[str, UUID] = {}
_TEXTS: dict[UUID, str] = {}


def task_id(text: str) -> UUID:
    found = _IDS.get(text)
    if found is None:
        if len(_IDS) >= LIMIT:
            _IDS.clear()
        found = _IDS[text] = UUID(text)
        if len(_TEXTS) < LIMIT:
            _TEXTS[found] = text  # written back later as the same string, not a new one
    return found


def id_text(value: UUID) -> str:
    found = _TEXTS.get(value)
    if found is None:
        if len(_TEXTS) >= LIMIT:
            _TEXTS.clear()
        found = _TEXTS[value] = str(value)
    return found


class CachedIdTaskConverter(TaskConverter):
    def to_dict(self, task: Any) -> dict[str, Any]:
        if task.parent is None:
            data = task.data
            delta: dict[str, Any] = {}
        else:
            data = {}
            delta = {
                "updates": DeepMerge.get_updated_keys(task.parent.data, task.data),
                "deletions": DeepMerge.get_deleted_keys(task.parent.data, task.data),
            }
        return {
            "id": id_text(task.id),
            "parent": id_text(task._parent) if task.parent is not None else None,
            "children": [id_text(child) for child in task._children],
            "last_state_change": task.last_state_change,
            "state": task.state,
            "task_spec": task.task_spec.name,
            "triggered": task.triggered,
            "internal_data": self.registry.convert(task.internal_data),
            "data": data,
            "delta": delta,
        }

    def from_dict(self, dct: dict[str, Any], workflow: Any) -> Any:
        task_spec = workflow.spec.task_specs.get(dct["task_spec"])
        task = self.target_class(workflow, task_spec, state=dct["state"], id=task_id(dct["id"]))
        task._parent = task_id(dct["parent"]) if dct["parent"] is not None else None
        task._children = [task_id(child) for child in dct["children"]]
        task.last_state_change = dct["last_state_change"]
        task.triggered = dct["triggered"]
        task.internal_data = self.registry.restore(dct["internal_data"])
        if isinstance(task_spec, CatchingEvent) and task.has_state(TaskState.WAITING):
            task.workflow.top_workflow.event_manager.add_task(task)
        delta = dct.get("delta")
        if delta and task.parent is not None:
            data = DeepMerge.merge({}, task.parent.data)
            data.update(self.registry.restore(delta.get("updates", {})))
            for key in delta.get("deletions", {}):
                if key in data:
                    del data[key]
        else:
            data = self.registry.restore(dct["data"])
        task.data = data
        return task
