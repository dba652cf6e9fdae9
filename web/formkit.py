"""Task forms in HTML: JSON Schema in, fields out; posted strings in, typed JSON out.

One schema file drives validation (engine/forms.py) and rendering (here), so the QMR edits
one thing. Mutu keywords under ``x-mutu``: ``title_en``, ``help``/``help_en``, ``widget``
(``textarea``, ``rows``, ``files``), ``enum_labels``/``enum_labels_en`` and ``personal``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from werkzeug.datastructures import MultiDict

PREFIX = "f."


@dataclass
class Field:
    name: str  # the HTML name, e.g. ``f.actions.0.due_date``
    key: str  # the data path, e.g. ``actions.0.due_date``
    kind: str  # text, textarea, select, number, integer, date, boolean, rows, files, checks, lines
    label: str
    help: str = ""
    required: bool = False
    options: list[tuple[str, str]] = field(default_factory=list)
    value: Any = None
    errors: list[str] = field(default_factory=list)
    personal: bool = False
    masked: bool = False
    attrs: dict[str, Any] = field(default_factory=dict)
    rows: list[list[Field]] = field(default_factory=list)  # for ``rows``: one list of fields per row
    template: list[Field] = field(default_factory=list)  # for ``rows``: an empty row to copy
    # Required only while another field has a value (the schema's if/then/else): the page shows
    # the mark as soon as it applies. {"field": HTML name, "value": text, "on": True for "then"}.
    when: dict[str, Any] | None = None


def _mutu(spec: dict[str, Any]) -> dict[str, Any]:
    return spec.get("x-mutu", {}) or {}


def label_of(spec: dict[str, Any], lang: str, fallback: str) -> str:
    if lang == "en":
        return _mutu(spec).get("title_en") or spec.get("title") or fallback
    return spec.get("title") or _mutu(spec).get("title_en") or fallback


def form_title(schema: dict[str, Any], lang: str) -> str:
    return label_of(schema, lang, "")


def _options(spec: dict[str, Any], lang: str) -> list[tuple[str, str]]:
    meta = _mutu(spec)
    labels = (meta.get("enum_labels_en") if lang == "en" else None) or meta.get("enum_labels") or {}
    return [(str(v), str(labels.get(str(v), v))) for v in spec.get("enum", [])]


def _item_choices(spec: dict[str, Any]) -> dict[str, Any]:
    """A multi-choice field's items, with the labels given on the field or on its items."""
    item = spec.get("items", {})
    return {**item, "x-mutu": {**_mutu(spec), **_mutu(item)}}


def _kind(spec: dict[str, Any]) -> str:
    widget = _mutu(spec).get("widget")
    typ = spec.get("type")
    if widget in ("rows", "files", "textarea"):
        return widget
    if typ == "boolean":
        return "boolean"
    if "enum" in spec:
        return "select"
    if typ in ("number", "integer"):
        return typ
    if typ == "string" and spec.get("format") == "date":
        return "date"
    if typ == "array":
        item = spec.get("items", {})
        if item.get("type") == "object":
            return "rows"
        return "checks" if "enum" in item else "lines"
    return "text"


def _attrs(spec: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for src, dst in (("minLength", "minlength"), ("maxLength", "maxlength"), ("minimum", "min"),
                     ("maximum", "max"), ("pattern", "pattern")):  # fmt: skip
        if src in spec:
            out[dst] = spec[src]
    if spec.get("type") == "number":
        out["step"] = "any"
    return out


def build(
    schema: dict[str, Any],
    lang: str,
    values: dict[str, Any] | None = None,
    errors: dict[str, list[str]] | None = None,
    masked: frozenset[str] = frozenset(),
    _prefix: str = "",
) -> list[Field]:
    """The fields of a form in schema order, filled with ``values`` and their ``errors``."""
    values = values or {}
    errors = errors or {}
    required = set(schema.get("required", []))
    for branch in ("then", "else"):
        required |= set(schema.get(branch, {}).get("required", []))
    conditions = _conditions(schema, _prefix)
    out: list[Field] = []
    for name, spec in schema.get("properties", {}).items():
        key = f"{_prefix}{name}"
        kind = _kind(spec)
        meta = _mutu(spec)
        f = Field(
            name=PREFIX + key,
            key=key,
            kind=kind,
            label=label_of(spec, lang, name),
            help=(meta.get("help_en") if lang == "en" else None) or meta.get("help") or "",
            required=name in set(schema.get("required", [])),
            options=_options(_item_choices(spec) if kind == "checks" else spec, lang),
            value=values.get(name),
            errors=list(errors.get(key, [])),
            personal=bool(meta.get("personal")),
            masked=name in masked,
            attrs=_attrs(spec),
            when=conditions.get(name),
        )
        if kind == "rows":
            item = spec.get("items", {})
            rows = values.get(name) if isinstance(values.get(name), list) else []
            f.rows = [
                build(item, lang, row if isinstance(row, dict) else {}, errors, masked, f"{key}.{i}.")
                for i, row in enumerate(rows)
            ]
            if not f.rows and spec.get("minItems", 0) > 0:
                f.rows = [build(item, lang, {}, errors, masked, f"{key}.0.")]
            f.template = build(item, lang, {}, {}, masked, f"{key}.__i__.")
            f.attrs["min_rows"] = spec.get("minItems", 0)
            # Row-level errors (e.g. minItems) sit on the array's own key.
        out.append(f)
    return out


def _conditions(schema: dict[str, Any], prefix: str) -> dict[str, dict[str, Any]]:
    """Fields the schema requires only when one field equals a constant (``if``/``then``/``else``)."""
    test = (schema.get("if") or {}).get("properties") or {}
    if len(test) != 1:
        return {}
    [(controller, rule)] = test.items()
    if not isinstance(rule, dict) or "const" not in rule:
        return {}
    const = rule["const"]
    value = ("true" if const else "false") if isinstance(const, bool) else str(const)
    out: dict[str, dict[str, Any]] = {}
    for branch, on in (("then", True), ("else", False)):
        for name in (schema.get(branch) or {}).get("required", []):
            out[name] = {"field": f"{PREFIX}{prefix}{controller}", "value": value, "on": on}
    return out


class ParseErrors(dict[str, list[str]]):
    """Field path -> messages for values that could not even be read as their type.

    ``kept_files`` lists, by field path, evidence ids the form posted back from an earlier
    try; the caller checks they are files the user may attach.
    """

    def __init__(self) -> None:
        super().__init__()
        self.kept_files: dict[str, list[str]] = {}


_ROW_INDEX = re.compile(r"([0-9]{1,4})(?:\.|$)")


def parse(
    schema: dict[str, Any], form: MultiDict[str, str], attachment_ids: dict[str, list[str]] | None = None
) -> tuple[dict[str, Any], ParseErrors]:
    """Read posted fields into typed JSON. Empty inputs are left out, so ``required`` catches them.

    A value that does not read as its type stays in the data as typed, and its error is
    returned, so the page can show both the error and what the user typed.
    """
    errors = ParseErrors()
    data = _parse_object(schema, form, "", errors, attachment_ids or {})
    return data, errors


def _parse_object(
    schema: dict[str, Any],
    form: MultiDict[str, str],
    prefix: str,
    errors: ParseErrors,
    files: dict[str, list[str]],
) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name, spec in schema.get("properties", {}).items():
        key = f"{prefix}{name}"
        kind = _kind(spec)
        if kind == "rows":
            head = PREFIX + key + "."
            # ASCII digits only: "²".isdigit() is true, and int("²") raises.
            indexes = sorted(
                {
                    int(found.group(1))
                    for k in form
                    if k.startswith(head) and (found := _ROW_INDEX.match(k[len(head) :]))
                }
            )
            rows = []
            for i in indexes:
                row = _parse_object(spec.get("items", {}), form, f"{key}.{i}.", errors, files)
                if row:
                    rows.append(row)
            # Renumber errors are not needed: rows keep their posted order and empty rows drop out.
            if rows or spec.get("minItems", 0) > 0:
                data[name] = rows
            continue
        if kind in ("checks", "lines"):
            if kind == "checks":
                items = [v for v in form.getlist(PREFIX + key) if v]
            else:
                items = [line.strip() for line in form.get(PREFIX + key, "").splitlines() if line.strip()]
            if items:
                data[name] = items
            continue
        if kind == "files":
            kept = [v for v in form.getlist(PREFIX + key) if v]
            if kept:
                errors.kept_files[key] = kept
            ids = kept + files.get(key, [])
            if ids:
                data[name] = ids
            continue
        raw = form.get(PREFIX + key, "")
        raw = raw.strip() if kind != "textarea" else raw.strip("\r\n ")
        if raw == "":
            continue
        if kind == "boolean":
            if raw in ("true", "false"):
                data[name] = raw == "true"
            else:
                errors.setdefault(key, []).append("type:boolean")
                data[name] = raw
        elif kind in ("number", "integer") or (
            kind == "select" and spec.get("type") in ("number", "integer")
        ):
            try:
                number = float(raw.replace(",", "."))
                if not math.isfinite(number):  # "nan", "inf", "1e999": no number a form can keep
                    raise ValueError(raw)
                if spec.get("type") == "integer" or kind == "integer":
                    if not number.is_integer():
                        raise ValueError(raw)
                    data[name] = int(number)
                else:
                    data[name] = number
            except ValueError:
                errors.setdefault(key, []).append(f"type:{spec.get('type')}")
                data[name] = raw
        else:
            data[name] = raw
    return data
