"""Error pages in the reader's language: the engine's and Werkzeug's reasons are English."""

from __future__ import annotations

from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from engine.errors import MutuError


def mutu_message(exc: MutuError) -> str:
    if exc.code == "conflict" and "claimed" in str(exc):
        return _("Someone else has claimed this task; it is theirs until they release it.")
    words = {
        "not_found": _("This page or record does not exist, or is no longer there."),
        "not_authorized": _("Your roles do not allow this. Ask the QMR if you need it."),
        "conflict": _("Someone else changed this first. Reload the page to see where it stands."),
        "invalid_state": _("This cannot be done while the case is in its present state."),
        "validation_failed": _("What was sent is not valid. Go back and check the form."),
        "statement_not_accepted": _("Accept the confidentiality statement first."),
        "upload_refused": _("The file was refused."),
        "script_error": _("A step of the process failed. The QMR can see why on the case page."),
    }
    return words.get(exc.code, _("This cannot be done."))


def http_words(exc: HTTPException, message: str) -> tuple[str, str]:
    """Title and message of an HTTP error page; a description we wrote ourselves is kept."""
    status = exc.code or 500
    titles = {
        400: _("Not valid"),
        403: _("Not allowed"),
        404: _("Not found"),
        405: _("Cannot do that"),
        409: _("Someone was faster"),
        413: _("Too large"),
        422: _("Not valid"),
        429: _("Too many attempts"),
    }
    defaults = {
        400: _("The request could not be understood. Go back and try again."),
        403: _("Your roles do not allow this. Ask the QMR if you need it."),
        404: _("This page or record does not exist, or is no longer there."),
        405: _("This address does not take that kind of request."),
        409: _("Someone else changed this first. Reload the page to see where it stands."),
        422: _("What was sent is not valid. Go back and check the form."),
        429: _("Too many attempts. Wait a moment and try again."),
    }
    title = titles.get(status, _("Something went wrong"))
    if status == 413:
        return title, message
    own = exc.description and exc.description != type(exc).description
    return title, (message if own else defaults.get(status, _("Something went wrong. Try again later.")))
