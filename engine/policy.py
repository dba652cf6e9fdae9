"""Who may see, act on, manage and assign: the one place these rules live.

Every edge (web pages, the HTTP API, the CLI, the scheduler) and the engine itself ask
here, so no edge can skip a rule another edge keeps. Roles are global or held at one of
the four sites; a task in a lane of a site-held role, in a case that has a site, is open
only to that role's members at that site. An agent's step is open only to the agent it
names (by login code); when no user has the code it goes to the site's team leaders.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, exists, false, or_, select, true
from sqlalchemy.orm import Session

from .errors import MutuError, NotAuthorized, NotFound
from .models import CaseRecord, HumanTask, HumanTaskOwner, HumanTaskRole, ProcessInstance, User
from .models_signin import ConfidentialityAcceptance
from .statement import STATEMENT, STATEMENT_VERSION  # noqa: F401 - edges find them here

SITES = ("Bogor", "Bandung", "Semarang", "Malang")
GLOBAL_ROLES = frozenset({"qmr", "director", "procurement", "client_liaison", "admin"})
SITE_HELD_ROLES = frozenset({"team_leader", "agent", "operations_manager", "quality_control"})
# A task of these roles is for the person it names, never for everyone holding the role.
NAMED_ONLY_ROLES = frozenset({"agent"})
# Where a named-only task goes when nobody holds the name: the site's team leaders.
FALLBACK_ROLE = "team_leader"
# Roles that read every case and every task (writing only where the task is also theirs).
OVERSIGHT_ROLES = frozenset({"admin", "qmr", "director", "quality_control"})
# Roles that read every case of their own site.
SITE_CASE_ROLES = frozenset({"team_leader", "operations_manager"})
# Roles that give tasks to people and take them back: all tasks (admin, QMR) or their site's.
ASSIGNER_ROLES = frozenset({"admin", "qmr", "team_leader"})
# Roles that retry, suspend, resume, cancel and migrate cases.
MANAGER_ROLES = frozenset({"admin", "qmr"})
# Roles whose accounts may send messages into processes from outside (a supplier portal's
# account holds procurement, the client's ticketing the client liaison's).
MESSAGE_SENDER_ROLES = frozenset({"admin", "qmr", "procurement", "client_liaison"})


class StatementNotAccepted(MutuError):
    """The user has not accepted the confidentiality statement (manual 8.5.3) yet."""

    code = "statement_not_accepted"
    http_status = 403


# -- the confidentiality gate -------------------------------------------------------------


def has_accepted(session: Session, user: User, text_version: str = STATEMENT_VERSION) -> bool:
    return (
        session.get(ConfidentialityAcceptance, {"user_id": user.id, "text_version": text_version}) is not None
    )


def require_statement(session: Session, user: User) -> None:
    """Refuse case data to a user who never accepted the statement, on every edge."""
    if not has_accepted(session, user):
        raise StatementNotAccepted(
            f"{user.username} has not accepted the confidentiality statement (version {STATEMENT_VERSION})"
        )


# -- tasks ----------------------------------------------------------------------------------


def _role_opens(role: str, site: str | None, user: User) -> bool:
    if role in NAMED_ONLY_ROLES or role not in user.role_keys:
        return False
    return role not in SITE_HELD_ROLES or site is None or user.site == site


def may_act(row: HumanTask, user: User) -> bool:
    """Whether ``user`` may claim or complete the task ``row`` (ignoring who claimed it)."""
    if not user.active:
        return False
    if user.is_admin:
        return True
    if not row.has_owners and row.lane is None:
        return row.assignee_id == user.id
    return is_for(row, user)


def is_for(row: HumanTask, user: User) -> bool:
    """Whether the task is meant for ``user`` by its names or roles: ``may_act`` without an admin's office."""
    if not user.active:
        return False
    if row.has_owners:
        return any(o.user_id == user.id for o in row.owners)
    if row.role_key is None:
        return False
    if _role_opens(row.role_key, row.site, user):
        return True
    return any(_role_opens(extra.role_key, row.site, user) for extra in row.extra_roles)


def may_work(row: HumanTask, user: User) -> bool:
    """Whether ``user`` may write to the task now: complete it, save a draft, upload through it.

    Nobody, admins included, completes a task someone else has claimed: it is handed over
    first (assign or release), which the history records.
    """
    return row.status == "open" and may_act(row, user) and row.assignee_id in (None, user.id)


def may_oversee(row: HumanTask, user: User) -> bool:
    """Whether ``user`` may give the task to someone or take it back from its holder."""
    if not user.active or not (ASSIGNER_ROLES & user.role_keys):
        return False
    if user.is_admin or "qmr" in user.role_keys:
        return True
    return row.site is not None and row.site == user.site


def users_who_may_act(session: Session, row: HumanTask) -> list[User]:
    """The active people a task is open to by its roles or names (not admins by office alone)."""
    from .models import Role, UserRole

    if row.has_owners:
        ids = select(HumanTaskOwner.user_id).where(HumanTaskOwner.human_task_id == row.id)
    else:
        roles = [r for r in [row.role_key, *(e.role_key for e in row.extra_roles)] if r]
        if not roles:
            return []
        ids = select(UserRole.user_id).join(Role, Role.id == UserRole.role_id).where(Role.key.in_(roles))
    users = session.execute(select(User).where(User.id.in_(ids), User.active.is_(True)).order_by(User.id))
    return [u for u in users.unique().scalars() if may_act(row, u)]


def overseen(user: User) -> Any:
    """SQL over HumanTask: the tasks ``user`` may hand out and take back (``may_oversee``)."""
    if not user.active or not (ASSIGNER_ROLES & user.role_keys):
        return false()
    if user.is_admin or "qmr" in user.role_keys:
        return true()
    if not user.site:
        return false()
    return HumanTask.site == user.site


def may_see_task(session: Session, row: HumanTask, user: User) -> bool:
    """Read access to a task: its holder, whoever finished it, who may act, or who may see its case."""
    if row.assignee_id == user.id or row.completed_by_id == user.id or may_act(row, user):
        return True
    return may_see_case(session, user, row.instance_id)


def get_task_for(session: Session, task_id: int, user: User) -> HumanTask:
    """A task the user may see, or NotFound / NotAuthorized."""
    row = session.get(HumanTask, task_id)
    if row is None:
        raise NotFound(f"no task {task_id}")
    if not may_see_task(session, row, user):
        raise NotAuthorized(f"{user.username} may not see task {task_id}")
    return row


def check_may_act(row: HumanTask, user: User, who: str = "") -> None:
    if may_act(row, user):
        return
    subject = f"{who} {user.username}" if who else user.username
    if row.lane is not None and row.role_key is None:
        raise NotAuthorized(f"lane {row.lane!r} maps to no role yet; only an admin may act on task {row.id}")
    where = f", site {row.site}" if row.site else ""
    raise NotAuthorized(f"{subject} may not act on task {row.id} ({row.bpmn_id}, lane {row.lane}{where})")


def check_may_work(row: HumanTask, user: User) -> None:
    check_may_act(row, user)
    if row.assignee_id not in (None, user.id):
        from .errors import Conflict

        raise Conflict(f"task {row.id} ({row.bpmn_id}) is claimed by another user")


def check_may_oversee(row: HumanTask, user: User, what: str) -> None:
    if not may_oversee(row, user):
        raise NotAuthorized(f"{user.username} may not {what} task {row.id} ({row.bpmn_id})")


def route_roles(roles: list[str], has_owner: bool) -> tuple[list[str], bool]:
    """The roles a new task opens to, and whether it was rerouted for want of its named person."""
    if has_owner or not roles or not all(r in NAMED_ONLY_ROLES for r in roles):
        return roles, False
    return [FALLBACK_ROLE], True


def open_to(user: User) -> list[Any]:
    """SQL: the disjoint ways an unclaimed task is open to ``user``, the one definition of "my roles".

    One part per role of the user (``ix_human_task_unclaimed``: that role's open, unclaimed
    tasks in due order, the site read from the index), one for tasks open through a further
    role, one for tasks that name the user. Only non-correlated ``IN`` subqueries: the small
    role and owner tables are read once, and each queue row is checked from the index alone.
    """
    roles = sorted(r for r in user.role_keys if r not in NAMED_ONLY_ROLES)
    not_owned = HumanTask.has_owners == false()  # "= false" can use an index; "IS false" cannot
    by_role = [and_(HumanTask.role_key == role, _site_ok(role, user)) for role in roles]
    parts = [and_(part, not_owned) for part in by_role]
    # Tasks open through a further role and not already through their first: global roles
    # first, then site-held roles at the user's site, each part excluding the ones before.
    not_before = [or_(HumanTask.role_key.is_(None), ~or_(*by_role)) if by_role else true()]
    for site_bound in (False, True):
        extra = [r for r in roles if (r in SITE_HELD_ROLES) == site_bound]
        if not extra:
            continue
        by_extra = HumanTask.id.in_(
            select(HumanTaskRole.human_task_id).where(HumanTaskRole.role_key.in_(extra))
        )
        site = _site_ok(extra[0], user) if site_bound else true()
        parts.append(and_(not_owned, by_extra, site, *not_before))
        not_before.append(~and_(by_extra, site))
    owned = select(HumanTaskOwner.human_task_id).where(HumanTaskOwner.user_id == user.id)
    parts.append(and_(HumanTask.has_owners == true(), HumanTask.id.in_(owned)))
    return parts


def _site_ok(role: str, user: User) -> Any:
    if role not in SITE_HELD_ROLES:
        return true()
    if user.site is None:
        return HumanTask.site.is_(None)
    return or_(HumanTask.site.is_(None), HumanTask.site == user.site)


# -- cases ------------------------------------------------------------------------------------


def _involved(user: User) -> Any:
    """SQL: the user took part in the instance, or it has an open task the user may take."""
    return or_(
        ProcessInstance.started_by_id == user.id,
        exists().where(
            HumanTask.instance_id == ProcessInstance.id,
            or_(
                HumanTask.assignee_id == user.id,
                HumanTask.completed_by_id == user.id,
                and_(HumanTask.status == "open", HumanTask.assignee_id.is_(None), or_(*open_to(user))),
            ),
        ),
    )


def visible_cases(user: User) -> Any:
    """A WHERE clause over ProcessInstance outer-joined with CaseRecord, or True for everything."""
    if not user.active:
        return false()
    if OVERSIGHT_ROLES & user.role_keys:
        return True
    clauses = [_involved(user)]
    if SITE_CASE_ROLES & user.role_keys and user.site:
        clauses.append(CaseRecord.site == user.site)
    return or_(*clauses)


def needs_case_join(user: User) -> bool:
    return visible_cases(user) is not True and bool(SITE_CASE_ROLES & user.role_keys and user.site)


def may_see_case(session: Session, user: User, instance_id: int) -> bool:
    visible = visible_cases(user)
    if visible is True:
        return True
    seen = session.execute(
        select(ProcessInstance.id)
        .outerjoin(CaseRecord, CaseRecord.instance_id == ProcessInstance.id)
        .where(ProcessInstance.id == instance_id, visible)
    ).first()
    return seen is not None


def check_may_see(session: Session, user: User, instance_id: int) -> ProcessInstance:
    instance = session.get(ProcessInstance, instance_id)
    if instance is None:
        raise NotFound(f"no case {instance_id}")
    if not may_see_case(session, user, instance_id):
        raise NotAuthorized(f"{user.username} may not see case {instance_id}")
    return instance


def may_manage(user: User) -> bool:
    """Retry, suspend, resume, cancel or migrate a case: the QMR and admins only.

    The person who reported a nonconformity cannot make it disappear before triage.
    """
    return user.active and bool(MANAGER_ROLES & user.role_keys)


def check_may_send_messages(user: User) -> None:
    if not (user.active and MESSAGE_SENDER_ROLES & user.role_keys):
        raise NotAuthorized(
            f"{user.username} may not send messages into processes; it needs one of: "
            + ", ".join(sorted(MESSAGE_SENDER_ROLES))
        )


def check_may_manage(user: User, instance_id: int, action: str) -> None:
    if not may_manage(user):
        raise NotAuthorized(
            f"{user.username} may not {action} case {instance_id}; only the QMR and admins may"
        )


def may_start(startable_by: list[str] | tuple[str, ...], user: User) -> bool:
    allowed = set(startable_by)
    return user.active and (not allowed or user.is_admin or bool(allowed & user.role_keys))


# The rules of the records side (registers, agents' pages, reports, evidence packs) live in
# their own file but are asked here like every other rule.
from .policy_records import (  # noqa: E402, F401
    ALL_SITES_ROLES,
    PACK_MAKERS,
    PACK_READERS,
    REGISTER_KEEPERS,
    REGISTER_READERS,
    REPORT_READERS,
    SUPPLIER_VERIFIERS,
    check_may_keep_register,
    check_may_make_packs,
    check_may_read_packs,
    check_may_read_register,
    check_may_read_reports,
    check_may_verify_supplier_action,
    may_make_packs,
    may_read_register,
    may_see_agent,
    records_site,
)
