"""Service tasks: named operators that read and write registers inside the step's transaction.

A diagram calls one with ``spiffworkflow:serviceTaskOperator``; its parameters are
expressions over task data. Operators get the step's own session, and their writes sit
in a savepoint opened at the first call, so a step that fails later takes them back
along with everything else.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, SessionTransaction

from .errors import ScriptError
from .models_registers import Supplier, SupplierScore


@dataclass
class _Binding:
    session: Session
    now: datetime
    instance_id: int | None = None
    savepoint: SessionTransaction | None = None


Operator = Callable[[_Binding, dict[str, Any]], Any]
_bound: contextvars.ContextVar[_Binding | None] = contextvars.ContextVar("mutu_services", default=None)


class ServiceRegistry:
    """Operators by name; ``call`` is what the script engine runs for a service task."""

    def __init__(self, operators: dict[str, Operator] | None = None) -> None:
        self.operators: dict[str, Operator] = dict(operators or {})

    def names(self) -> frozenset[str]:
        return frozenset(self.operators)

    @contextlib.contextmanager
    def bound(self, session: Session, now: datetime, instance_id: int | None = None) -> Iterator[None]:
        """Let service tasks of this step use ``session``; undo their writes if the step fails."""
        binding = _Binding(session, now, instance_id)
        token = _bound.set(binding)
        try:
            yield
        except BaseException:
            if binding.savepoint is not None and binding.savepoint.is_active:
                binding.savepoint.rollback()
            raise
        else:
            if binding.savepoint is not None and binding.savepoint.is_active:
                binding.savepoint.commit()
        finally:
            _bound.reset(token)

    def call(self, name: str, params: dict[str, Any]) -> str:
        operator = self.operators.get(name)
        if operator is None:
            raise ScriptError(f"no service operator named {name!r}")
        binding = _bound.get()
        if binding is None:
            raise ScriptError(f"service {name!r} called outside an engine step")
        if binding.savepoint is None:
            binding.savepoint = binding.session.begin_nested()
        values = {key: param["value"] for key, param in params.items()}
        return json.dumps(operator(binding, values), default=str)


def _supplier(binding: _Binding, name: Any) -> Supplier | None:
    if not isinstance(name, str) or not name.strip():
        raise ScriptError("a supplier name is required")
    return binding.session.execute(select(Supplier).where(Supplier.name == name.strip())).scalar_one_or_none()


def _percent(params: dict[str, Any], key: str, what: str) -> int:
    value = params.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        raise ScriptError(f"{what} must be a whole number from 0 to 100, not {value!r}")
    return value


def _state(supplier: Supplier | None, now: datetime) -> dict[str, Any]:
    if supplier is None:
        return {"found": False, "approved": False, "score": None, "valid": False}
    valid = supplier.approved and supplier.valid_until is not None and supplier.valid_until >= now
    return {
        "found": True,
        "approved": supplier.approved,
        "score": supplier.score,
        "valid": valid,
        "valid_until": supplier.valid_until.isoformat() if supplier.valid_until else None,
    }


def supplier_lookup(binding: _Binding, params: dict[str, Any]) -> dict[str, Any]:
    """Is the supplier on the approved list, with a score and an evaluation still valid?"""
    return _state(_supplier(binding, params.get("name")), binding.now)


def supplier_evaluate(binding: _Binding, params: dict[str, Any]) -> dict[str, Any]:
    """Record an evaluation: the score, approved or not, valid for ``valid_days`` (default 365)."""
    score = _percent(params, "score", "an evaluation score")
    supplier = _supplier(binding, params.get("name"))
    if supplier is None:
        supplier = Supplier(name=str(params["name"]).strip(), deliveries=0)
        binding.session.add(supplier)
    supplier.approved = bool(params.get("approved"))
    supplier.score = score
    supplier.evaluated_at = binding.now
    supplier.valid_until = binding.now + timedelta(days=int(params.get("valid_days") or 365))
    supplier.updated_at = binding.now
    binding.session.flush()
    _scored(binding, supplier, "evaluation")
    return _state(supplier, binding.now)


def _scored(binding: _Binding, supplier: Supplier, reason: str) -> None:
    """Keep the score's history with the case whose step changed it (the register shows it)."""
    if supplier.score is not None:
        binding.session.add(
            SupplierScore(
                supplier_id=supplier.id,
                score=supplier.score,
                reason=reason,
                instance_id=binding.instance_id,
                at=binding.now,
            )
        )


def supplier_rate(binding: _Binding, params: dict[str, Any]) -> dict[str, Any]:
    """Move a supplier's score halfway towards the quality seen on one delivery."""
    quality = _percent(params, "quality", "a delivery quality")
    supplier = _supplier(binding, params.get("name"))
    if supplier is None:
        raise ScriptError(f"supplier {params.get('name')!r} is not in the register")
    supplier.score = quality if supplier.score is None else round((supplier.score + quality) / 2)
    supplier.deliveries = (supplier.deliveries or 0) + 1
    supplier.updated_at = binding.now
    binding.session.flush()
    _scored(binding, supplier, "delivery")
    return {**_state(supplier, binding.now), "deliveries": supplier.deliveries}


def supplier_list(binding: _Binding, params: dict[str, Any]) -> list[dict[str, Any]]:
    """The approved suppliers, for a periodic re-evaluation."""
    rows = binding.session.execute(
        select(Supplier).where(Supplier.approved.is_(True)).order_by(Supplier.name)
    ).scalars()
    return [{"name": s.name, "score": s.score, **_state(s, binding.now)} for s in rows]


def default_services() -> ServiceRegistry:
    return ServiceRegistry(
        {
            "supplier_lookup": supplier_lookup,
            "supplier_evaluate": supplier_evaluate,
            "supplier_rate": supplier_rate,
            "supplier_list": supplier_list,
        }
    )
