"""Process instances: start, complete, claim, assign, cancel, suspend, resume, retry, fire timers.

Every public method takes the caller's session and never commits: the edge (web request,
CLI command, scheduler tick) owns the transaction. Each method locks the instance
(``SELECT ... FOR UPDATE`` where the database has it, and the ``lock_version`` column
checked on flush), runs SpiffWorkflow to the next wait state in memory, then writes the
state and its projections. An error inside SpiffWorkflow leaves the stored state at the
last wait state and records an incident instead.

``ProcessEngine`` is one class made of one mixin per concern: ``versions`` (deploy, the
version in effect, glue and specs), ``starting``, ``tasks`` (complete, claim, assign,
cancel, suspend, resume, retry, migrate), ``firing`` (one due timer), ``service_tasks``
(one queued asynchronous service task), ``steps`` (lock, load,
advance), ``messages`` (delivery as BPMN says) and ``writes`` (state, projections and incidents of a step).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from SpiffWorkflow.bpmn.specs import BpmnProcessSpec

from ..clock import Clock, SystemClock
from ..errors import MutuError
from ..registry import ProcessGlue, Registry
from ..scripting import RestrictedScriptEngine
from ..services import ServiceRegistry, default_services
from .firing import TimerMixin
from .messages import MessageMixin
from .moving import MoveMixin
from .service_tasks import ServiceTaskMixin
from .starting import StartMixin
from .steps import StepMixin
from .tasks import COMPLETED_BY, TaskMixin
from .types import MessageUndelivered, StepResult
from .versions import VersionsMixin
from .writes import WriteMixin

Hook = Callable[[str, dict[str, Any]], None]

__all__ = ["COMPLETED_BY", "Hook", "MessageUndelivered", "MutuError", "ProcessEngine", "StepResult"]


class ProcessEngine(
    VersionsMixin,
    StartMixin,
    TaskMixin,
    TimerMixin,
    ServiceTaskMixin,
    MoveMixin,
    MessageMixin,
    StepMixin,
    WriteMixin,
):
    """The engine: stateless between calls except for the per-version spec cache."""

    def __init__(
        self,
        registry: Registry,
        clock: Clock | None = None,
        *,
        zone: ZoneInfo | None = None,
        script_timeout: float = 2.0,
        hook: Hook | None = None,
        services: ServiceRegistry | None = None,
        memory_mb: int = 256,
    ) -> None:
        self.registry = registry
        self.clock = clock or SystemClock()
        self.zone = zone or ZoneInfo("Asia/Jakarta")
        self.services = services if services is not None else default_services()
        self.services.operators.update(registry.operators)  # what the processes bring
        self.script_engine = RestrictedScriptEngine(self.clock, script_timeout, self.services)
        self.hook = hook
        self.memory_bytes = memory_mb * 1024 * 1024
        # A step that runs this long or this many tasks without waiting is a loop that never ends.
        self.step_seconds = max(10 * script_timeout, 10.0)
        self._specs: dict[tuple[int, str], tuple[BpmnProcessSpec, dict[str, BpmnProcessSpec]]] = {}
        self._meta: dict[tuple[int, str], tuple[dict[str, Any], dict[str, Any]]] = {}
        self._glue: dict[tuple[int, str], ProcessGlue] = {}
        self._message_names: dict[tuple[int, str], frozenset[str]] = {}
