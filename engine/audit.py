"""The append-only, hash-chained audit trail: every event carries the hash of the one before."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import batch, fastsql
from .models import AuditEvent, ProcessInstance, User

GENESIS = "0" * 64
SYSTEM_CHAIN = "system"


def chain_for(instance_id: int | None) -> str:
    return SYSTEM_CHAIN if instance_id is None else f"instance:{instance_id}"


_INSERT = fastsql.Prepared.insert(AuditEvent.__table__)


def _digest(values: dict[str, Any]) -> str:
    """Hash an event's fields (column name -> value) together with the hash before it."""
    body = {
        "chain": values["chain"],
        "seq": values["seq"],
        "instance_id": values["instance_id"],
        "kind": values["kind"],
        "actor": values["actor_username"],
        "agent_code": values["agent_code"],
        "task": values["task_guid"],
        "bpmn_id": values["bpmn_id"],
        "data": values["data"],
        "at": values["created_at"].isoformat(),
        "prev": values["prev_hash"],
    }
    if values.get("online_name"):  # added later: events from before it hash as they did
        body["online_name"] = values["online_name"]
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _event_values(event: AuditEvent) -> dict[str, Any]:
    return {c.key: getattr(event, c.key) for c in AuditEvent.__table__.columns}


def record(
    session: Session,
    kind: str,
    at: datetime,
    *,
    instance: ProcessInstance | None = None,
    actor: User | None = None,
    task_guid: str | None = None,
    bpmn_id: str | None = None,
    data: dict[str, Any] | None = None,
    chain: str | None = None,
) -> str:
    """Append one event to its instance's chain, or to ``chain`` (default: the system chain).

    An instance's chain tail lives on its row and moves under the instance lock, so
    appending costs no read. System events read their tail; a unique (chain, seq)
    turns a race between two deploys into an IntegrityError, not a fork.
    """
    if instance is not None:
        chain, seq, prev = chain_for(instance.id), instance.audit_seq + 1, instance.audit_hash
    else:
        chain = chain or SYSTEM_CHAIN
        last = session.execute(
            select(AuditEvent.seq, AuditEvent.hash)
            .where(AuditEvent.chain == chain)
            .order_by(AuditEvent.seq.desc())
            .limit(1)
        ).first()
        seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    values = {
        "chain": chain,
        "seq": seq,
        "instance_id": instance.id if instance is not None else None,
        "kind": kind,
        "actor_id": actor.id if actor else None,
        "actor_username": actor.username if actor else None,
        "agent_code": actor.agent_code if actor else None,
        "online_name": actor.online_name if actor else None,
        "task_guid": task_guid,
        "bpmn_id": bpmn_id,
        "data": json.loads(json.dumps(data or {}, default=str)),
        "created_at": at,
        "prev_hash": prev,
    }
    values["hash"] = _digest(values)
    # A constant INSERT on the connection: nothing reads an event back within the step,
    # and building an ORM statement per event costs more than running it.
    if not batch.defer(session, "audit", values):
        fastsql.execute(session, _INSERT, values)
    if instance is not None:
        instance.audit_seq, instance.audit_hash = seq, values["hash"]
    return values["hash"]


def record_on_case(
    session: Session,
    instance_id: int,
    kind: str,
    at: datetime,
    *,
    actor: User | None = None,
    data: dict[str, Any] | None = None,
) -> str:
    """Append a record that is not a workflow step (a comment, an evidence file, an export).

    The instance row is locked first, so the tail moves as under a step and a step running
    at the same time waits or meets a version conflict instead of forking the chain.
    """
    instance = session.execute(
        select(ProcessInstance)
        .where(ProcessInstance.id == instance_id)
        .with_for_update(of=ProcessInstance)
        .execution_options(populate_existing=True)
    ).scalar_one()
    return record(session, kind, at, instance=instance, actor=actor, data=data)


@dataclass(frozen=True)
class BrokenLink:
    chain: str
    seq: int
    event_id: int
    reason: str

    def __str__(self) -> str:
        return f"{self.chain} event #{self.seq} (id {self.event_id}): {self.reason}"


def verify(session: Session, chain: str | None = None) -> list[BrokenLink]:
    """Recompute every chain (or one) and report the first broken link of each."""
    query = select(AuditEvent).order_by(AuditEvent.chain, AuditEvent.seq)
    if chain is not None:
        query = query.where(AuditEvent.chain == chain)
    broken: list[BrokenLink] = []
    current_chain, prev_hash, expected_seq, skip = None, GENESIS, 1, False
    for event in session.execute(query.execution_options(yield_per=1000)).scalars():
        if event.chain != current_chain:
            current_chain, prev_hash, expected_seq, skip = event.chain, GENESIS, 1, False
        if skip:
            continue
        reason = None
        if event.seq != expected_seq:
            reason = f"expected event #{expected_seq}; an event is missing"
        elif event.prev_hash != prev_hash:
            reason = "does not point at the hash of the event before it"
        elif _digest(_event_values(event)) != event.hash:
            reason = "its content does not match its hash (altered)"
        if reason:
            broken.append(BrokenLink(event.chain, event.seq, event.id, reason))
            skip = True
            continue
        prev_hash, expected_seq = event.hash, expected_seq + 1
    return broken
