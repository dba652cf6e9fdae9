"""A draft's scenarios: run in a sandbox before publishing, and what blocks a publish.

The sandbox holds the draft's files and, for the messages it may send, the bundles of the
other processes in effect. Sandboxes are kept for the few drafts being worked on, keyed by
the files' hash, so recording a scenario step by step does not deploy again at each step.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import scenarios
from .errors import DeployError, MutuError
from .models import ProcessDraft, ProcessVersion
from .sandbox import Sandbox

KEEP = 4
_LOCK = threading.Lock()
_KEPT: OrderedDict[str, tuple[Sandbox, threading.Lock]] = OrderedDict()
_BUNDLES: dict[tuple[int, str], dict[str, str]] = {}


class NotRunnable(MutuError):
    """The draft does not deploy, so no scenario can run against it."""

    code = "draft_not_runnable"
    http_status = 422

    def __init__(self, message: str, problems: list[dict[str, Any]]):
        self.problems = problems
        super().__init__(message)


def sandbox_files(engine: Any, session: Session, draft: ProcessDraft) -> dict[str, str]:
    """The draft's files over the bundles of every other process in effect."""
    from .drafts import version_bundle

    files: dict[str, str] = {}
    keys = session.execute(
        select(ProcessVersion.process_key).where(ProcessVersion.state == "approved").distinct()
    ).scalars()
    for key in sorted(set(keys) - {draft.process_key}):
        try:
            version = engine.latest_version(session, key)
        except MutuError:
            continue
        key_of = (version.id, version.content_hash)
        if key_of not in _BUNDLES:  # a version never changes: read its bundle once
            _BUNDLES[key_of] = version_bundle(engine, session, version)
        for path, text in _BUNDLES[key_of].items():
            if path.startswith("bpmn/") or path.startswith(f"workflows/{key}/"):
                files[path] = text
    files = {p: t for p, t in files.items() if not p.startswith(f"workflows/{draft.process_key}/")}
    files.update(draft.files)
    return files


@contextmanager
def sandbox_for(engine: Any, files: dict[str, str]) -> Iterator[Sandbox]:
    """A sandbox of these files, made once and kept while it is among the last few used."""
    digest = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()
    with _LOCK:
        kept = _KEPT.get(digest)
        if kept is not None:
            _KEPT.move_to_end(digest)
    if kept is None:
        try:
            sandbox = Sandbox(files, operators=dict(engine.registry.operators))
        except DeployError as exc:
            raise NotRunnable(
                "the draft does not deploy; fix its errors first",
                [{"file": p.file, "element": p.element, "message": p.message} for p in exc.problems],
            ) from None
        kept = (sandbox, threading.Lock())
        with _LOCK:
            _KEPT[digest] = kept
            while len(_KEPT) > KEEP:
                _old, (old, old_lock) = _KEPT.popitem(last=False)
                with old_lock:
                    old.close()
    sandbox, lock = kept
    with lock:
        yield sandbox


def run(engine: Any, session: Session, draft: ProcessDraft, paths: list[str] | None = None) -> list[dict]:
    """Every scenario of the draft's process (or those at ``paths``), each with its result."""
    files = sandbox_files(engine, session, draft)
    chosen = scenarios.scenario_files(draft.files, draft.process_key)
    if paths is not None:
        chosen = {p: t for p, t in chosen.items() if p in paths}
    with sandbox_for(engine, files) as sandbox:
        return [r.as_dict() for r in scenarios.run_all(sandbox, draft.process_key, chosen)]


def replay(engine: Any, session: Session, draft: ProcessDraft, doc: dict[str, Any]) -> dict[str, Any]:
    """Where a scenario being recorded stands now: its steps so far, run from the start."""
    files = sandbox_files(engine, session, draft)
    with sandbox_for(engine, files) as sandbox:
        return scenarios.run(sandbox, draft.process_key, doc, "(recording)").as_dict()


def publish_blockers(
    engine: Any, session: Session, draft: ProcessDraft, base: dict[str, str], notes: dict[str, str]
) -> tuple[list[dict[str, Any]], list[str]]:
    """Problems that stop a publish (failing scenarios, changed ones without a note), and change lines."""
    problems: list[dict[str, Any]] = []
    lines: list[str] = []
    before = scenarios.scenario_files(base, draft.process_key)
    after = scenarios.scenario_files(draft.files, draft.process_key)
    for path, text in before.items():
        if after.get(path) == text:
            continue
        what = "removed" if path not in after else "changed"
        note = (notes.get(path) or "").strip()
        if len(note) < 5:
            problems.append(_problem(path, None, f"this scenario was {what}: say why in a note"))
        else:
            lines.append(f"scenario {path.rsplit('/', 1)[1]} {what}: {note[:500]}")
    if after:
        try:
            results = run(engine, session, draft)
        except NotRunnable as exc:
            return problems + [_problem(p["file"], p["element"], p["message"]) for p in exc.problems], lines
        for result in results:
            if not result["passed"]:
                diff = result["difference"] or {}
                problems.append(
                    _problem(
                        result["path"],
                        diff.get("element"),
                        f"scenario {result['name']!r} fails at step {diff.get('step')}: expected "
                        f"{diff.get('expected')}, found {diff.get('actual')}",
                    )
                )
    return problems, lines


def _problem(file: str, element: str | None, message: str) -> dict[str, Any]:
    return {"file": file, "element": element, "severity": "error", "message": message}
