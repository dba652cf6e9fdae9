"""Drafts of a process version: edited file by file, checked, published for the Director's approval.

A draft is the whole bundle of one process (see ``bundle``), private to the editors (the QMR
and admins) until it is published. Each save names the revision it was based on: a save
from a stale revision is a Conflict naming who saved first, so two editors never overwrite
each other silently.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit, bundle, form_checks, names, versioning
from .deploy import NS, _all_specs, check
from .errors import Conflict, DeployError, InvalidState, MutuError, NotAuthorized, NotFound, Problem
from .models import ProcessDraft, ProcessVersion, User
from .registry import glue_files
from .spiff import bpmn_roots

EDITOR_ROLES = frozenset({"qmr", "admin"})
MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_DRAFT_BYTES = 10 * 1024 * 1024
APPROVAL_PROCESS = "process_change"


class PublishRefused(MutuError):
    """A draft with errors, or warnings not acknowledged, cannot be published."""

    code = "publish_refused"
    http_status = 422

    def __init__(self, message: str, problems: list[dict[str, Any]]):
        self.problems = problems
        super().__init__(message)


def may_edit(user: User) -> bool:
    return user.active and bool(EDITOR_ROLES & user.role_keys)


def check_may_edit(user: User) -> None:
    if not may_edit(user):
        raise NotAuthorized(f"{user.username} may not edit processes; only the QMR and admins may")


def version_bundle(engine: Any, session: Session, version: ProcessVersion) -> dict[str, str]:
    """A version's bundle; versions published before bundles are rebuilt from what they kept."""
    stored = session.execute(
        select(ProcessVersion.bundle).where(ProcessVersion.id == version.id)
    ).scalar_one()
    if stored:
        return dict(stored)
    sources = session.execute(
        select(ProcessVersion.source_files).where(ProcessVersion.id == version.id)
    ).scalar_one()
    files = {f"bpmn/{name}": text for name, text in (sources or {}).items()}
    for path, text in glue_files(engine.glue_of(session, version)).items():
        files[f"workflows/{version.process_key}/{path}"] = text
    return files


def create(
    session: Session,
    engine: Any,
    process_key: str,
    actor: User,
    now: datetime,
    files: dict[str, str] | None = None,
    *,
    from_version: int | None = None,
) -> ProcessDraft:
    """A new draft: an uploaded bundle's files, an old version's (a restore), or the version in effect's."""
    check_may_edit(actor)
    base: ProcessVersion | None = None
    try:
        base = engine.latest_version(session, process_key)
    except NotFound:
        if files is None:
            raise
    if files is None and from_version is not None:
        files = version_bundle(engine, session, versioning.get_version(session, process_key, from_version))
    if files is None:
        assert base is not None
        files = version_bundle(engine, session, base)
    _check_size(files)
    draft = ProcessDraft(
        process_key=process_key,
        base_version=base.version if base else None,
        files=dict(files),
        revision=1,
        status="open",
        created_by_id=actor.id,
        created_at=now,
        updated_by_id=actor.id,
        updated_at=now,
    )
    session.add(draft)
    session.flush()
    return draft


def get(session: Session, draft_id: int, actor: User) -> ProcessDraft:
    check_may_edit(actor)  # drafts are private to the editors until published
    draft = session.get(ProcessDraft, draft_id)
    if draft is None:
        raise NotFound(f"no draft {draft_id}")
    return draft


def _check_size(files: dict[str, str]) -> None:
    total = sum(len(t.encode("utf-8")) for t in files.values())
    if total > MAX_DRAFT_BYTES:
        raise MutuError(f"a draft may hold at most {MAX_DRAFT_BYTES // (1024 * 1024)} MB")


def put_file(
    session: Session, draft_id: int, path: str, text: str | None, revision: int, actor: User, now: datetime
) -> ProcessDraft:
    """Write (``text``) or delete (None) one file of an open draft, from the revision it was read at."""
    draft = session.execute(
        select(ProcessDraft).where(ProcessDraft.id == draft_id).with_for_update()
    ).scalar_one_or_none()
    if draft is None:
        raise NotFound(f"no draft {draft_id}")
    check_may_edit(actor)
    if draft.status != "open":
        raise InvalidState(f"draft {draft_id} is {draft.status}")
    if draft.revision != revision:
        who = session.get(User, draft.updated_by_id)
        raise Conflict(
            f"draft {draft_id} is at revision {draft.revision}, not {revision}: "
            f"{who.username if who else '?'} saved it at {draft.updated_at.isoformat()}; "
            "reload and apply your change again"
        )
    why = bundle.check_path(path)
    if why:
        raise MutuError(f"{path}: {why}")
    files = dict(draft.files)
    if text is None:
        if path not in files:
            raise NotFound(f"draft {draft_id} has no file {path}")
        del files[path]
    else:
        if len(text.encode("utf-8")) > MAX_FILE_BYTES:
            raise MutuError(f"{path}: a file may be at most {MAX_FILE_BYTES // (1024 * 1024)} MB")
        if path.endswith(".json"):
            try:
                json.loads(text)
            except json.JSONDecodeError as exc:
                raise MutuError(
                    f"{path}: not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
                ) from None
        files[path] = text
    _check_size(files)
    draft.files = files
    draft.revision += 1
    draft.updated_by_id = actor.id
    draft.updated_at = now
    session.flush()
    return draft


@dataclass
class Checked:
    problems: list[dict[str, Any]]
    parsed: Any = None
    registry: Any = None
    sources: Any = None

    @property
    def errors(self) -> list[dict[str, Any]]:
        return [p for p in self.problems if p["severity"] == "error"]


def _problem(severity: str, problem: Problem) -> dict[str, Any]:
    return {
        "file": problem.file,
        "element": problem.element,
        "severity": severity,
        "message": problem.message,
    }


def check_files(
    engine: Any, process_key: str, files: dict[str, str], base: dict[str, str] | None = None
) -> Checked:
    """The real deploy checks, the names expressions read, timers with sample values, forms and glue.

    ``base`` (the version the draft started from) lets the check name fields removed or
    renamed while something still uses them.
    """
    try:
        sources, registry = bundle.split(files)
        parsed, warnings = check(sources, registry, engine.services.names())
    except DeployError as exc:
        return Checked([_problem("error", _in_form(_in_bundle(p, files), process_key)) for p in exc.problems])
    found = [_problem("warning", _in_bundle(w, files)) for w in warnings]
    target = [p for p in parsed if p.process_id == process_key]
    if not target:
        found.append(
            _problem("error", Problem("bpmn/", None, f"no executable process {process_key!r} in the draft"))
        )
        return Checked(found)
    item = target[0]
    flows = _condition_flows(files)
    file_of = {s.name: f"bpmn/{s.file}" for s in _all_specs(item.spec, item.subprocess_specs) if s.file}
    for severity, problem in names.problems(
        _all_specs(item.spec, item.subprocess_specs), item.forms, registry.get(process_key), file_of
    ):
        if problem.message.startswith("condition reads "):  # name the flow, not its gateway
            name = problem.message.split("'")[1]
            flow = next((f for src, f, text in flows if src == problem.element and name in text), None)
            problem = Problem(problem.file, flow or problem.element, problem.message)
        found.append(_problem(severity, problem))
    extra = form_checks.form_problems(files, process_key) + form_checks.glue_problems(files, process_key)
    if base:
        extra += form_checks.removed_fields(base, files, process_key)
    found.extend(_problem(severity, problem) for severity, problem in extra)
    return Checked(found, item, registry, sources)


def _condition_flows(files: dict[str, str]) -> list[tuple[str, str, str]]:
    """(source gateway, flow id, condition text) of every conditional flow in the draft's diagrams."""
    out: list[tuple[str, str, str]] = []
    for _path, root in bpmn_roots(files):
        for flow in root.iterfind(".//bpmn:sequenceFlow", NS):
            cond = flow.find("bpmn:conditionExpression", NS)
            if cond is not None and flow.get("sourceRef") and flow.get("id"):
                out.append((flow.get("sourceRef", ""), flow.get("id", ""), cond.text or ""))
    return out


def _in_bundle(problem: Problem, files: dict[str, str]) -> Problem:
    """Name problems by their path in the bundle, so the editor can open the file."""
    for path in files:
        if path.rsplit("/", 1)[-1] == problem.file and path.startswith("bpmn/"):
            return Problem(path, problem.element, problem.message)
    return problem


def _in_form(problem: Problem, process_key: str) -> Problem:
    """A form's own problem is named by the form's file, so the form editor shows it."""
    found = _FORM_PROBLEM.match(problem.message)
    if not found:
        return problem
    return Problem(f"workflows/{process_key}/forms/{found.group(1)}", problem.element, problem.message)


_FORM_PROBLEM = re.compile(r"^form '([A-Za-z0-9._-]+)': ")


def changes(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """The bundle's changes as a readable list: files, form fields and glue keys."""
    out: list[str] = []
    for path in sorted(set(before) | set(after)):
        old, new = before.get(path), after.get(path)
        if old == new:
            continue
        if old is None:
            out.append(f"added {path}")
        elif new is None:
            out.append(f"removed {path}")
        elif path.endswith(".json"):
            out.extend(_json_changes(path, old, new))
        else:
            out.append(f"changed {path}")
    return out


def _json_changes(path: str, old: str, new: str) -> list[str]:
    try:
        a, b = json.loads(old), json.loads(new)
    except json.JSONDecodeError:
        return [f"changed {path}"]
    if not (isinstance(a, dict) and isinstance(b, dict)):
        return [f"changed {path}"]
    if "/forms/" in path:
        fa, fb = a.get("properties", {}) or {}, b.get("properties", {}) or {}
        lines = [f"{path}: field {k!r} added" for k in fb if k not in fa]
        lines += [f"{path}: field {k!r} removed" for k in fa if k not in fb]
        lines += [f"{path}: field {k!r} changed" for k in fa if k in fb and fa[k] != fb[k]]
        if set(a.get("required", [])) != set(b.get("required", [])):
            lines.append(f"{path}: required fields now {', '.join(sorted(b.get('required', []))) or 'none'}")
        rest = {k for k in set(a) | set(b) if k not in ("properties", "required") and a.get(k) != b.get(k)}
        lines += [f"{path}: {k} changed" for k in sorted(rest)]
        return lines or [f"changed {path}"]
    keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    return [f"{path}: {k} changed" for k in keys] or [f"changed {path}"]


def base_files(engine: Any, session: Session, draft: ProcessDraft) -> dict[str, str]:
    """The bundle of the version the draft started from (empty for a new process)."""
    if draft.base_version is None:
        return {}
    return version_bundle(
        engine, session, versioning.get_version(session, draft.process_key, draft.base_version)
    )


def publish(
    session: Session,
    engine: Any,
    draft_id: int,
    actor: User,
    note: str,
    now: datetime,
    *,
    acknowledge_warnings: bool = False,
    publish_alone: bool = False,
    scenario_notes: dict[str, str] | None = None,
) -> ProcessVersion:
    """Publish a draft as the next version: waiting for the Director, or in effect at once if allowed."""
    draft = get(session, draft_id, actor)
    if draft.status != "open":
        raise InvalidState(f"draft {draft_id} is {draft.status}")
    note = (note or "").strip()
    if len(note) < 5:
        raise MutuError("a publish needs a change note of at least 5 characters")
    before = base_files(engine, session, draft)
    checked = check_files(engine, draft.process_key, draft.files, before)
    if checked.errors:
        raise PublishRefused(f"the draft has {len(checked.errors)} error(s)", checked.errors)
    warnings = [p for p in checked.problems if p["severity"] == "warning"]
    if warnings and not acknowledge_warnings:
        raise PublishRefused(f"acknowledge {len(warnings)} warning(s) to publish", warnings)
    from . import draft_scenarios  # it reads bundles through this module

    blockers, scenario_lines = draft_scenarios.publish_blockers(
        engine, session, draft, before, scenario_notes or {}
    )
    if blockers:
        raise PublishRefused(f"{len(blockers)} scenario problem(s) stop the publish", blockers)
    state = "approved" if publish_alone else "waiting_approval"
    result = engine.deploy(
        session,
        checked.sources,
        actor,
        registry=checked.registry,
        state=state,
        note=note[:2000],
        only=draft.process_key,
    )
    if not result.created:
        raise InvalidState("the draft is the same as the latest version: nothing to publish")
    version = result.created[0]
    listed = changes(before, draft.files) + scenario_lines
    draft.status, draft.published_version = "published", version.version
    draft.updated_at, draft.updated_by_id = now, actor.id
    if state == "waiting_approval":
        try:
            engine.latest_version(session, APPROVAL_PROCESS)
        except NotFound:
            raise InvalidState(
                f"the approval process {APPROVAL_PROCESS!r} is not deployed: deploy "
                f"bpmn/{APPROVAL_PROCESS}.bpmn, or let the QMR publish alone (MUTU_QMR_PUBLISHES_ALONE=1)"
            ) from None
        engine.start(
            session,
            APPROVAL_PROCESS,
            None,
            engine_data={
                "changed_process": draft.process_key,
                "changed_version": version.version,
                "change_note": note[:2000],
                "change_summary": f"{draft.process_key} v{version.version}: {note[:200]}",
                "changes": listed[:200],
                "prepared_by": actor.username,
            },
        )
    audit.record(
        session,
        "version_published",
        now,
        actor=actor,
        data={
            "process_key": draft.process_key,
            "version": version.version,
            "state": state,
            "changes": listed[:200],
        },
    )
    return version
