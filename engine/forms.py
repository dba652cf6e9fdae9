"""Task forms: JSON Schema (draft 2020-12) checked on the server with every error at once.

Mutu keywords ride along in the schema under ``x-mutu`` (widget, personal data, English
labels); validators ignore them, so one file serves validation and rendering.
"""

from __future__ import annotations

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


def validate(schema: dict[str, Any], data: Any) -> dict[str, Any]:
    """Validate submitted data and return it; raise ValidationFailed listing every field error."""
    if not isinstance(data, dict):
        raise ValidationFailed({"": ["form data must be an object"]}, [FieldError("", "type", "object", "")])
    validator = Draft202012Validator(schema, format_checker=_FORMAT_CHECKER)
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
