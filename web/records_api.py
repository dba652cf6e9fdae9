"""The quality records through /api/v1: registers, an agent's page, the report figures and the
evidence packs, with the same rules as the pages (the engine's policy decides)."""

from __future__ import annotations

import re
from typing import Any

from flask import Response, jsonify, request
from flask_login import current_user

from engine import agents, packs, policy, registers, reports

from .api import ApiError, _body, _page_args
from .api import bp as api_bp
from .core import db, now
from .records_support import nc_targets, pack_json, today


def _filters() -> dict[str, Any]:
    return {k: v for k, v in request.args.items() if k not in ("page", "per_page")}


@api_bp.get("/registers/<name>")
def api_register(name: str):  # type: ignore[no-untyped-def]
    if name not in registers.NAMES:
        raise ApiError(
            404, "not_found", f"no register named {name!r}; there are: " + ", ".join(registers.NAMES)
        )
    page, per_page = _page_args()
    result = registers.page(db(), current_user, name, _filters(), today(), page, per_page)
    return jsonify(
        name=name,
        columns=list(registers.COLUMNS[name]),
        filters=list(("q", *registers.FILTERS[name])),
        items=result.rows,
        total=result.total,
        page=page,
        per_page=per_page,
    )


@api_bp.get("/agents/<code>")
def api_agent(code: str):  # type: ignore[no-untyped-def]
    return jsonify(agents.profile(db(), current_user, code, today()))


def _scope() -> tuple[str | None, str | None]:
    site, service = request.args.get("site") or None, request.args.get("service") or None
    if any(v is not None and len(v) > 200 for v in (site, service)):
        raise ApiError(400, "bad_request", "site and service are at most 200 characters")
    return site, service


def _period() -> reports.Period:
    return reports.period_of(request.args.get("from"), request.args.get("to"), today())


@api_bp.get("/reports/nonconformity")
def api_report_nc():  # type: ignore[no-untyped-def]
    targets, kpi = nc_targets()
    site, service = _scope()
    figures = reports.nonconformity(db(), current_user, _period(), site, service, targets, kpi)
    db().commit()  # the months computed for this answer stay cached
    return jsonify(figures)


@api_bp.get("/reports/monitoring")
def api_report_monitoring():  # type: ignore[no-untyped-def]
    site, service = _scope()
    return jsonify(reports.monitoring(db(), current_user, _period(), site, service))


@api_bp.post("/evidence-packs")
def api_pack_request():  # type: ignore[no-untyped-def]
    body = _body("period", "site", "service", "lang")
    for key, value in body.items():
        if value is not None and (not isinstance(value, str) or len(value) > 200):
            raise ApiError(400, "bad_request", f"{key} must be a string of at most 200 characters")
    if body.get("lang") not in (None, "id", "en"):
        raise ApiError(400, "bad_request", "lang must be id or en")
    if body.get("site") is not None and body["site"] not in policy.SITES:
        raise ApiError(400, "bad_request", "site must be one of " + ", ".join(policy.SITES))
    period = body.get("period")
    if not isinstance(period, str) or not re.fullmatch(r"[1-9][0-9]{3}-(0[1-9]|1[0-2])", period):
        raise ApiError(400, "bad_request", "period is a month, YYYY-MM")
    first, last = packs.period_bounds(period, None, None)
    pack = packs.request(
        db(),
        current_user,
        first,
        last,
        body.get("site") or None,
        body.get("service") or None,
        body.get("lang") or current_user.language or "id",
        now(),
    )
    db().commit()
    answer = jsonify(pack_json(pack))
    answer.status_code = 202
    answer.headers["Location"] = f"/api/v1/evidence-packs/{pack.id}"
    return answer


@api_bp.get("/evidence-packs")
def api_packs():  # type: ignore[no-untyped-def]
    page, per_page = _page_args()
    rows, total = packs.listed(db(), current_user, page, per_page)
    return jsonify(items=[pack_json(p) for p in rows], total=total, page=page, per_page=per_page)


@api_bp.get("/evidence-packs/<int:pack_id>")
def api_pack(pack_id: int):  # type: ignore[no-untyped-def]
    pack = packs.visible(db(), current_user, pack_id)
    if pack.status != "done" or request.args.get("format") == "json":
        answer = jsonify(pack_json(pack))
        answer.status_code = 200 if pack.status == "done" else 202
        return answer
    packs.downloaded(db(), current_user, pack, now())
    db().commit()
    return Response(
        pack.content,
        mimetype="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="evidence-pack-{pack.id}.zip"',
            "X-Content-SHA256": pack.sha256 or "",
        },
    )
