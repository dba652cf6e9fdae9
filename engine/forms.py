"""Task forms: JSON Schema (draft 2020-12) checked on the server with every error at once.

Mutu keywords ride along in the schema under ``x-mutu`` (widget, personal data, English
labels); validators ignore them, so one file serves validation and rendering.
"""

from __future__ import annotations

import math
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError

from .errors import FieldError, ValidationFailed

_FORMAT_CHECKER = FormatChecker()


def schema_problem(schema: dict[str, Any]) -> str | None:
    """Return why ``schema`` is not a usable form schema, or None."""
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        return f"not a valid JSON Schema: {exc.message}"
    if schema.get("type", "object") != "object":
        return "a form schema must describe an object"
    return None


MAX_DEPTH = 16
MAX_TEXT = 100_000  # characters of one value: a description, not a file (evidence goes as files)
MAX_ITEMS = 10_000  # items of one list or rows of one table


def declared_fields(schema: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """Every field a form declares -> its schema: its properties, and those of its conditions."""
    found: dict[str, dict[str, Any]] = {}
    if not isinstance(schema, dict):
        return found
    stack = [schema]
    while stack:
        part = stack.pop()
        for name, spec in (part.get("properties") or {}).items():
            found.setdefault(name, spec if isinstance(spec, dict) else {})
        for key in ("then", "else"):
            if isinstance(part.get(key), dict):
                stack.append(part[key])
        for key in ("allOf", "anyOf", "oneOf"):
            stack.extend(p for p in part.get(key) or [] if isinstance(p, dict))
    return found


def _item_schema(spec: dict[str, Any]) -> dict[str, Any] | None:
    items = spec.get("items")
    return items if isinstance(items, dict) and items.get("properties") else None


def undeclared(schema: dict[str, Any] | None, data: dict[str, Any], prefix: str = "") -> list[str]:
    """Paths of submitted keys the form does not declare, rows of repeating fields included."""
    fields = declared_fields(schema)
    unknown: list[str] = []
    for key, value in data.items():
        path = f"{prefix}{key}"
        spec = fields.get(key)
        if spec is None:
            unknown.append(path)
            continue
        item = _item_schema(spec)
        if item is not None and isinstance(value, list):
            for i, row in enumerate(value):
                if isinstance(row, dict):
                    unknown.extend(undeclared(item, row, f"{path}.{i}."))
    return unknown


def allow_listed(schema: dict[str, Any] | None, data: Any) -> dict[str, Any]:
    """Submitted data checked to hold only what the form declares (every edge comes through here).

    Raises:
        ValidationFailed: naming each field the form does not have.
    """
    if not isinstance(data, dict):
        raise ValidationFailed({"": ["form data must be an object"]}, [FieldError("", "type", "object", "")])
    unknown = undeclared(schema, data)
    if unknown:
        raise ValidationFailed(
            {path: ["is not a field of this form"] for path in unknown},
            [
                FieldError(path, "additionalProperties", None, "is not a field of this form")
                for path in unknown
            ],
        )
    return data


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def value_problems(data: Any) -> list[FieldError]:
    """What no field may hold: NaN or infinite numbers, NUL characters, nesting past MAX_DEPTH."""
    problems: list[FieldError] = []
    stack: list[tuple[str, Any, int]] = [("", data, 0)]
    while stack:
        path, value, depth = stack.pop()
        if depth > MAX_DEPTH:
            problems.append(FieldError(path, "maxDepth", MAX_DEPTH, f"nested deeper than {MAX_DEPTH} levels"))
            continue
        if isinstance(value, float) and not math.isfinite(value):
            problems.append(FieldError(path, "finite", None, "is not a finite number"))
        elif isinstance(value, str) and ("\x00" in value or not _is_text(value)):
            problems.append(FieldError(path, "nul", None, "contains a NUL character or a lone surrogate"))
        elif isinstance(value, str) and len(value) > MAX_TEXT:
            problems.append(FieldError(path, "maxLength", MAX_TEXT, f"is longer than {MAX_TEXT} characters"))
        elif isinstance(value, list) and len(value) > MAX_ITEMS:
            problems.append(FieldError(path, "maxItems", MAX_ITEMS, f"has more than {MAX_ITEMS} items"))
        elif isinstance(value, dict):
            for key, inner in value.items():
                if "\x00" in str(key):
                    problems.append(FieldError(path, "nul", None, "contains a NUL character"))
                stack.append((f"{path}.{key}" if path else str(key), inner, depth + 1))
        elif isinstance(value, list):
            stack.extend(
                (f"{path}.{i}" if path else str(i), inner, depth + 1) for i, inner in enumerate(value)
            )
    return problems


_VALIDATORS: dict[int, tuple[dict[str, Any], Draft202012Validator]] = {}


def _validator(schema: dict[str, Any]) -> Draft202012Validator:
    """A validator per schema object: versions' schemas are cached and immutable, and building a
    validator costs more than most validations do."""
    found = _VALIDATORS.get(id(schema))
    if found is not None and found[0] is schema:
        return found[1]
    if len(_VALIDATORS) > 2048:
        _VALIDATORS.clear()
    validator = Draft202012Validator(schema, format_checker=_FORMAT_CHECKER)
    _VALIDATORS[id(schema)] = (schema, validator)  # keeping the schema keeps its id from being reused
    return validator


def validate(schema: dict[str, Any], data: Any) -> dict[str, Any]:
    """Validate submitted data and return it; raise ValidationFailed listing every field error."""
    if not isinstance(data, dict):
        raise ValidationFailed({"": ["form data must be an object"]}, [FieldError("", "type", "object", "")])
    bad = value_problems(data)
    if bad:
        raise ValidationFailed({p.path: [p.message] for p in bad}, bad)
    validator = _validator(schema)
    errors: dict[str, list[str]] = {}
    details: list[FieldError] = []
    for error in sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path)):
        path = ".".join(str(p) for p in error.absolute_path)
        limit = error.validator_value
        if error.validator == "required":
            missing = error.message.split("'")[1] if "'" in error.message else ""
            path = ".".join(p for p in (path, missing) if p)
            message, limit = "is required", None
        else:
            message = error.message
        if error.validator in ("if", "then", "else", "allOf", "anyOf", "oneOf") and not error.context:
            continue
        errors.setdefault(path, []).append(message)
        details.append(FieldError(path, str(error.validator), limit, message))
    if errors:
        raise ValidationFailed(errors, details)
    return data


def personal_fields(schema: dict[str, Any]) -> list[str]:
    """Names of top-level fields marked as personal data (masked for roles that need not see them)."""
    props = schema.get("properties", {})
    return [name for name, spec in props.items() if spec.get("x-mutu", {}).get("personal")]
