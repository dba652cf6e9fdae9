"""The errors engine callers handle: each maps to one HTTP status or one CLI line."""

from __future__ import annotations

from dataclasses import dataclass


class MutuError(Exception):
    """Base of every error the engine raises on purpose."""

    code = "error"
    http_status = 400


class NotFound(MutuError):
    code = "not_found"
    http_status = 404


class NotAuthorized(MutuError):
    code = "not_authorized"
    http_status = 403


class Conflict(MutuError):
    """Someone else changed the instance or task first; reload and try again."""

    code = "conflict"
    http_status = 409


class InvalidState(MutuError):
    """The operation does not fit the instance's status (e.g. completing in a suspended case)."""

    code = "invalid_state"
    http_status = 409


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a deployment: which file, which element, what."""

    file: str
    element: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}" + (f" [{self.element}]" if self.element else "")
        return f"{where}: {self.message}"


class DeployError(MutuError):
    code = "deploy_rejected"
    http_status = 422

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


@dataclass(frozen=True)
class FieldError:
    """One broken rule of a form: the field path, the JSON Schema keyword and its value.

    Edges word the message in the user's language from ``keyword`` and ``limit``.
    """

    path: str
    keyword: str
    limit: object
    message: str


class ValidationFailed(MutuError):
    """Submitted form data broke its schema; ``errors`` maps field path -> messages."""

    code = "validation_failed"
    http_status = 422

    def __init__(self, errors: dict[str, list[str]], details: list[FieldError] | None = None):
        self.errors = errors
        self.details = details or []
        summary = "; ".join(f"{k or '(form)'}: {', '.join(v)}" for k, v in errors.items())
        super().__init__(f"form data is not valid: {summary}")


class ScriptError(MutuError):
    """A script or expression was refused or failed in the restricted environment."""

    code = "script_error"
