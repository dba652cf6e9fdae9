"""The OpenAPI paths of the quality records: registers, agents, reports, evidence packs."""

from __future__ import annotations

from typing import Any

from engine.policy import SITES
from engine.registers import NAMES

from .openapi import OBJ, PAGING, TEXT, _op, _q, _resp

DAY = {
    "type": "string",
    "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
    "format": "date",
    "description": "YYYY-MM-DD",
}
SHORT = {**TEXT, "maxLength": 200}
PERIOD = [
    _q("from", DAY, "first day (default: a year before `to`)"),
    _q("to", DAY, "last day (default: today)"),
]
SCOPE = [_q("site", SHORT, "one site (site-bound readers always get their own)"), _q("service", SHORT)]
PACK_ID = {"name": "pack_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 0}}
ZIP = {"application/zip": {"schema": {"type": "string", "format": "binary"}}}


def records_paths() -> dict[str, Any]:
    register_filters = [
        _q(name, SHORT)
        for name in ("q", "state", "source", "service", "client", "kind", "channel", "site", "from", "to")
    ]
    return {
        "/registers/{name}": {
            "get": {
                **_op(
                    "One page of a register (suppliers, requirements, communications, preservation, tools): "
                    "`items` with the register's `columns`, filtered by `q` (search) and the register's own "
                    "`filters`; filters a register does not have are ignored",
                    {"200": _resp("rows of the register", OBJ)},
                    400,
                    403,
                    404,
                    params=[*PAGING, *register_filters],
                ),
                "parameters": [
                    {
                        "name": "name",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "enum": list(NAMES)},
                    }
                ],
            }
        },
        "/agents/{code}": {
            "get": {
                **_op(
                    "Everything about one agent code: identity, monitoring results by method with trend, "
                    "nonconformities naming the agent, acknowledgements, training, tasks completed",
                    {"200": _resp("the agent's page", OBJ)},
                    403,
                    404,
                ),
                "parameters": [
                    {"name": "code", "in": "path", "required": True, "schema": {**TEXT, "maxLength": 40}}
                ],
            }
        },
        "/reports/nonconformity": {
            "get": _op(
                "The nonconformity dashboard's figures for a period: opened, closed, open by age, by "
                "severity, source, site and service, closed on time against the KPI target, time to close, "
                "effective at the first check, re-opened, recurring",
                {"200": _resp("the figures", OBJ)},
                400,
                403,
                422,
                params=[*PERIOD, *SCOPE],
            )
        },
        "/reports/monitoring": {
            "get": _op(
                "Monitoring pass rates by method, month, site, team, and the lowest agents, for a period",
                {"200": _resp("the pass rates", OBJ)},
                400,
                403,
                422,
                params=[*PERIOD, *SCOPE],
            )
        },
        "/evidence-packs": {
            "get": _op("Evidence packs, newest first", {"200": _resp("packs", OBJ)}, 400, 403, params=PAGING),
            "post": _op(
                "Ask for the evidence pack of a month (`period`) of one site or all, "
                "one service or all; it is built off the web workers: poll GET /evidence-packs/{id}",
                {"202": _resp("the pack, queued", OBJ)},
                400,
                403,
                422,
                body={
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["period"],
                    "properties": {
                        "period": {"type": "string", "pattern": "^[1-9][0-9]{3}-(0[1-9]|1[0-2])$"},
                        "site": {"type": "string", "enum": list(SITES)},
                        "service": {**SHORT, "minLength": 1},
                        "lang": {"type": "string", "enum": ["id", "en"]},
                    },
                },
            ),
        },
        "/evidence-packs/{pack_id}": {
            "get": {
                **_op(
                    "A pack: its progress (202, JSON) while it is made, then the zip (200) with the report "
                    "PDF, the CSV of the checks and nonconformities, and the evidence files; "
                    "`format=json` answers its description instead",
                    {
                        "200": {
                            "description": "the zip, or with format=json the pack",
                            "content": {**ZIP, "application/json": {"schema": OBJ}},
                        },
                        "202": _resp("not ready yet: status, progress, stage", OBJ),
                    },
                    400,
                    403,
                    404,
                    params=[_q("format", {"type": "string", "enum": ["json", "zip"]})],
                ),
                "parameters": [PACK_ID],
            }
        },
    }
