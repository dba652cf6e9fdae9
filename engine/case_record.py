"""One case's complete record as a PDF, for an auditor: the case, its data, every event of its
audit chain (signatures, comments, evidence), the evidence files and the diagram with the
path taken. Personal fields the reader may not see stay masked, as on the case page."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from . import audit, workspace
from .errors import NotFound
from .models import CaseRecord, ProcessInstance, ProcessVersion
from .pdf import Document, diagram
from .pdf_words import word
from .reports_words import kind_word


def diagram_xml(version: ProcessVersion) -> str:
    marker = re.compile(r'<(?:\w+:)?process\b[^>]*\bid="' + re.escape(version.process_key) + '"')
    for content in version.source_files.values():
        if marker.search(content):
            return content
    raise NotFound(f"no diagram for {version.process_key}")


def _short(value: Any, limit: int = 600) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render(
    session: Session,
    instance: ProcessInstance,
    states: dict[str, list[str]],
    hidden: frozenset[str],
    lang: str,
    process_name: str,
    names: dict[str, str],
    made: datetime,
    who: str,
) -> bytes:
    w = lambda key: word(key, lang)  # noqa: E731 - a short alias in a long table of words
    case = session.get(CaseRecord, instance.id)
    number = case.number if case and case.number else f"#{instance.id}"
    doc = Document(f"{w('case_title')} {number}", lang)
    doc.pairs(
        [
            (w("process"), process_name),
            (w("number"), number),
            (w("summary"), workspace.mask(case.summary, hidden) if case else ""),
            (w("status"), (case.status if case else None) or instance.status),
            (w("started"), instance.started_at.strftime("%d-%m-%Y %H:%M UTC")),
            (w("ended"), instance.ended_at.strftime("%d-%m-%Y %H:%M UTC") if instance.ended_at else "—"),
            (w("made_at"), f"{made.strftime('%d-%m-%Y %H:%M')} UTC {w('made_by')} {who}"),
        ]
    )
    broken = audit.verify(session, audit.chain_for(instance.id))
    doc.para(f"{w('chain')}: " + (f"{w('chain_broken')}: {broken[0]}" if broken else w("chain_ok")))
    if case is not None:
        fields = {
            "site": case.site,
            "service": case.service,
            "severity": case.severity,
            "agent_code": case.agent_code,
            **case.shown_fields,
        }
        doc.heading(w("data"))
        doc.table(
            [w("field"), w("value")],
            [
                [k, _short(v)]
                for k, v in workspace.mask(fields, hidden).items()
                if v not in (None, "", [], {})
            ],
        )
    history = workspace.history(session, instance.id)
    doc.heading(w("history"))
    rows = []
    for e in history:
        data = e.data.get("data") if e.kind in ("started", "completed") else e.data
        who_did = " ".join(x for x in (e.actor or "", f"({e.agent_code})" if e.agent_code else "") if x)
        rows.append(
            [
                e.at.strftime("%d-%m-%Y %H:%M"),
                kind_word(e.kind, lang),
                names.get(e.bpmn_id or "", e.task_name or e.bpmn_id or ""),
                who_did,
                _short(workspace.mask(data, hidden)) if data else "",
            ]
        )
    doc.table([w("date"), w("event"), w("process"), w("who"), w("data")], rows)
    signed = [e for e in history if e.kind == "signed"]
    doc.heading(w("signatures"))
    doc.table(
        [w("meaning"), w("signer"), w("agent"), w("date"), w("data_hash")],
        [
            [
                e.data.get("meaning", ""),
                e.data.get("name") or e.actor or "",
                e.agent_code or "",
                e.at.strftime("%d-%m-%Y %H:%M"),
                e.data.get("data_sha256", ""),
            ]
            for e in signed
        ],
    )
    doc.heading(w("files"))
    doc.table(
        [w("file"), w("size"), w("date"), "SHA-256"],
        [
            [a.filename, a.size, a.uploaded_at.strftime("%d-%m-%Y %H:%M"), a.sha256]
            for a in workspace.attachments(session, instance.id)
        ],
    )
    version = session.get(ProcessVersion, instance.process_version_id)
    if version is not None:
        doc.page_break()
        doc.heading(w("diagram"))
        doc.para(w("legend"))
        done, active = set(states.get("completed", [])), set(states.get("active", []))
        doc.drawing(diagram(diagram_xml(version), instance.process_key, done, active, names, 180 * 2.83))
    return doc.bytes()
