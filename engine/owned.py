"""Names in the case data that no form may write: the engine's own, and what the diagram sets.

A form is an allow-list of what a person may put into a case. Names the engine writes
(who completed each step, the case number, who raised it) and names the diagram's scripts,
decision tables and service tasks compute (the lane owners, a severity, a status) would let
whoever fills the form forge them, so a form that declares one is refused at deploy.
"""

from __future__ import annotations

import ast
from typing import Any

from SpiffWorkflow.bpmn.specs import BpmnProcessSpec

from .errors import Problem
from .forms import declared_fields

# Written only by the engine: forms and scripts alike are refused when they set these.
ENGINE_NAMES = frozenset({"completed_by", "case_number", "raised_by", "started_by_timer", "raised_by_rule"})
# Written by the engine's conventions but set by the diagram (a script names a lane's owners).
DIAGRAM_NAMES = frozenset({"lane_owners"})
FORM_PROPERTY = "formJsonSchemaFilename"


def assigned_names(source: str | None) -> set[str]:
    """Top-level names a script assigns (they land in the case data); empty if it does not parse."""
    if not source:
        return set()
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Global | ast.Nonlocal):
            names.update(node.names)
    for node in ast.walk(tree):  # comprehension variables stay inside their comprehension
        if isinstance(node, ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp):
            for gen in node.generators:
                names -= {n.id for n in ast.walk(gen.target) if isinstance(n, ast.Name)}
    return names


def _scripts(task_spec: Any) -> list[str]:
    return [
        s
        for s in (
            getattr(task_spec, "script", None),
            getattr(task_spec, "prescript", None),
            getattr(task_spec, "postscript", None),
        )
        if isinstance(s, str) and s
    ]


def diagram_written(specs: list[BpmnProcessSpec]) -> dict[str, str]:
    """Every data name the diagram itself writes -> the element that writes it."""
    written: dict[str, str] = {}
    for spec in specs:
        for task_spec in spec.task_specs.values():
            element = getattr(task_spec, "bpmn_id", None) or task_spec.name
            for script in _scripts(task_spec):
                for name in assigned_names(script):
                    written.setdefault(name, element)
            engine = getattr(task_spec, "dmnEngine", None)
            table = getattr(engine, "decision_table", None)
            for output in getattr(table, "outputs", None) or []:
                if output.name:
                    written.setdefault(output.name.split(".")[0], element)
            result = getattr(task_spec, "result_variable", None)
            if result:
                written.setdefault(result, element)
    return written


def problems(
    specs: list[BpmnProcessSpec], forms: dict[str, dict[str, Any]], spec_files: dict[str, str]
) -> list[Problem]:
    """Forms that declare an owned name, scripts that set the engine's, glue is checked apart."""
    found: list[Problem] = []
    written = diagram_written(specs)
    for spec in specs:
        file_name = spec_files.get(spec.name, spec.file or "?")
        for task_spec in spec.task_specs.values():
            element = getattr(task_spec, "bpmn_id", None) or task_spec.name
            for script in _scripts(task_spec):
                for name in sorted(assigned_names(script) & ENGINE_NAMES):
                    found.append(
                        Problem(file_name, element, f"script sets {name!r}, which only the engine writes")
                    )
            props = (getattr(task_spec, "extensions", None) or {}).get("properties", {})
            form_name = props.get(FORM_PROPERTY)
            schema = forms.get(f"{spec.name}/{form_name}") if form_name else None
            if schema is None:
                continue
            for field in sorted(declared_fields(schema)):
                if field in ENGINE_NAMES or field in DIAGRAM_NAMES:
                    why = "the engine writes it"
                elif field in written:
                    why = f"{written[field]} sets it"
                else:
                    continue
                found.append(
                    Problem(
                        file_name,
                        element,
                        f"form {form_name!r} declares {field!r}, but {why}; rename the field",
                    )
                )
    return found
