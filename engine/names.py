"""What a draft's expressions read, matched against what can set it; timers tried with sample values.

A name a condition, script or timer reads and that no form, script, decision table, service
task, start data or the engine ever sets fails with a NameError the first time a case gets
there; a timer expression that is valid Python but not ISO 8601 (``P%dD % days``, quotes
forgotten) fails the same way. Both are found here, before publishing, with their element.
"""

from __future__ import annotations

import ast
import builtins
from datetime import date, datetime, timedelta
from typing import Any

from SpiffWorkflow.bpmn.specs import BpmnProcessSpec
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimerEventDefinition,
)

from .errors import Problem
from .forms import declared_fields
from .owned import DIAGRAM_NAMES, ENGINE_NAMES, assigned_names, diagram_written
from .registry import ProcessGlue
from .scripting import RestrictedEnvironment

FORM_PROPERTY = "formJsonSchemaFilename"
UNKNOWN = object()  # a sample whose type nothing tells: a timer reading it is not tried
ALWAYS = (
    frozenset(dir(builtins))
    | {"now", "today", "timedelta", "date", "datetime"}
    | ENGINE_NAMES
    | DIAGRAM_NAMES
)


def read_names(source: str, mode: str) -> set[str]:
    """Names an expression or script loads before (or without) assigning them itself."""
    try:
        tree = ast.parse(source, mode=mode)
    except SyntaxError:
        return set()
    loaded = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    local: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.comprehension | ast.ExceptHandler):
            target = getattr(node, "target", None)
            if target is not None:
                local |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
            if isinstance(node, ast.ExceptHandler) and node.name:
                local.add(node.name)
        elif isinstance(node, ast.Lambda | ast.FunctionDef):
            local |= {a.arg for a in ast.walk(node.args) if isinstance(a, ast.arg)}
    guarded = _guarded_reads(tree)
    return loaded - local - assigned_names(source if mode == "exec" else "") - guarded


def _guarded_reads(tree: ast.AST) -> set[str]:
    """Names read inside ``try: ... except NameError``: the script expects them to be missing."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(
            isinstance(h.type, ast.Name) and h.type.id == "NameError" for h in node.handlers
        ):
            for inner in node.body:
                names |= {n.id for n in ast.walk(inner) if isinstance(n, ast.Name)}
    return names


def _expressions(task_spec: Any) -> list[tuple[str, str, str]]:
    """(what, source, mode) of everything a task spec evaluates."""
    found: list[tuple[str, str, str]] = []
    for attr, what in (("script", "script"), ("prescript", "pre-script"), ("postscript", "post-script")):
        text = getattr(task_spec, attr, None)
        if isinstance(text, str) and text:
            found.append((what, text, "exec"))
    definition = getattr(task_spec, "event_definition", None)
    if isinstance(definition, TimerEventDefinition) and definition.expression:
        found.append(("timer", definition.expression, "eval"))
    props = (getattr(task_spec, "extensions", None) or {}).get("properties", {}) or {}
    if props.get("due"):
        found.append(("due date", props["due"], "eval"))
    for param in (getattr(task_spec, "operation_params", None) or {}).values():
        value = param.get("value") if isinstance(param, dict) else None
        if isinstance(value, str) and value:
            found.append(("service parameter", value, "eval"))
    for cond in getattr(task_spec, "cond_task_specs", None) or []:
        condition = cond[0] if isinstance(cond, tuple | list) else None
        text = getattr(condition, "args", [None])[0] if condition is not None else None
        if isinstance(text, str) and text:
            found.append(("condition", text, "eval"))
    table = getattr(getattr(task_spec, "dmnEngine", None), "decision_table", None)
    for column in getattr(table, "inputs", None) or []:
        if getattr(column, "expression", None):
            found.append(("decision input", column.expression, "eval"))
    return found


def settable(
    specs: list[BpmnProcessSpec], forms: dict[str, dict[str, Any]], glue: ProcessGlue
) -> dict[str, Any]:
    """Every name something can put into the case data -> a sample value of its type."""
    # What scripts and services compute has no known type; decision tables give their first rule's.
    samples: dict[str, Any] = {name: UNKNOWN for name in diagram_written(specs)}
    env = RestrictedEnvironment(timeout_seconds=0.5)
    for spec in specs:
        for task_spec in spec.task_specs.values():
            table = getattr(getattr(task_spec, "dmnEngine", None), "decision_table", None)
            for entry in table.rules[0].outputEntries if table is not None and table.rules else []:
                name = (entry.output.name or "").split(".")[0]
                try:
                    samples[name] = env.evaluate(entry.text, {}) if entry.text else UNKNOWN
                except Exception:  # noqa: BLE001 - an output that reads data: type unknown
                    samples[name] = UNKNOWN
    for schema in forms.values():
        for name, spec in declared_fields(schema).items():
            samples.setdefault(name, _sample(spec))
    for name in glue.meta.get("start_data", []) if isinstance(glue.meta.get("start_data"), list) else []:
        samples.setdefault(str(name), "")
    for spec in specs:
        for task_spec in spec.task_specs.values():
            for attr in ("input_item", "output_item"):
                item = getattr(task_spec, attr, None)
                if getattr(item, "bpmn_id", None):
                    samples.setdefault(item.bpmn_id, 1)
            for item in getattr(spec, "data_objects", {}) or {}:
                samples.setdefault(item, [])
    return samples


def _sample(spec: dict[str, Any]) -> Any:
    kind = spec.get("type")
    if spec.get("enum"):
        return spec["enum"][0]
    if kind == "integer":
        return max(int(spec.get("minimum", 3)), 1)
    if kind == "number":
        return float(spec.get("minimum", 1.5))
    if kind == "boolean":
        return True
    if kind == "array":
        return []
    if kind == "object":
        return {}
    if spec.get("format") == "date":
        return date(2026, 12, 1).isoformat()
    return "x"


def problems(
    specs: list[BpmnProcessSpec], forms: dict[str, dict[str, Any]], glue: ProcessGlue, file_of: dict[str, str]
) -> list[tuple[str, Problem]]:
    """(severity, problem) for names nothing sets and timers that do not give ISO 8601."""
    samples = settable(specs, forms, glue)
    known = set(samples) | ALWAYS
    found: list[tuple[str, Problem]] = []
    env = RestrictedEnvironment(timeout_seconds=0.5)
    for spec in specs:
        file_name = file_of.get(spec.name, spec.file or "?")
        for task_spec in spec.task_specs.values():
            element = getattr(task_spec, "bpmn_id", None) or task_spec.name
            for what, source, mode in _expressions(task_spec):
                for name in sorted(read_names(source, mode) - known):
                    found.append(
                        (
                            "error",
                            Problem(
                                file_name,
                                element,
                                f"{what} reads {name!r}, which no form, script or start data sets",
                            ),
                        )
                    )
                if what == "timer" and all(samples.get(n) is not UNKNOWN for n in read_names(source, mode)):
                    why = _timer_sample(task_spec.event_definition, source, env, samples)
                    if why:
                        found.append(("error", Problem(file_name, element, why)))
    return found


def _timer_sample(
    definition: Any, source: str, env: RestrictedEnvironment, samples: dict[str, Any]
) -> str | None:
    try:
        value = env.evaluate(source, {k: v for k, v in samples.items() if v is not UNKNOWN})
    except Exception as exc:  # noqa: BLE001 - any failure here is the finding
        return f"timer {source!r} does not evaluate with sample values: {exc}"
    if isinstance(value, datetime | timedelta):
        return None
    text = str(value)
    try:
        if isinstance(definition, CycleTimerEventDefinition):
            TimerEventDefinition.parse_iso_recurring_interval(text)
        elif isinstance(definition, DurationTimerEventDefinition):
            TimerEventDefinition.parse_iso_duration(text)
        else:
            TimerEventDefinition.parse_time_or_duration(text)
    except Exception:  # noqa: BLE001 - the library raises several kinds for bad ISO text
        return f"timer {source!r} gives {text!r} with sample values, which is not ISO 8601"
    return None
