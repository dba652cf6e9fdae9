"""How case data reads on a page: labelled and worded in the user's language, personal data masked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from flask_babel import gettext as _
from flask_login import current_user

from engine import workspace
from engine.models_workspace import Attachment
from engine.workspace import mask, sees_personal_data

from . import formkit
from .core import glue, lang


@dataclass
class Shown:
    """One value as a page shows it: ``kind`` is text, yesno, files, rows or masked."""

    label: str
    kind: str
    value: Any
    typed: bool = False  # what a person wrote, shown as written (``translate="no"``)


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
        label = formkit.label_of(spec, lang(), "") or _case_field_label(name, process_key)
        if not spec and name == "severity":  # set by the decision table, not a form
            out.append(Shown(label, "text", severity_word(value)))
            continue
        out.append(_shown(label, name, spec, value, files, hidden, process_key))
    return out


SEVERITY_WORDS = {
    "minor": ("ringan", "minor"),
    "major": ("berat", "major"),
    "critical": ("kritis", "critical"),
}


def severity_word(value: Any) -> str:
    """A severity the nc_severity table gives, in the reader's language."""
    if value in (None, ""):
        return ""
    words = SEVERITY_WORDS.get(str(value))
    return (words[1] if lang() == "en" else words[0]) if words else str(value)


def _case_field_label(name: str, process_key: str = "") -> str:
    """Words for case fields that no form asks for (the engine or a decision table sets them)."""
    own = (glue(process_key).meta.get("field_labels") or {}).get(name) if process_key else None
    if isinstance(own, dict) and own.get(lang()):
        return str(own[lang()])
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
    process_key: str = "",
) -> Shown:
    if name in hidden:
        return Shown(label, "masked", workspace.MASK)
    kind = formkit._kind(spec) if spec else ""
    if kind == "files" and isinstance(value, list):
        return Shown(label, "files", [files.get(str(v)) or str(v) for v in value])
    if isinstance(value, bool):
        return Shown(label, "yesno", value)
    if isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
        value = list(value.values())  # a collection kept by index (a multi-instance's results)
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        item = spec.get("items", {}).get("properties", {})
        columns = list(dict.fromkeys(k for row in value for k in row))
        heads = [
            formkit.label_of(item.get(c, {}), lang(), "") or _case_field_label(c, process_key)
            for c in columns
        ]
        rows = [
            [
                (_word(item.get(c, {}), mask(row, hidden).get(c, "")), not item.get(c, {}).get("enum"))
                for c in columns
            ]
            for row in value
        ]
        return Shown(label, "rows", {"heads": heads, "rows": rows})
    if isinstance(value, list):
        item = formkit._item_choices(spec)
        words = ", ".join(_word(item, v) for v in mask(value, hidden))
        return Shown(label, "text", words, typed=not item.get("enum"))
    if isinstance(value, dict):
        return Shown(
            label, "text", ", ".join(f"{k}: {v}" for k, v in mask(value, hidden).items()), typed=True
        )
    return Shown(
        label, "text", _word(spec, value), typed=not spec.get("enum") and not isinstance(value, (int, float))
    )


def _word(spec: dict[str, Any], value: Any) -> str:
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if spec.get("format") == "date" and isinstance(value, str) and len(value) == 10:
        try:  # one date format on every page: the one of due dates and the history
            return date.fromisoformat(value).strftime("%d-%m-%Y")
        except ValueError:
            return value
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
