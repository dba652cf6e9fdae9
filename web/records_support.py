"""What the record pages and their API share: today's date, the nonconformity targets, a pack
as JSON."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from engine import reports
from engine.models_records import EvidencePack

from .core import glue, now


def today() -> date:
    return now().date()


def nc_targets() -> tuple[dict[str, int], int]:
    """Days to close by severity and the KPI percentage, from the nonconformity's glue."""
    meta = glue("nonconformity").meta
    targets = meta.get("close_target_days")
    if not isinstance(targets, dict) or not all(isinstance(v, int) for v in targets.values()) or not targets:
        targets = reports.DEFAULT_TARGETS
    found = re.search(r"(\d+)\s*%", str(meta.get("kpi_target") or ""))
    return targets, int(found.group(1)) if found else reports.DEFAULT_KPI_PERCENT


def pack_json(pack: EvidencePack) -> dict[str, Any]:
    return {
        "id": pack.id,
        "period": {"from": pack.period_from, "to": pack.period_to},
        "site": pack.site,
        "service": pack.service,
        "status": pack.status,
        "progress": pack.progress,
        "stage": pack.stage,
        "error": pack.error,
        "rows": pack.rows,
        "sha256": pack.sha256,
        "size": pack.size,
        "created_at": pack.created_at.isoformat(),
        "finished_at": pack.finished_at.isoformat() if pack.finished_at else None,
    }
