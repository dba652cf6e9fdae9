"""The versions of a process under document control, and moving running cases between them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .errors import InvalidState, MutuError, NotAuthorized, NotFound
from .models import ProcessInstance, ProcessVersion, User
from .policy import may_manage

MAX_INT = 2**31 - 1  # ids and version numbers are INTEGER columns


def get_version(session: Session, process_key: str, number: int) -> ProcessVersion:
    """Version ``number`` of a process, or NotFound (numbers past what a column holds included)."""
    found = None
    if 0 < number <= MAX_INT:
        found = session.execute(
            select(ProcessVersion).where(
                ProcessVersion.process_key == process_key, ProcessVersion.version == number
            )
        ).scalar_one_or_none()
    if found is None:
        raise NotFound(f"{process_key} has no version {number}")
    return found


def states(session: Session, process_key: str, now: datetime) -> list[tuple[ProcessVersion, str]]:
    """Every version, newest first, with its state as people read it.

    ``in_effect`` (new cases start on it), ``scheduled`` (approved, takes effect later),
    ``superseded``, ``waiting_approval`` or ``returned``.
    """
    versions = list(
        session.execute(
            select(ProcessVersion)
            .where(ProcessVersion.process_key == process_key)
            .order_by(ProcessVersion.version.desc())
        ).scalars()
    )
    if not versions:
        raise NotFound(f"no process {process_key!r} is deployed")
    out: list[tuple[ProcessVersion, str]] = []
    in_effect_seen = False
    for v in versions:
        if v.state != "approved":
            out.append((v, v.state))
        elif v.effective_from is not None and v.effective_from > now:
            out.append((v, "scheduled"))
        elif not in_effect_seen:
            in_effect_seen = True
            out.append((v, "in_effect"))
        else:
            out.append((v, "superseded"))
    return out


def running_by_version(session: Session, process_key: str) -> dict[int, int]:
    rows = session.execute(
        select(ProcessVersion.version, func.count(ProcessInstance.id))
        .join(ProcessInstance, ProcessInstance.process_version_id == ProcessVersion.id)
        .where(
            ProcessVersion.process_key == process_key,
            ProcessInstance.status.in_(("running", "incident", "suspended")),
        )
        .group_by(ProcessVersion.version)
    ).all()
    return {version: count for version, count in rows}


@dataclass
class Move:
    instance_id: int
    from_version: int
    moved: bool
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "instance_id": self.instance_id,
            "from_version": self.from_version,
            "moved": self.moved,
            "reason": self.reason,
        }


def migrate_many(
    session: Session,
    engine: Any,
    process_key: str,
    to_version: int,
    actor: User,
    *,
    instance_ids: list[int] | None = None,
    dry_run: bool = False,
) -> list[Move]:
    """Move running cases (all older ones, or those named) to ``to_version``; each one alone.

    Each move runs in a savepoint: one that cannot move is reported with the engine's reason
    and leaves the others alone. A dry run moves every case in a savepoint and rolls it back.
    """
    if not may_manage(actor):
        raise NotAuthorized(
            f"{actor.username} may not move cases between versions; only the QMR and admins may"
        )
    if any(not 0 < i <= MAX_INT for i in instance_ids or []):
        raise NotFound(f"a case id of {process_key} is not one a case can have")
    target = get_version(session, process_key, to_version)
    if target.state != "approved":
        raise InvalidState(
            f"{process_key} v{to_version} is {target.state}: only approved versions take cases"
        )
    query = (
        select(ProcessInstance.id, ProcessVersion.version)
        .join(ProcessVersion, ProcessVersion.id == ProcessInstance.process_version_id)
        .where(
            ProcessInstance.process_key == process_key,
            ProcessInstance.status.in_(("running", "incident", "suspended")),
        )
        .order_by(ProcessInstance.id)
    )
    if instance_ids is not None:
        if len(instance_ids) > 10_000:
            raise MutuError("at most 10,000 cases at once")
        query = query.where(ProcessInstance.id.in_(instance_ids))
    found = session.execute(query).all()
    if instance_ids is not None:
        missing = sorted(set(instance_ids) - {i for i, _v in found})
        if missing:
            raise NotFound(f"no running case of {process_key} with id {', '.join(map(str, missing[:20]))}")
    moves: list[Move] = []
    for instance_id, version in found:
        if version == to_version:
            if instance_ids is not None:
                moves.append(Move(instance_id, version, False, f"already runs version {to_version}"))
            continue
        savepoint = session.begin_nested()
        try:
            engine.migrate(session, instance_id, actor, to_version)
        except MutuError as exc:
            savepoint.rollback()
            moves.append(Move(instance_id, version, False, str(exc)))
            continue
        if dry_run:
            savepoint.rollback()
        else:
            savepoint.commit()
        moves.append(Move(instance_id, version, True))
    if dry_run:
        session.expire_all()
    return moves
