"""Bound the memory an engine step may take, so a bad diagram becomes an incident, not a dead worker.

Python cannot interrupt one long C-level operation, and a script's time limit is checked
between its opcodes; what a single operation may allocate is bounded here instead: while
a step runs, the process's address space may grow by at most ``extra_bytes`` (RLIMIT_AS),
and an allocation past it raises MemoryError, which the engine records as an incident.
Nested and concurrent steps share one limit, set by the first and lifted by the last.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException

try:
    import resource
except ImportError:  # not on this platform: steps run unbounded (time limits still hold)
    resource = None  # type: ignore[assignment]

_LOCK = threading.Lock()
_ACTIVE = 0
_SAVED: tuple[int, int] | None = None
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _address_space() -> int | None:
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[0]) * _PAGE
    except (OSError, ValueError, IndexError):
        return None


@contextlib.contextmanager
def bounded(extra_bytes: int) -> Iterator[None]:
    """Run the block with the address space capped at its current size plus ``extra_bytes``."""
    global _ACTIVE, _SAVED
    if resource is None or extra_bytes <= 0:
        yield
        return
    with _LOCK:
        if _ACTIVE == 0:
            size = _address_space()
            if size is not None:
                soft, hard = resource.getrlimit(resource.RLIMIT_AS)
                cap = size + extra_bytes
                if hard != resource.RLIM_INFINITY:
                    cap = min(cap, hard)
                if soft == resource.RLIM_INFINITY or cap < soft:
                    _SAVED = (soft, hard)
                    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
        _ACTIVE += 1
    try:
        yield
    finally:
        with _LOCK:
            _ACTIVE -= 1
            if _ACTIVE == 0 and _SAVED is not None:
                resource.setrlimit(resource.RLIMIT_AS, _SAVED)
                _SAVED = None


MAX_STEP_TASKS = 10_000


class StepBudget:
    """Stop a step that never reaches a wait state (a loop of script tasks) as an incident."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds
        self.seconds = seconds
        self.count = 0

    def __call__(self, task: Any) -> None:
        self.count += 1
        if self.count > MAX_STEP_TASKS or time.monotonic() > self.deadline:
            limit = f"{MAX_STEP_TASKS} tasks" if self.count > MAX_STEP_TASKS else f"{self.seconds:g} s"
            raise WorkflowTaskException(
                f"the step ran past {limit} without waiting: a loop never ends", task=task
            )
