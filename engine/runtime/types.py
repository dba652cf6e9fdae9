"""What steps pass between them, the queries built once, and the errors a step turns into incidents."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from sqlalchemy import bindparam, select

from ..errors import MutuError, ScriptError
from ..models import (
    HumanTask,
    Incident,
    ProcessInstance,
    ProcessVersion,
    User,
    UTCDateTime,
)
from ..projection import (
    NewTask,
    Pending,
    Snapshot,
)

log = logging.getLogger(__name__)


@dataclass
class StepResult:
    """What an advancing operation did: the instance, and the incident if the step failed."""

    instance: ProcessInstance
    incident: Incident | None = None
    new_tasks: list[NewTask] | None = None
    number: str | None = None  # the case number a start gave


@dataclass
class _Step:
    """One successful step, computed in memory, waiting to be written."""

    instance: ProcessInstance
    actor: User | None
    workflow: BpmnWorkflow
    action: dict[str, Any]
    before: Pending
    snap: Snapshot
    now: datetime
    completed: HumanTask | None = None


# Built once: constructing these per call cost more than running them.
_IN_EFFECT = (
    select(ProcessVersion)
    .where(
        ProcessVersion.process_key == bindparam("key"),
        ProcessVersion.state == "approved",
        ProcessVersion.effective_from <= bindparam("now", type_=UTCDateTime()),
    )
    .order_by(ProcessVersion.version.desc())
    .limit(1)
)


class MessageUndelivered(MutuError):
    """A thrown message no deployed process receives, or whose payload its start refuses."""

    code = "message_undelivered"


# What SpiffWorkflow and scripts raise for a broken diagram or data: these become incidents.
# Database and programming errors of our own are not caught and reach the edge.
_ENGINE_ERRORS = (
    SpiffWorkflowException,
    MessageUndelivered,
    ScriptError,
    ArithmeticError,
    LookupError,
    TypeError,
    ValueError,
    NameError,
    AttributeError,
    MemoryError,
    RecursionError,
)
