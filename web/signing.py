"""E-signatures at the edges: the words of each meaning, and the password checked again.

The engine decides which steps are signed and refuses an unsigned completion; this module
asks the person for their password on the page and in the API, and commits a wrong one so
that it counts towards the sign-in lockout even though the step is not taken.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask_babel import gettext as _
from flask_login import current_user

from engine import policy, signatures
from engine.models import HumanTask, ProcessInstance
from engine.signin import LoginThrottled

from .core import db, engine, now, runtime


def meaning_word(meaning: str) -> str:
    words = {
        "approved": _("approved"),
        "verified_effective": _("verified effective"),
        "accepted": _("accepted"),
        "decided": _("decided"),
        "reviewed": _("reviewed"),
        "released": _("released"),
    }
    return words.get(meaning, meaning.replace("_", " "))


def meaning_for(row: HumanTask, instance: ProcessInstance) -> str | None:
    return signatures.meaning_of(engine().glue_of(db(), instance.process_version).meta, row.bpmn_id)


def statement(meaning: str) -> str:
    name = current_user.full_name or current_user.username
    return _(
        "By completing this step I, %(name)s, sign it as %(meaning)s. Enter your password to sign.",
        name=name,
        meaning=meaning_word(meaning),
    )


class Refused(Exception):
    """The password was wrong or the account is locked: ``message`` says so, ``status`` is the HTTP code."""

    def __init__(self, message: str, status: int, code: str):
        super().__init__(message)
        self.message, self.status, self.code = message, status, code


def confirm(password: str) -> signatures.Confirmation:
    """The signed-in user's password checked again; a failure is committed, then Refused."""
    if not password:  # nothing typed is not a guess: it asks, and counts nothing
        raise Refused(_("Enter your password to sign this step."), 422, "signature_required")
    settings = runtime().settings
    try:
        return signatures.confirm(
            db(),
            current_user,
            password,
            now(),
            max_failures=settings.login_max_failures,
            window=timedelta(minutes=settings.login_lockout_minutes),
        )
    except signatures.SignatureRefused:
        db().commit()
        raise Refused(
            _("The password is wrong: the step was neither signed nor completed."), 403, "signature_refused"
        ) from None
    except LoginThrottled as exc:
        db().commit()
        raise Refused(
            _("Too many failed attempts. Try again in %(n)s minutes.", n=exc.minutes),
            429,
            "too_many_attempts",
        ) from None


def confirm_for(task_id: int, password: str | None) -> signatures.Confirmation | None:
    """A confirmation when the task is signed and a password came with it (the engine asks if none)."""
    if password is None:
        return None
    row = policy.get_task_for(db(), task_id, current_user)
    instance = db().get(ProcessInstance, row.instance_id)
    if instance is None or not meaning_for(row, instance):
        return None
    return confirm(password)


def history_note(data: dict[str, Any]) -> str:
    who = data.get("name") or data.get("username") or ""
    if data.get("agent_code"):
        who = f"{who} ({data['agent_code']})"
    return _("signed as %(meaning)s: %(who)s", meaning=meaning_word(str(data.get("meaning", ""))), who=who)
