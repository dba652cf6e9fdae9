"""What every blueprint shares: the request's database session, the engine, words and times."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, g, request
from flask_babel import format_timedelta, get_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.context import Runtime
from engine.errors import FieldError, NotFound
from engine.models import ProcessVersion
from engine.registry import ProcessGlue
from engine.runtime import ProcessEngine

LANGUAGES = ("id", "en")


def runtime() -> Runtime:
    return current_app.extensions["mutu"]


def engine() -> ProcessEngine:
    return runtime().engine


def db() -> Session:
    """The request's one session; views commit it, teardown rolls back what they did not."""
    if "db" not in g:
        g.db = runtime().sessions()
    return g.db


def close_db(_exc: BaseException | None = None) -> None:
    session = g.pop("db", None)
    if session is not None:
        session.rollback()
        session.close()


def now() -> datetime:
    return engine().clock.now()


def lang() -> str:
    locale = get_locale()
    return locale.language if locale is not None and locale.language in LANGUAGES else "id"


def use_case_glue(instance: Any) -> None:
    """For this request, a process's glue is the case's own version's (names, fields, masking)."""
    g.setdefault("glues", {})[instance.process_key] = engine().glue_of(db(), instance.process_version)


def glue(process_key: str) -> ProcessGlue:
    """The glue of the version in effect (names, fields, masking), read once per request."""
    cache = g.setdefault("glues", {})
    if process_key not in cache:
        try:
            cache[process_key] = engine().glue_of(db(), engine().latest_version(db(), process_key))
        except NotFound:
            cache[process_key] = engine().registry.get(process_key)
    return cache[process_key]


def process_names() -> dict[str, str]:
    """Process key -> the newest version's name, read once per request."""
    if "process_names" not in g:
        rows = (
            db()
            .execute(
                select(ProcessVersion.process_key, ProcessVersion.name).order_by(
                    ProcessVersion.process_key, ProcessVersion.version
                )
            )
            .all()
        )
        g.process_names = dict(rows)  # later versions overwrite earlier ones
    return g.process_names


def process_label(process_key: str, name: str | None = None) -> str:
    meta = glue(process_key)
    if lang() == "en" and meta.name_en:
        return meta.name_en
    return name or process_names().get(process_key) or process_key


def task_label(process_key: str, bpmn_id: str | None, name: str | None) -> str:
    if lang() == "en" and bpmn_id:
        english = glue(process_key).names_en.get(bpmn_id)
        if english:
            return english
    return name or bpmn_id or ""


def local_time(value: datetime | None, fmt: str = "%d-%m-%Y %H:%M") -> str:
    if value is None:
        return ""
    return value.astimezone(runtime().settings.zone).strftime(fmt)


def local_date(value: datetime | None) -> str:
    return local_time(value, "%d-%m-%Y")


def age(value: datetime | None) -> str:
    if value is None:
        return ""
    return format_timedelta(now() - value, threshold=1.1, granularity="minute")


def due_in(value: datetime | None) -> str:
    if value is None:
        return ""
    delta: timedelta = value - now()
    return format_timedelta(delta, add_direction=True, threshold=1.1, granularity="minute")


def is_overdue(value: datetime | None) -> bool:
    return value is not None and value < now()


def field_message(error: FieldError) -> str:
    """A form error in the user's language, from the JSON Schema keyword that failed."""
    limit = error.limit
    words = {
        "required": lambda: _("This field is required."),
        "minLength": lambda: _("Enter at least %(n)s characters.", n=limit),
        "maxLength": lambda: _("Enter at most %(n)s characters.", n=limit),
        "minimum": lambda: _("Must be at least %(n)s.", n=limit),
        "maximum": lambda: _("Must be at most %(n)s.", n=limit),
        "exclusiveMinimum": lambda: _("Must be more than %(n)s.", n=limit),
        "exclusiveMaximum": lambda: _("Must be less than %(n)s.", n=limit),
        "pattern": lambda: _("This value does not have the expected format."),
        "enum": lambda: _("Choose one of the options."),
        "const": lambda: _("This value is not allowed here."),
        "minItems": lambda: _("Add at least %(n)s row(s).", n=limit),
        "maxItems": lambda: _("Add at most %(n)s row(s).", n=limit),
        "format": lambda: _("Enter a date as YYYY-MM-DD.") if limit == "date" else _("Wrong format."),
        "type": lambda: _type_message(limit),
        "x-user": lambda: _("Choose a person from the list."),
    }
    make = words.get(error.keyword)
    return make() if make else error.message


def _type_message(expected: Any) -> str:
    if expected == "integer":
        return _("Enter a whole number.")
    if expected == "number":
        return _("Enter a number.")
    if expected == "boolean":
        return _("Choose yes or no.")
    return _("This value has the wrong type.")


def parse_message(code: str) -> str:
    """Messages for values formkit.parse could not read as their type (``type:<json type>``)."""
    return _type_message(code.split(":", 1)[1] if ":" in code else code)


def safe_path(target: str | None, default: str) -> str:
    """``target`` if it is a path on this site, else ``default``: the one check of every redirect.

    Browsers drop tabs and newlines and read a backslash as a slash, so ``/\t/evil`` and
    ``/\\evil`` would leave the site: any control character, space or backslash refuses.
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return default
    if any(ch < " " or ch in "\\\x7f " for ch in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


def back_to(default: str) -> str:
    """Where a form asked to return (``back``), if it is a path on this site."""
    return safe_path(request.form.get("back", ""), default)


MAX_PAGE = 100_000


def page_arg(value: str | None, default: int = 1) -> int:
    """A page number from a query string: digits only, between 1 and MAX_PAGE (else ``default``)."""
    if value is None or not value.isascii() or not value.isdigit():
        return default
    return min(max(int(value), 1), MAX_PAGE) if len(value) < 10 else MAX_PAGE


def page_count(total: int, per_page: int) -> int:
    return max((total + per_page - 1) // per_page, 1)


def wants_json() -> bool:
    return request.path.startswith("/api/")
