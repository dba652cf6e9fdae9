"""Per-process glue the engine is given: lane -> role maps, case fields, forms, numbering.

The glue lives in ``workflows/<process>/process.json`` and ``workflows/<process>/forms/``
as data, so the QMR can later edit it in the browser just like the diagrams.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_PERSONAL_ROLES = ("qmr", "quality_control", "director", "admin")
CASE_COLUMNS = ("number", "summary", "site", "service", "severity", "agent_code", "status", "source")


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
    # The process catalogue (manual 8.1): who owns it, what it is for, how it is measured.
    owner_role: str | None = None
    objective: str | None = None
    kpi_target: str | None = None
    clauses: tuple[str, ...] = ()
    # process.json as written, and the scenario files: what a version stores of its glue.
    meta: dict[str, Any] = field(default_factory=dict)
    scenarios: dict[str, dict[str, Any]] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)  # the texts as written, by path in the folder

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
    """The glue of every process, by process key; unknown keys get empty glue.

    ``operators`` are the service operators the processes bring (``workflows/<key>/operators.py``
    with an ``OPERATORS`` dict): a process carries its own code.
    """

    processes: dict[str, ProcessGlue] = field(default_factory=dict)
    operators: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str) -> ProcessGlue:
        return self.processes.get(key) or ProcessGlue(key=key)

    def add(self, glue: ProcessGlue) -> None:
        self.processes[glue.key] = glue


def load_glue(folder: Path) -> ProcessGlue:
    """Read one ``workflows/<process>/`` folder; a broken file is a GlueError naming it."""
    meta_file = folder / "process.json"
    texts = {"process.json": meta_file.read_text(encoding="utf-8")} if meta_file.exists() else {}
    for sub in ("forms", "scenarios"):
        if (folder / sub).is_dir():
            for path in sorted((folder / sub).glob("*.json")):
                texts[f"{sub}/{path.name}"] = path.read_text(encoding="utf-8")
    return glue_from_files(folder.name, texts, where=str(folder))


def _json(where: str, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise GlueError(f"{where}: not JSON: {exc}") from None


def glue_from_files(key: str, texts: dict[str, str], where: str = "") -> ProcessGlue:
    """Glue from the files of one process folder (``process.json``, ``forms/*``, ``scenarios/*``)."""
    prefix = f"{where}/" if where else f"workflows/{key}/"
    meta = _json(prefix + "process.json", texts["process.json"]) if "process.json" in texts else {}
    if not isinstance(meta, dict):
        raise GlueError(f"{prefix}process.json: must be a JSON object")
    forms: dict[str, dict[str, Any]] = {}
    scenarios: dict[str, dict[str, Any]] = {}
    for path, text in sorted(texts.items()):
        folder, _, name = path.partition("/")
        if folder in ("forms", "scenarios") and name.endswith(".json"):
            value = _json(prefix + path, text)
            if not isinstance(value, dict):
                raise GlueError(f"{prefix}{path}: must be a JSON object")
            (forms if folder == "forms" else scenarios)[name] = value
    try:
        return ProcessGlue(
            key=meta.get("key", key),
            lane_roles=dict(meta.get("lane_roles", {})),
            case_fields=dict(meta.get("case_fields", {})),
            startable_by=tuple(meta.get("startable_by", ())),
            number_format=meta.get("number_format"),
            forms=forms,
            name_en=meta.get("name_en"),
            names_en=dict(meta.get("names_en", {})),
            personal_roles=tuple(meta.get("personal_roles", DEFAULT_PERSONAL_ROLES)),
            owner_role=meta.get("owner_role"),
            objective=meta.get("objective"),
            kpi_target=meta.get("kpi_target"),
            clauses=tuple(meta.get("clauses", ())),
            meta=meta,
            scenarios=scenarios,
            files={p: t for p, t in texts.items() if p == "process.json" or p.endswith(".json")},
        )
    except (TypeError, ValueError) as exc:
        raise GlueError(f"{prefix}process.json: {exc}") from None


def glue_from_meta(key: str, meta: dict[str, Any], forms: dict[str, dict[str, Any]]) -> ProcessGlue:
    """Glue from a stored version: its process.json as parsed, and its forms."""
    texts = {"process.json": json.dumps(meta)} if meta else {}
    texts.update({f"forms/{name}": json.dumps(schema) for name, schema in forms.items()})
    glue = glue_from_files(key, texts)
    return glue


def glue_files(glue: ProcessGlue) -> dict[str, str]:
    """The files of a process folder, as a bundle holds them (paths below ``workflows/<key>/``)."""
    if glue.files:
        return dict(glue.files)
    files = {}
    if glue.meta:
        files["process.json"] = json.dumps(glue.meta, ensure_ascii=False, indent=2) + "\n"
    for name, schema in glue.forms.items():
        files[f"forms/{name}"] = json.dumps(schema, ensure_ascii=False, indent=2) + "\n"
    for name, scenario in glue.scenarios.items():
        files[f"scenarios/{name}"] = json.dumps(scenario, ensure_ascii=False, indent=2) + "\n"
    return files


def load_registry(workflows_dir: Path) -> Registry:
    """Load every process folder below ``workflows_dir`` (folders starting with _ are skipped)."""
    registry = Registry()
    if not workflows_dir.is_dir():
        return registry
    for folder in sorted(workflows_dir.iterdir()):
        if folder.is_dir() and not folder.name.startswith(("_", ".")):
            registry.add(load_glue(folder))
            registry.operators.update(_operators(folder))
    return registry


def _operators(folder: Path) -> dict[str, Any]:
    source = folder / "operators.py"
    if not source.exists():
        return {}
    name = f"mutu_operators_{folder.name}"
    spec = importlib.util.spec_from_file_location(name, source)
    if spec is None or spec.loader is None:
        raise GlueError(f"{source}: cannot be loaded")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    operators = getattr(module, "OPERATORS", None)
    if not isinstance(operators, dict):
        raise GlueError(f"{source}: must define OPERATORS, a dict of name -> function")
    return operators
