"""The service operators of ``process_change``: put an approved version into effect, or return it.

They run inside the Director's step, in its transaction: the version's state, its approver and
its effective date change together with the case, or not at all.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from engine import audit
from engine.errors import ScriptError
from engine.models import ProcessVersion, User

ZONE = ZoneInfo("Asia/Jakarta")  # the contact centers' time: an effective date starts at their midnight


def _waiting(binding: Any, params: dict[str, Any]) -> ProcessVersion:
    version = binding.session.execute(
        select(ProcessVersion).where(
            ProcessVersion.process_key == params.get("process_key"),
            ProcessVersion.version == params.get("version"),
        )
    ).scalar_one_or_none()
    if version is None:
        raise ScriptError(f"no version {params.get('version')!r} of {params.get('process_key')!r}")
    if version.state != "waiting_approval":
        raise ScriptError(
            f"{version.process_key} v{version.version} is {version.state}, not waiting for approval"
        )
    return version


def _approver(binding: Any, params: dict[str, Any]) -> User | None:
    return (
        binding.session.execute(select(User).where(User.username == params.get("approver")))
        .unique()
        .scalar_one_or_none()
    )


def process_version_approve(binding: Any, params: dict[str, Any]) -> dict[str, Any]:
    """The version is approved; in effect from the date given (its midnight), or from now."""
    version = _waiting(binding, params)
    approver = _approver(binding, params)
    effective = binding.now
    raw = params.get("effective_date") or ""
    if raw:
        try:
            day = date.fromisoformat(str(raw))
        except ValueError:
            raise ScriptError(f"effective date {raw!r} is not a date (YYYY-MM-DD)") from None
        effective = max(datetime.combine(day, time.min, ZONE), binding.now)
    version.state = "approved"
    version.approved_by_id = approver.id if approver else None
    version.approved_at = binding.now
    version.effective_from = effective
    binding.session.flush()
    audit.record(
        binding.session,
        "version_approved",
        binding.now,
        actor=approver,
        data={
            "process_key": version.process_key,
            "version": version.version,
            "effective_from": effective.isoformat(),
        },
    )
    return {"state": "approved", "effective_from": effective.isoformat()}


def process_version_return(binding: Any, params: dict[str, Any]) -> dict[str, Any]:
    """The version never takes effect; the reason goes back to whoever prepared it."""
    version = _waiting(binding, params)
    approver = _approver(binding, params)
    version.state = "returned"
    version.decision_note = str(params.get("reason") or "")[:2000]
    binding.session.flush()
    audit.record(
        binding.session,
        "version_returned",
        binding.now,
        actor=approver,
        data={
            "process_key": version.process_key,
            "version": version.version,
            "reason": version.decision_note,
        },
    )
    return {"state": "returned"}


OPERATORS = {
    "process_version_approve": process_version_approve,
    "process_version_return": process_version_return,
}
