"""Deploy a set of BPMN and DMN files as immutable process versions, or refuse with every problem."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs import BpmnProcessSpec
from SpiffWorkflow.exceptions import SpiffWorkflowException
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import audit, owned
from .bpmn_checks import FORM_PROPERTY, NS, RESERVED_IDS, check_bpmn, check_ids, check_services
from .errors import DeployError, Problem
from .forms import schema_problem
from .identity import BUILTIN_ROLES
from .models import ProcessVersion, User
from .registry import ProcessGlue, Registry, glue_files
from .spiff import XmlRefused, document_kind, new_parser, parse_xml, spec_to_json

__all__ = ["FORM_PROPERTY", "NS", "RESERVED_IDS", "SourceFile", "DeployResult", "check", "deploy"]


@dataclass
class SourceFile:
    name: str
    content: bytes


@dataclass
class DeployResult:
    created: list[ProcessVersion] = field(default_factory=list)
    unchanged: list[ProcessVersion] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def versions(self) -> list[ProcessVersion]:
        return self.created + self.unchanged


@dataclass
class _Parsed:
    process_id: str
    name: str
    spec: BpmnProcessSpec
    subprocess_specs: dict[str, BpmnProcessSpec]
    lane_roles: dict[str, str | list[str] | None]
    forms: dict[str, dict[str, Any]]
    files: list[str]


def read_sources(paths: Iterable[Path], max_bytes: int) -> list[SourceFile]:
    """Collect .bpmn and .dmn files from files and folders; too-large files are problems."""
    files: list[SourceFile] = []
    problems: list[Problem] = []
    for path in paths:
        candidates = (
            sorted(p for p in path.rglob("*") if p.suffix in (".bpmn", ".dmn")) if path.is_dir() else [path]
        )
        if path.is_dir() and not candidates:
            problems.append(Problem(str(path), None, "folder holds no .bpmn or .dmn file"))
        for candidate in candidates:
            if not candidate.exists():
                problems.append(Problem(str(candidate), None, "no such file"))
            elif candidate.stat().st_size > max_bytes:
                problems.append(Problem(candidate.name, None, f"larger than {max_bytes} bytes"))
            else:
                files.append(SourceFile(candidate.name, candidate.read_bytes()))
    if problems:
        raise DeployError(problems)
    return files


def _role_for_lane(lane: str, glue_map: dict[str, Any]) -> str | list[str] | None:
    """The role (or roles, for a lane several roles may work in) that a lane stands for."""
    if lane in glue_map:
        return glue_map[lane]
    normal = lane.strip().lower().replace(" ", "_")
    if normal in BUILTIN_ROLES:
        return normal
    for key, role_name in BUILTIN_ROLES.items():
        if role_name.lower() == lane.strip().lower():
            return key
    return None


def _all_specs(parsed_spec: BpmnProcessSpec, subs: dict[str, BpmnProcessSpec]) -> list[BpmnProcessSpec]:
    return [parsed_spec, *subs.values()]


def _collect(
    pid: str,
    spec: BpmnProcessSpec,
    subs: dict[str, BpmnProcessSpec],
    registry: Registry,
    spec_files: dict[str, str],
    problems: list[Problem],
    warnings: list[Problem],
) -> tuple[dict[str, str | list[str] | None], dict[str, dict[str, Any]]]:
    """Lane -> role map and form snapshot for a process and every process it calls."""
    lane_roles: dict[str, str | list[str] | None] = {}
    forms: dict[str, dict[str, Any]] = {}
    for owner in _all_specs(spec, subs):
        glue = registry.get(owner.name)
        file_name = spec_files.get(owner.name, owner.file or "?")
        for task_spec in owner.task_specs.values():
            lane = getattr(task_spec, "lane", None)
            if lane and lane not in lane_roles:
                role = _role_for_lane(lane, glue.lane_roles)
                for one in role if isinstance(role, list) else [role]:
                    if one is not None and one not in BUILTIN_ROLES:
                        problems.append(Problem(file_name, lane, f"lane maps to unknown role {one!r}"))
                lane_roles[lane] = role
                if role is None:
                    warnings.append(
                        Problem(
                            file_name,
                            lane,
                            f"lane {lane!r} names no role; "
                            "its tasks are open to admins only until it is mapped",
                        )
                    )
            props = (getattr(task_spec, "extensions", None) or {}).get("properties", {})
            form_name = props.get(FORM_PROPERTY)
            if form_name:
                schema = glue.forms.get(form_name)
                if schema is None:
                    problems.append(
                        Problem(
                            file_name,
                            task_spec.bpmn_id,
                            f"form {form_name!r} does not exist in workflows/{owner.name}/forms/",
                        )
                    )
                    continue
                why = schema_problem(schema)
                if why:
                    problems.append(Problem(file_name, task_spec.bpmn_id, f"form {form_name!r}: {why}"))
                forms[f"{owner.name}/{form_name}"] = schema
    return lane_roles, forms


def check(
    files: list[SourceFile], registry: Registry, services: frozenset[str] = frozenset()
) -> tuple[list[_Parsed], list[Problem]]:
    """Parse and check a bundle; raise DeployError with every problem, else return what to publish."""
    problems: list[Problem] = []
    warnings: list[Problem] = []
    parser = new_parser()
    roots: list[tuple[SourceFile, etree._Element, str]] = []
    for source in files:
        try:
            root = parse_xml(source.content)
        except XmlRefused as exc:
            problems.append(Problem(source.name, None, str(exc)))
            continue
        kind = document_kind(root)
        if kind is None:
            problems.append(Problem(source.name, None, "not a BPMN 2.0 or DMN definitions document"))
            continue
        check_ids(source.name, root, problems)
        if kind == "bpmn":
            check_bpmn(source.name, root, problems, warnings)
            check_services(source.name, root, services, problems)
        roots.append((source, root, kind))
    if problems:
        raise DeployError(problems)

    spec_files: dict[str, str] = {}
    for source, root, kind in sorted(roots, key=lambda r: r[2] != "dmn"):
        try:
            if kind == "dmn":
                parser.add_dmn_xml(root, filename=source.name)
            else:
                before = set(parser.process_parsers)
                parser.add_bpmn_xml(root, filename=source.name)
                for pid in set(parser.process_parsers) - before:
                    if pid in spec_files:
                        problems.append(
                            Problem(source.name, pid, f"process {pid!r} is also in {spec_files[pid]}")
                        )
                    spec_files[pid] = source.name
        except (ValidationException, SpiffWorkflowException) as exc:
            problems.append(_problem_from_spiff(source.name, exc))
    if problems:
        raise DeployError(problems)

    process_ids = parser.get_process_ids()
    if not process_ids:
        raise DeployError(
            [
                Problem(
                    ", ".join(f.name for f in files),
                    None,
                    'no executable process (isExecutable="true")',
                )
            ]
        )
    parsed: list[_Parsed] = []
    for pid in process_ids:
        try:
            spec = parser.get_spec(pid)
            subs = parser.get_subprocess_specs(pid)
        except (ValidationException, SpiffWorkflowException) as exc:
            problems.append(_problem_from_spiff(spec_files.get(pid, "?"), exc))
            continue
        lane_roles, forms = _collect(pid, spec, subs, registry, spec_files, problems, warnings)
        problems.extend(owned.problems(_all_specs(spec, subs), forms, spec_files))
        if "number" in registry.get(pid).case_fields:
            problems.append(
                Problem(
                    f"workflows/{pid}/process.json",
                    None,
                    "case_fields may not map 'number': the counter numbers cases",
                )
            )
        used = sorted({spec_files.get(s.name, "") for s in _all_specs(spec, subs)} - {""})
        used += sorted(source.name for source, _r, kind in roots if kind == "dmn")
        name = parser.get_process_parser(pid).get_name() or pid
        parsed.append(_Parsed(pid, name, spec, subs, lane_roles, forms, used))
    if problems:
        raise DeployError(problems)
    return parsed, warnings


_UNSUPPORTED = re.compile(r"Unsupported (Catch|Throw) Event")
_DEFINITION = re.compile(r"bpmn:(\w+EventDefinition)")


def _problem_from_spiff(file_name: str, exc: Exception) -> Problem:
    element = getattr(exc, "id", None) or getattr(exc, "task_id", None)
    line = getattr(exc, "line_number", None)
    message = str(getattr(exc, "message", None) or exc).split("\n")[0]
    unsupported = _UNSUPPORTED.search(message)
    if unsupported:  # SpiffWorkflow quotes the XML of an event it has no implementation for
        kinds = sorted(set(_DEFINITION.findall(message))) or ["this"]
        message = (
            f"the engine does not run {unsupported.group(1).lower()} events with "
            + ", ".join(k.replace("EventDefinition", " definition") for k in kinds)
            + "; model the path explicitly (compensation, for one, as its own undo tasks)"
        )
    if line:
        message = f"{message} (line {line})"
    return Problem(getattr(exc, "file_name", None) or file_name, element, message)


def version_files(sources: dict[str, str], glues: list[ProcessGlue]) -> dict[str, str]:
    """A version's bundle: the diagram files it was parsed from and the glue of its processes."""
    files = {f"bpmn/{name}": text for name, text in sources.items()}
    for glue in glues:
        for path, text in glue_files(glue).items():
            files[f"workflows/{glue.key}/{path}"] = text
    return files


def content_hash(
    spec_json: str,
    lane_roles: dict[str, Any],
    forms: dict[str, Any],
    glue: dict[str, Any],
    extra: dict[str, Any],
) -> str:
    """One hash over everything a version is: a change to any file of the bundle is a new version."""
    blob = json.dumps([spec_json, lane_roles, forms, glue, extra], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def deploy(
    session: Session,
    files: list[SourceFile],
    registry: Registry,
    now: datetime,
    actor: User | None = None,
    services: frozenset[str] = frozenset(),
    *,
    state: str = "approved",
    note: str | None = None,
    only: str | None = None,
) -> tuple[DeployResult, dict[int, tuple[BpmnProcessSpec, dict[str, BpmnProcessSpec]]]]:
    """Publish new versions of every changed process in ``files``; identical content is reused.

    ``state`` is ``approved`` (in effect at once: the seed library, or a QMR allowed to publish
    alone) or ``waiting_approval`` (the Director approves it through ``process_change``);
    ``only`` limits publishing to one process of a bundle that holds several.

    Returns:
        The result, and the parsed specs of the new versions by version id (for the cache).
    """
    parsed, warnings = check(files, registry, services)
    sources = {f.name: f.content.decode("utf-8") for f in files}
    result = DeployResult(warnings=warnings)
    fresh: dict[int, tuple[BpmnProcessSpec, dict[str, BpmnProcessSpec]]] = {}
    for item in parsed:
        if only is not None and item.process_id != only:
            continue
        spec_json = spec_to_json(item.spec, item.subprocess_specs)
        glue = registry.get(item.process_id)
        glues = [registry.get(s.name) for s in _all_specs(item.spec, item.subprocess_specs)]
        bundle = version_files({n: sources[n] for n in item.files if n in sources}, glues)
        extra = {p: t for p, t in bundle.items() if "/scenarios/" in p}
        digest = content_hash(spec_json, item.lane_roles, item.forms, glue.meta, extra)
        latest = session.execute(
            select(ProcessVersion)
            .where(ProcessVersion.process_key == item.process_id)
            .order_by(ProcessVersion.version.desc())
            .limit(1)
        ).scalar_one_or_none()
        if latest is not None and latest.content_hash == digest and latest.state != "returned":
            result.unchanged.append(latest)
            continue
        number = (
            session.execute(
                select(func.max(ProcessVersion.version)).where(ProcessVersion.process_key == item.process_id)
            ).scalar()
            or 0
        ) + 1
        version = ProcessVersion(
            process_key=item.process_id,
            version=number,
            name=item.name,
            content_hash=digest,
            spec_json=spec_json,
            source_files={n: sources[n] for n in item.files if n in sources},
            lane_roles=item.lane_roles,
            forms=item.forms,
            warnings=[str(w) for w in warnings if w.file in item.files],
            startable_by=list(glue.startable_by),
            created_at=now,
            deployed_by_id=actor.id if actor else None,
            bundle=bundle,
            glue=dict(glue.meta),
            state=state,
            note=note,
            approved_by_id=(actor.id if actor else None) if state == "approved" else None,
            approved_at=now if state == "approved" else None,
            effective_from=now if state == "approved" else None,
        )
        session.add(version)
        session.flush()
        fresh[version.id] = (item.spec, item.subprocess_specs)
        result.created.append(version)
        audit.record(
            session,
            "deployed",
            now,
            actor=actor,
            data={
                "process_key": item.process_id,
                "version": number,
                "hash": digest,
                "files": item.files,
                "state": state,
                "note": note,
            },
        )
    return result, fresh
