"""Linked cases on the case page, and the QMR's trend rules page."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from engine import links, policy
from engine.errors import Conflict, NotAuthorized, NotFound, ValidationFailed
from engine.models_links import RULE_KINDS

from .cases import bp
from .core import db, now


def link_words() -> dict[tuple[str, bool], str]:
    """How a link reads from each end: (kind, outgoing) -> words."""
    return {
        ("recurs", True): _("recurs from"),
        ("recurs", False): _("recurred in"),
        ("related", True): _("related to"),
        ("related", False): _("related to"),
        ("trend", True): _("raised from the finding"),
        ("trend", False): _("part of the trend"),
    }


def may_link() -> bool:
    return bool(current_user.active and links.LINKER_ROLES & current_user.role_keys)


@bp.post("/cases/<int:instance_id>/links")
def add_link(instance_id: int):  # type: ignore[no-untyped-def]
    back = url_for("cases.case_page", instance_id=instance_id) + "#links"
    try:
        links.link(
            db(), current_user, instance_id, request.form.get("to", ""), request.form.get("kind", ""), now(),
            request.form.get("note", ""),
        )  # fmt: skip
    except NotFound:
        db().rollback()
        flash(_("No case with that number that you may see."), "error")
        return redirect(back)
    except ValidationFailed:
        db().rollback()
        flash(_("Choose recurs or related, and another case."), "error")
        return redirect(back)
    except Conflict:
        db().rollback()
        flash(_("The two cases are linked so already."), "error")
        return redirect(back)
    db().commit()
    flash(_("Cases linked."), "info")
    return redirect(back)


@bp.post("/cases/<int:instance_id>/links/<int:link_id>/delete")
def remove_link(instance_id: int, link_id: int):  # type: ignore[no-untyped-def]
    policy.check_may_see(db(), current_user, instance_id)
    links.unlink(db(), current_user, link_id, now())
    db().commit()
    flash(_("Link removed."), "info")
    return redirect(url_for("cases.case_page", instance_id=instance_id) + "#links")


@bp.route("/rules", methods=["GET", "POST"])
def trend_rules():  # type: ignore[no-untyped-def]
    if not policy.may_manage(current_user):
        raise NotAuthorized(f"{current_user.username} may not change trend rules")
    errors = False
    if request.method == "POST":
        try:
            for kind in RULE_KINDS:
                threshold = request.form.get(f"{kind}_threshold", "")
                days = request.form.get(f"{kind}_days", "")
                if not (threshold.isdigit() and days.isdigit() and len(threshold) < 4 and len(days) < 4):
                    raise ValidationFailed({kind: ["whole numbers"]})
                active = request.form.get(f"{kind}_active") == "on"
                links.set_rule(db(), current_user, kind, int(threshold), int(days), active, now())
        except ValidationFailed:
            db().rollback()
            errors = True
            flash(_("Give 2 to 100 findings and 1 to 366 days for each rule."), "error")
        else:
            db().commit()
            flash(_("Trend rules saved; they are checked every hour."), "info")
            return redirect(url_for("cases.trend_rules"))
    return render_template("rules.html", rules=links.rules(db()), kinds=RULE_KINDS), (422 if errors else 200)
