"""Where the repository is, and the flows one case has taken (for processes without scenario files)."""

from __future__ import annotations

from pathlib import Path

from engine import paths

ROOT = Path(__file__).resolve().parent.parent


def taken(engine, session, instance, files: dict[str, str]) -> set[str]:  # type: ignore[no-untyped-def]
    from engine.models import ProcessInstance

    workflow = engine._load(session.get(ProcessInstance, instance.id))
    return paths.flows_taken(workflow, paths.diagram_flows(files, instance.process_key))
