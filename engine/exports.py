"""Rows to CSV and XLSX for the registers, reports and packs; every export joins the audit chain.

Cells that a spreadsheet would run as a formula (=, +, -, @ first) are written as text, so an
exported summary typed by anyone cannot run on the reader's machine.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import xlsxwriter
from sqlalchemy.orm import Session

from . import audit
from .models import User

EXPORT_CHAIN = "exports"
MAX_ROWS = 100_000
CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, list | tuple):
        value = ", ".join(str(v) for v in value)
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def csv_bytes(columns: Sequence[str], headers: Sequence[str], rows: Iterable[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(headers)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return ("\ufeff" + out.getvalue()).encode("utf-8")  # the BOM: spreadsheets read UTF-8 then


def xlsx_bytes(
    columns: Sequence[str], headers: Sequence[str], rows: Iterable[dict[str, Any]], title: str
) -> bytes:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(
        out, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
    )
    sheet = book.add_worksheet(title[:31] or "Mutu")
    bold = book.add_format({"bold": True})
    sheet.write_row(0, 0, list(headers), bold)
    widths = [len(h) for h in headers]
    for r, row in enumerate(rows, start=1):
        for c, column in enumerate(columns):
            value = _cell(row.get(column))
            if isinstance(value, int | float):
                sheet.write_number(r, c, value)
            else:
                sheet.write_string(r, c, str(value))
                widths[c] = min(max(widths[c], len(str(value))), 60)
    for c, width in enumerate(widths):
        sheet.set_column(c, c, width + 2)
    sheet.freeze_panes(1, 0)
    book.close()
    return out.getvalue()


def record(
    session: Session,
    user: User,
    what: str,
    fmt: str,
    filters: dict[str, Any],
    rows: int,
    content: bytes,
    now: datetime,
) -> str:
    """Put the export (what, filters, rows, SHA-256 of the file) in the audit chain."""
    digest = hashlib.sha256(content).hexdigest()
    audit.record(
        session,
        "exported",
        now,
        actor=user,
        data={"what": what, "format": fmt, "filters": filters, "rows": rows, "sha256": digest},
        chain=EXPORT_CHAIN,
    )
    return digest
