"""How case data reads on a page: labelled and worded in the user's language, personal data masked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from flask_login import current_user

from engine import workspace
from engine.models import Attachment
from engine.workspace import mask, sees_personal_data

from . import formkit
from .core import glue, lang


@dataclass
class Shown:
    """One value as a page shows it: ``kind`` is text, yesno, files, rows or masked."""

    label: str
    kind: str
    value: Any


def field_specs(process_key: str) -> dict[str, dict[str, Any]]:
    """Every field name the process's forms use -> its schema (the first form that names it)."""
    specs: dict[str, dict[str, Any]] = {}
    for schema in glue(process_key).forms.values():
        for name, spec in schema.get("properties", {}).items():
            specs.setdefault(name, spec)
    return specs


def masked_fields(process_key: str) -> frozenset[str]:
    meta = glue(process_key)
    return frozenset() if sees_personal_data(current_user, meta.personal_roles) else meta.personal_fields()


def show_values(
    process_key: str, data: dict[str, Any], files: dict[str, Attachment], skip: tuple[str, ...] = ()
) -> list[Shown]:
    """Label and word a dict of case data in the user's language, personal data masked."""
    specs = field_specs(process_key)
    hidden = masked_fields(process_key)
    out = []
    for name, value in data.items():
        if name in skip or value in (None, "", []):
            continue
        spec = specs.get(name, {})
        label = formkit.label_of(spec, lang(), "") or _case_field_label(name)
        out.append(_shown(label, name, spec, value, files, hidden))
    return out


def _case_field_label(name: str) -> str:
    """Words for case fields that no form asks for (the engine or a decision table sets them)."""
    words = {
        "severity": _("Severity"),
        "reopen_count": _("Times reopened"),
        "status": _("Status"),
        "site": _("Site"),
        "service": _("Service"),
        "agent_code": _("Agent code"),
    }
    return words.get(name, name.replace("_", " "))


def _shown(
    label: str,
    name: str,
    spec: dict[str, Any],
    value: Any,
    files: dict[str, Attachment],
    hidden: frozenset[str],
) -> Shown:
    if name in hidden:
        return Shown(label, "masked", workspace.MASK)
    kind = formkit._kind(spec) if spec else ""
    if kind == "files" and isinstance(value, list):
        return Shown(label, "files", [files.get(str(v)) or str(v) for v in value])
    if isinstance(value, bool):
        return Shown(label, "yesno", value)
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        item = spec.get("items", {}).get("properties", {})
        columns = list(dict.fromkeys(k for row in value for k in row))
        heads = [formkit.label_of(item.get(c, {}), lang(), c) for c in columns]
        rows = [[_word(item.get(c, {}), mask(row, hidden).get(c, "")) for c in columns] for row in value]
        return Shown(label, "rows", {"heads": heads, "rows": rows})
    if isinstance(value, list):
        item = formkit._item_choices(spec)
        return Shown(label, "text", ", ".join(_word(item, v) for v in mask(value, hidden)))
    if isinstance(value, dict):
        return Shown(label, "text", ", ".join(f"{k}: {v}" for k, v in mask(value, hidden).items()))
    return Shown(label, "text", _word(spec, value))


def _word(spec: dict[str, Any], value: Any) -> str:
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    options = dict(formkit._options(spec, lang())) if spec.get("enum") else {}
    return options.get(str(value), str(value))


ROLE_WORDS = {
    "qmr": ("QMR (Wakil Manajemen Mutu)", "QMR (Quality Management Representative)"),
    "director": ("Direktur", "Director"),
    "quality_control": ("Quality Control", "Quality Control"),
    "team_leader": ("Team leader", "Team leader"),
    "agent": ("Agen", "Agent"),
    "operations_manager": ("Manajer operasional", "Operations manager"),
    "procurement": ("Pengadaan", "Procurement"),
    "client_liaison": ("Penghubung klien", "Client liaison"),
    "admin": ("Admin", "Admin"),
}


def role_label(key: str) -> str:
    words = ROLE_WORDS.get(key)
    return (words[1] if lang() == "en" else words[0]) if words else key
