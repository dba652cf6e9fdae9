"""The evidence pack's PDF report: pass rates, every check with who served and who checked,
the nonconformities, their signatures and the evidence files' fingerprints."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .models_records import EvidencePack
from .pdf import Document
from .pdf_words import word


def rates(checks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: dict[tuple[str, str], list[int]] = {}
    for r in checks:
        slot = out.setdefault((r["site"] or "-", r["method"]), [0, 0])
        slot[0] += 1
        slot[1] += 1 if r["passed"] else 0
    return [
        {"site": k[0], "method": k[1], "checks": n, "passed": ok, "percent": round(100 * ok / n, 1)}
        for k, (n, ok) in sorted(out.items())
    ]


def render_pdf(pack: EvidencePack, rows: dict[str, Any], who: str, made: datetime) -> bytes:
    lang = pack.language
    w = lambda key: word(key, lang)  # noqa: E731 - a short alias in a long table of words
    doc = Document(w("pack_title"), lang, wide=True)
    doc.pairs(
        [
            (w("period"), f"{pack.period_from} – {pack.period_to}"),
            (w("site"), pack.site or w("all")),
            (w("service"), pack.service or w("all")),
            (w("made_at"), f"{made.strftime('%d-%m-%Y %H:%M')} UTC {w('made_by')} {who}"),
        ]
    )
    doc.heading(w("pass_rates"))
    doc.table(
        [w("site"), w("method"), w("checks"), w("passed"), w("percent")],
        [[r["site"], w(r["method"]), r["checks"], r["passed"], r["percent"]] for r in rates(rows["checks"])],
    )
    doc.heading(w("checks_title"))
    doc.table(
        [
            w("period"),
            w("site"),
            w("method"),
            w("agent"),
            w("online_name"),
            w("score"),
            w("result"),
            w("checked_by"),
            w("date"),
            w("number"),
        ],
        [
            [
                r["period"],
                r["site"],
                w(r["method"]),
                r["agent_code"],
                r["online_name"] or "",
                r["score"] if r["score"] is not None else "",
                w("yes") if r["passed"] else w("no"),
                r["checked_by"] or "",
                r["checked_at"],
                r["number"] or "",
            ]
            for r in rows["checks"]
        ],
    )
    doc.heading(w("ncs"))
    doc.table(
        [w("number"), w("date"), w("site"), w("agent"), w("severity"), w("status"), w("summary")],
        [
            [
                r["number"],
                r["opened_at"],
                r["site"],
                r["agent_code"] or "",
                r["severity"] or "",
                r["status"] or "",
                (r["summary"] or "")[:160],
            ]
            for r in rows["cases"]
        ],
    )
    numbers = {r["instance_id"]: r["number"] for r in rows["cases"]}
    doc.heading(w("signatures"))
    doc.table(
        [w("number"), w("meaning"), w("signer"), w("agent"), w("date"), w("data_hash")],
        [
            [
                numbers.get(s["instance_id"], ""),
                s.get("meaning", ""),
                s.get("name") or s.get("username", ""),
                s.get("agent_code") or "",
                str(s.get("signed_at", ""))[:16],
                s.get("data_sha256", ""),
            ]
            for s in rows["signatures"]
        ],
    )
    doc.heading(w("files"))
    doc.table(
        [w("file"), w("size"), "SHA-256"],
        [[f"{a.id}-{a.filename}", a.size, a.sha256] for a in rows["files"]],
    )
    return doc.bytes()
