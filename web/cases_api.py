"""``/api/v1/cases``: the cases a user may see, one case with what it waits for, its history."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request
from flask_login import current_user

from engine import case_status, inbox, policy, workspace
from engine.models import CaseRecord, ProcessInstance

from .api import _page_args, _task_json, bp
from .core import db, engine, use_case_glue
from .values import masked_fields


def _case_json(instance: ProcessInstance, case: CaseRecord | None) -> dict[str, Any]:
    use_case_glue(instance)
    hidden = masked_fields(instance.process_key)
    return {
        "id": instance.id,
        "process_key": instance.process_key,
        "status": instance.status,
        "started_at": instance.started_at.isoformat(),
        "ended_at": instance.ended_at.isoformat() if instance.ended_at else None,
        "number": case.number if case else None,
        "summary": case.summary if case else None,
        "site": case.site if case else None,
        "service": case.service if case else None,
        "severity": case.severity if case else None,
        "agent_code": case.agent_code if case else None,
        "case_status": case.status if case else None,
        "fields": workspace.mask(case.shown_fields, hidden) if case else {},
    }


@bp.get("/cases")
def cases():  # type: ignore[no-untyped-def]
    page, per_page = _page_args()
    args = request.args
    rows, total = workspace.search_cases(
        db(),
        current_user,
        workspace.CaseFilter(
            process_key=args.get("process") or None,
            status=args.get("status") or None,
            site=args.get("site") or None,
            severity=args.get("severity") or None,
            agent_code=args.get("agent_code") or None,
            number=args.get("number") or None,
            text=args.get("q") or None,
        ),
        page=page,
        per_page=per_page,
    )
    return jsonify(items=[_case_json(i, c) for i, c in rows], total=total, page=page, per_page=per_page)


@bp.get("/cases/<int:instance_id>")
def case(instance_id: int):  # type: ignore[no-untyped-def]
    instance = policy.check_may_see(db(), current_user, instance_id)
    view = inbox.instance_view(db(), instance.id)
    out = _case_json(instance, view.case)
    out["open_tasks"] = [_task_json(t) for t in view.open_tasks]
    out["incidents"] = view.as_dict()["incidents"]
    out["waits_for"] = case_status.status_of(db(), engine(), instance).as_dict()
    return jsonify(out)


@bp.get("/cases/<int:instance_id>/history")
def history(instance_id: int):  # type: ignore[no-untyped-def]
    instance = policy.check_may_see(db(), current_user, instance_id)
    use_case_glue(instance)
    hidden = masked_fields(instance.process_key)
    return jsonify(
        items=[
            {
                "at": e.at.isoformat(),
                "kind": e.kind,
                "actor": e.actor,
                "agent_code": e.agent_code,
                "bpmn_id": e.bpmn_id,
                "task": e.task_name,
                "data": workspace.mask(e.data, hidden),
            }
            for e in workspace.history(db(), instance.id)
        ]
    )
