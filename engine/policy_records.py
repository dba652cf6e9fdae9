"""Who may read and keep the quality records: registers, agents' pages, reports, evidence packs.

Part of ``policy`` (which re-exports every name here): edges ask ``policy.<rule>``.
"""

from __future__ import annotations

from .errors import NotAuthorized, NotFound
from .models import User
from .policy import OVERSIGHT_ROLES, SITE_CASE_ROLES

# Who reads each register and who keeps it (adds and follows up its rows).
REGISTER_READERS = {
    "suppliers": frozenset({"admin", "qmr", "director", "procurement"}),
    "requirements": frozenset(
        {"admin", "qmr", "director", "operations_manager", "team_leader", "quality_control"}
    ),
    "communications": frozenset({"admin", "qmr", "director", "operations_manager", "team_leader"}),
    "preservation": frozenset(
        {"admin", "qmr", "director", "operations_manager", "team_leader", "quality_control"}
    ),
    "tools": frozenset({"admin", "qmr", "director", "operations_manager", "quality_control"}),
}
REGISTER_KEEPERS = {
    "suppliers": frozenset({"admin", "qmr", "procurement"}),
    "requirements": frozenset({"admin", "qmr"}),
    "communications": frozenset({"admin", "qmr", "operations_manager", "team_leader"}),
    "preservation": frozenset({"admin", "qmr", "operations_manager", "team_leader"}),
    "tools": frozenset({"admin", "qmr", "quality_control"}),
}
# A corrective action request is verified by the quality side, not by procurement itself.
SUPPLIER_VERIFIERS = frozenset({"admin", "qmr"})
# Records of every site; the other readers see their own site's rows only.
ALL_SITES_ROLES = frozenset({"admin", "qmr", "director", "procurement", "quality_control"})
REPORT_READERS = OVERSIGHT_ROLES | SITE_CASE_ROLES
PACK_MAKERS = frozenset({"admin", "qmr", "quality_control"})
PACK_READERS = PACK_MAKERS | {"director", "client_liaison"}


def records_site(user: User) -> str | None:
    """The one site a user's record views are bound to, or None for every site."""
    if ALL_SITES_ROLES & user.role_keys:
        return None
    return user.site or "-"  # a site-held reader without a site sees no site's rows


def may_read_register(user: User, name: str) -> bool:
    return user.active and bool(REGISTER_READERS.get(name, frozenset()) & user.role_keys)


def check_may_read_register(user: User, name: str) -> None:
    if name not in REGISTER_READERS:
        raise NotFound(f"no register named {name!r}")
    if not may_read_register(user, name):
        raise NotAuthorized(f"{user.username} may not read the {name} register")


def check_may_keep_register(user: User, name: str, site: str | None = None) -> None:
    """Add or follow up a row: the register's keepers, at their own site if site-bound."""
    if not (user.active and REGISTER_KEEPERS.get(name, frozenset()) & user.role_keys):
        raise NotAuthorized(f"{user.username} may not change the {name} register")
    bound = records_site(user)
    if bound is not None and site != bound:
        raise NotAuthorized(f"{user.username} may change only {bound}'s rows of the {name} register")


def check_may_verify_supplier_action(user: User) -> None:
    if not (user.active and SUPPLIER_VERIFIERS & user.role_keys):
        raise NotAuthorized(f"{user.username} may not verify a supplier corrective action")


def may_see_agent(user: User, agent_code: str, agent_site: str | None) -> bool:
    """An agent's page: the agent, the agent's site's leaders and managers, the oversight roles."""
    if not user.active:
        return False
    if user.agent_code and user.agent_code == agent_code:
        return True
    if OVERSIGHT_ROLES & user.role_keys:
        return True
    return bool(SITE_CASE_ROLES & user.role_keys) and user.site is not None and user.site == agent_site


def check_may_read_reports(user: User) -> None:
    if not (user.active and REPORT_READERS & user.role_keys):
        raise NotAuthorized(f"{user.username} may not read the quality reports")


def may_make_packs(user: User) -> bool:
    return user.active and bool(PACK_MAKERS & user.role_keys)


def check_may_read_packs(user: User) -> None:
    if not (user.active and PACK_READERS & user.role_keys):
        raise NotAuthorized(f"{user.username} may not read evidence packs")


def check_may_make_packs(user: User, site: str | None) -> None:
    if not may_make_packs(user):
        raise NotAuthorized(f"{user.username} may not make evidence packs")
    bound = records_site(user)
    if bound is not None and site != bound:
        raise NotAuthorized(f"{user.username} may make packs of {bound} only")
