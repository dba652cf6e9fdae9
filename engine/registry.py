"""Per-process glue the engine is given: lane -> role maps, case fields, forms, numbering.

The glue lives in ``workflows/<process>/process.json`` and ``workflows/<process>/forms/``
as data, so the QMR can later edit it in the browser just like the diagrams.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_PERSONAL_ROLES = ("qmr", "quality_control", "director", "admin")
CASE_COLUMNS = ("number", "summary", "site", "service", "severity", "agent_code", "status")


@dataclass(frozen=True)
class ProcessGlue:
    """What Mutu needs to know about one process beyond its BPMN."""

    key: str
    lane_roles: dict[str, str | list[str]] = field(default_factory=dict)  # a list: any of these roles
    case_fields: dict[str, str] = field(default_factory=dict)
    startable_by: tuple[str, ...] = ()
    number_format: str | None = None
    forms: dict[str, dict[str, Any]] = field(default_factory=dict)
    name_en: str | None = None
    names_en: dict[str, str] = field(default_factory=dict)  # BPMN element id -> English name
    # Roles that see personal data (customer names, phone numbers) unmasked (manual 8.5.3).
    personal_roles: tuple[str, ...] = DEFAULT_PERSONAL_ROLES

    def personal_fields(self) -> frozenset[str]:
        """Field names any form of this process marks as personal data."""
        names: set[str] = set()
        for schema in self.forms.values():
            for name, spec in schema.get("properties", {}).items():
                if spec.get("x-mutu", {}).get("personal"):
                    names.add(name)
        return frozenset(names)


class GlueError(ValueError):
    pass


@dataclass
class Registry:
    """The glue of every process, by process key; unknown keys get empty glue."""

    processes: dict[str, ProcessGlue] = field(default_factory=dict)

    def get(self, key: str) -> ProcessGlue:
        return self.processes.get(key) or ProcessGlue(key=key)

    def add(self, glue: ProcessGlue) -> None:
        self.processes[glue.key] = glue


def load_glue(folder: Path) -> ProcessGlue:
    """Read one ``workflows/<process>/`` folder; a broken file is a GlueError naming it."""
    key = folder.name
    meta: dict[str, Any] = {}
    meta_file = folder / "process.json"
    if meta_file.exists():
        try:
            meta = json.loads(meta_file.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise GlueError(f"{meta_file}: not JSON: {exc}") from None
    forms: dict[str, dict[str, Any]] = {}
    forms_dir = folder / "forms"
    if forms_dir.is_dir():
        for path in sorted(forms_dir.glob("*.json")):
            try:
                forms[path.name] = json.loads(path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as exc:
                raise GlueError(f"{path}: not JSON: {exc}") from None
    case_fields = dict(meta.get("case_fields", {}))
    return ProcessGlue(
        key=meta.get("key", key),
        lane_roles=dict(meta.get("lane_roles", {})),
        case_fields=case_fields,
        startable_by=tuple(meta.get("startable_by", ())),
        number_format=meta.get("number_format"),
        forms=forms,
        name_en=meta.get("name_en"),
        names_en=dict(meta.get("names_en", {})),
        personal_roles=tuple(meta.get("personal_roles", DEFAULT_PERSONAL_ROLES)),
    )


def load_registry(workflows_dir: Path) -> Registry:
    """Load every process folder below ``workflows_dir`` (folders starting with _ are skipped)."""
    registry = Registry()
    if not workflows_dir.is_dir():
        return registry
    for folder in sorted(workflows_dir.iterdir()):
        if folder.is_dir() and not folder.name.startswith(("_", ".")):
            registry.add(load_glue(folder))
    return registry
