"""Checks of a draft's forms and glue, and where a form field's name is used.

The form editor asks ``uses`` as a field is renamed or removed; the draft check reports the
same as warnings (a field gone that a condition, script, case field or another form still
names) and as errors what would break a task page (an invalid schema, a choice without
English words, a case field or role that does not exist).
"""

from __future__ import annotations

import json
import re
from typing import Any

from . import signatures
from .errors import Problem
from .forms import schema_problem
from .identity import BUILTIN_ROLES
from .names import read_names
from .spiff import bpmn_roots

SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
GLUE_ROLE_KEYS = ("startable_by", "personal_roles")


def _forms(files: dict[str, str], key: str) -> dict[str, dict[str, Any]]:
    prefix = f"workflows/{key}/forms/"
    out = {}
    for path, text in files.items():
        if path.startswith(prefix):
            try:
                value = json.loads(text)
            except json.JSONDecodeError:
                continue
            if isinstance(value, dict):
                out[path] = value
    return out


def _fields(schema: dict[str, Any], prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every field of a form, rows' own fields as ``rows.field``."""
    out = []
    props = schema.get("properties", {})
    for name, spec in props.items() if isinstance(props, dict) else []:
        if not isinstance(spec, dict):
            continue
        out.append((prefix + name, spec))
        items = spec.get("items")
        if isinstance(items, dict) and items.get("type") == "object":
            out.extend(_fields(items, f"{prefix}{name}."))
    return out


def _expressions(files: dict[str, str]) -> list[tuple[str, str, str, str]]:
    """(file, element id, what, source) of every condition, script and timer in the diagrams."""
    out = []
    for path, root in bpmn_roots(files):
        for el in root.iter():
            tag = el.tag if isinstance(el.tag, str) else ""
            local = tag.rsplit("}", 1)[-1]
            owner = el.getparent()
            if local == "conditionExpression" and owner is not None:
                out.append((path, owner.get("id", ""), "condition", el.text or ""))
            elif local == "script" and owner is not None:
                out.append((path, owner.get("id", ""), "script", el.text or ""))
            elif local in ("preScript", "postScript") and owner is not None:
                task = owner.getparent()
                out.append((path, task.get("id", "") if task is not None else "", local, el.text or ""))
            elif local in ("timeDuration", "timeDate", "timeCycle") and owner is not None:
                event = owner.getparent()
                out.append((path, event.get("id", "") if event is not None else "", "timer", el.text or ""))
    return out


def uses(files: dict[str, str], key: str, name: str, *, except_form: str | None = None) -> list[str]:
    """Every place of the draft that reads the data name ``name``, in words."""
    places = []
    for path, element, what, source in _expressions(files):
        mode = "eval" if what in ("condition", "timer") else "exec"
        if name in read_names(source, mode):
            places.append(f"{what} of {element} ({path})")
    glue = _glue(files, key)
    for case_field, data_name in (glue.get("case_fields") or {}).items():
        if data_name == name:
            places.append(f"case field {case_field} (workflows/{key}/process.json)")
    for path, schema in _forms(files, key).items():
        if path == except_form:
            continue
        if name in dict(_fields(schema)):
            places.append(f"form {path.rsplit('/', 1)[1]}")
    return places


def _glue(files: dict[str, str], key: str) -> dict[str, Any]:
    try:
        value = json.loads(files.get(f"workflows/{key}/process.json", "{}"))
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def form_problems(files: dict[str, str], key: str) -> list[tuple[str, Problem]]:
    """Errors and warnings of each form, field by field."""
    found: list[tuple[str, Problem]] = []
    for path, schema in sorted(_forms(files, key).items()):
        why = schema_problem(schema)
        if why:
            found.append(("error", Problem(path, None, why)))
            continue
        declared = dict(_fields(schema))
        for req in schema.get("required", []) or []:
            if req not in schema.get("properties", {}):
                found.append(
                    ("error", Problem(path, req, f"required field {req!r} is not a field of the form"))
                )
        for name, spec in declared.items():
            if not FIELD_NAME.match(name.rsplit(".", 1)[-1]):
                found.append(
                    ("error", Problem(path, name, "a field name is letters, digits and _ (a data key)"))
                )
            meta = spec.get("x-mutu") if isinstance(spec.get("x-mutu"), dict) else {}
            if not meta.get("title_en"):
                found.append(("warning", Problem(path, name, f"field {name!r} has no English label")))
            choices = spec.get("enum") or (spec.get("items") or {}).get("enum") or []
            labels = {
                **((spec.get("items") or {}).get("x-mutu") or {}).get("enum_labels_en", {}),
                **(meta.get("enum_labels_en") or {}),
            }
            named = {
                **((spec.get("items") or {}).get("x-mutu") or {}).get("enum_labels", {}),
                **(meta.get("enum_labels") or {}),
            }
            # Choices shown as they are (site names) need no words; once any are worded, all are.
            missing = [str(c) for c in choices if str(c) not in labels] if (labels or named) else []
            if missing:
                found.append(
                    ("error", Problem(path, name, f"choice(s) without English words: {', '.join(missing)}"))
                )
    return found


def removed_fields(base: dict[str, str], files: dict[str, str], key: str) -> list[tuple[str, Problem]]:
    """A field gone from every form while a condition, script, case field or form still names it."""
    now = {n for schema in _forms(files, key).values() for n, _s in _fields(schema)}
    found = []
    for path, schema in sorted(_forms(base, key).items()):
        for name, _spec in _fields(schema):
            if "." in name or name in now:
                continue
            places = uses(files, key, name, except_form=path)
            if places:
                found.append(
                    (
                        "warning",
                        Problem(
                            path,
                            name,
                            f"field {name!r} was removed or renamed but is still used by: "
                            + "; ".join(places),
                        ),
                    )
                )
    return found


def glue_problems(files: dict[str, str], key: str) -> list[tuple[str, Problem]]:
    """process.json: roles that exist, a numbering that formats, the catalogue entries filled in."""
    path = f"workflows/{key}/process.json"
    glue = _glue(files, key)
    found: list[tuple[str, Problem]] = []
    for field in GLUE_ROLE_KEYS:
        for role in glue.get(field, []) or []:
            if role not in BUILTIN_ROLES:
                found.append(("error", Problem(path, field, f"{field}: no role {role!r}")))
    for lane, roles in (glue.get("lane_roles") or {}).items():
        for role in [roles] if isinstance(roles, str) else roles or []:
            if role not in BUILTIN_ROLES:
                found.append(("error", Problem(path, "lane_roles", f"lane {lane!r}: no role {role!r}")))
    owner = glue.get("owner_role")
    if owner is not None and owner not in BUILTIN_ROLES:
        found.append(("error", Problem(path, "owner_role", f"owner_role: no role {owner!r}")))
    fmt = glue.get("number_format")
    if fmt is not None:
        try:
            sample = str(fmt).format(year=2026, seq=1)
        except (KeyError, IndexError, ValueError) as exc:
            found.append(("error", Problem(path, "number_format", f"number_format does not format: {exc}")))
        else:
            if sample == str(fmt).format(year=2026, seq=2):  # the same text for every case
                found.append(("error", Problem(path, "number_format", "number_format must use {seq}")))
    shows = glue.get("shows") or {}
    known = _form_fields(files, key) | set(glue.get("field_labels") or {})
    if not isinstance(shows, dict) or not all(isinstance(v, list) for v in shows.values()):
        wrong = "shows: map each task's BPMN id to a list of field names"
        found.append(("error", Problem(path, "shows", wrong)))
    else:
        for task, names in shows.items():
            for name in names:
                if name not in known:
                    missing = f"shows {task}: no form has a field {name!r}"
                    found.append(("warning", Problem(path, "shows", missing)))
    for wrong in signatures.glue_problems(glue, set()):
        found.append(("error", Problem(path, "signatures", wrong)))
    for field in ("owner_role", "objective", "kpi_target"):
        if not glue.get(field):
            found.append(
                ("warning", Problem(path, field, f"{field} is empty (the process catalogue shows it)"))
            )
    return found


def _form_fields(files: dict[str, str], key: str) -> set[str]:
    """Every top-level field name of the process's forms (what a task may show read-only)."""
    names: set[str] = set()
    prefix = f"workflows/{key}/forms/"
    for path, text in files.items():
        if path.startswith(prefix) and path.endswith(".json"):
            try:
                names |= set((json.loads(text).get("properties") or {}).keys())
            except (ValueError, AttributeError):
                continue
    return names
