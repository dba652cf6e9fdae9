"""A case's status in the reader's language, from what the engine says it waits for."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _

from engine.case_status import CaseStatus

from .core import local_date, local_time, task_label
from .values import role_label


@dataclass
class StatusView:
    badge: str  # the short word on lists
    state: str  # for the badge's colour
    lines: list[str]  # the full story on the case page


def state_word(state: str) -> str:
    words = {
        "running": _("running"),
        "completed": _("completed"),
        "incident": _("incident"),
        "suspended": _("suspended"),
        "cancelled": _("cancelled"),
    }
    return words.get(state, state.replace("_", " "))


def describe(status: CaseStatus, process_key: str) -> StatusView:
    said: list[str] = []  # one line for each thing it waits for
    for w in status.waiting:
        label = task_label(process_key, w.bpmn_id, w.name)
        if w.kind == "task":
            who = (
                _("held by %(who)s", who=w.holder)
                if w.holder
                else _("in the queue of %(role)s", role=role_label(w.role))
                if w.role
                else ""
            )
            text = f"{label} — {who}" if who else label
            if w.due:
                text += " · " + _("due %(date)s", date=local_date(w.due))
            said.append(text)
        elif w.kind == "timer":
            said.append(_("waiting for %(what)s until %(date)s", what=label, date=local_date(w.due)))
        elif w.kind == "service" and w.attempts:
            said.append(
                _(
                    "%(what)s: call %(num)s failed (%(why)s); a worker tries again at %(time)s",
                    what=label,
                    num=w.attempts,
                    why=(w.error or "?")[:200],
                    time=local_time(w.due),
                )
            )
        elif w.kind == "service":
            said.append(_("%(what)s: waiting for a worker to call it", what=label))
        elif w.kind == "sending" and w.attempts:
            said.append(
                _(
                    "%(what)s: no case has received the message %(name)s yet; a worker tries "
                    "again at %(time)s (attempt %(num)s)",
                    what=label,
                    name=w.message,
                    num=w.attempts + 1,
                    time=local_time(w.due),
                )
            )
        elif w.kind == "sending":
            said.append(_("%(what)s: the message %(name)s is being delivered", what=label, name=w.message))
        else:
            said.append(_("waiting for the message %(what)s", what=label))
    lines = list(said)
    if status.state == "completed":
        ends = [task_label(process_key, b, n) for b, n in status.ended]
        lines = [_("ended: %(how)s", how=", ".join(ends))] if ends else [_("ended")]
        # What it sent as it ended may still be on its way.
        lines += [line for w, line in zip(status.waiting, said, strict=True) if w.kind == "sending"]
        return StatusView(
            _("ended: %(how)s", how=", ".join(ends)) if ends else _("ended"), "completed", lines
        )
    if status.state == "cancelled":
        lines = [_("cancelled: %(why)s", why=status.reason)] if status.reason else [state_word("cancelled")]
        return StatusView(state_word("cancelled"), "cancelled", lines)
    if status.state in ("incident", "suspended"):
        return StatusView(state_word(status.state), status.state, [state_word(status.state), *lines])
    tasks = [w for w in status.waiting if w.kind == "task"]
    if len(tasks) == 1:
        badge = task_label(process_key, tasks[0].bpmn_id, tasks[0].name)
    elif tasks:
        badge = _("%(num)s tasks open", num=len(tasks))
    elif status.waiting:
        first = status.waiting[0]
        label = task_label(process_key, first.bpmn_id, first.name)
        badge = (
            _("waiting for %(what)s until %(date)s", what=label, date=local_date(first.due))
            if first.kind == "timer"
            else _("%(what)s: waiting for a worker to call it", what=label)
            if first.kind == "service"
            else _("%(what)s: the message %(name)s is being delivered", what=label, name=first.message)
            if first.kind == "sending"
            else _("waiting for the message %(what)s", what=label)
        )
    else:
        badge = state_word("running")
    return StatusView(badge, "running", lines or [badge])
