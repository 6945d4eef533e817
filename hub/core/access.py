"""Who may do what, and which districts/communes they see: the permissions, the roles matrix and scope checks.

Back-end code (alert queries, broadcast content) and the web layer share this model; the web's route
declarations (`@requires`, `@public`) live in hub/web/access.py. Scope is enforced in SQL through
`scope_where` and in memory through `in_scope`, never only by hiding menu entries.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, and_, false, true, tuple_

from hub.core.auth import ROLES, Principal

SIGNED_IN = "signed_in"  # any authenticated user, whatever the role (logout, /me)


class Perm(StrEnum):
    VIEW_CAMERAS = "cameras.view"
    VIEW_AGENTS = "agents.view"
    VIEW_STATS = "stats.view"
    VIEW_REPORTS = "reports.view"  # camera uptime reports and exports
    COMMAND_DEVICES = "devices.command"  # snapshot/probe/reload/relearn to edge agents
    VIEW_ALERTS = "alerts.view"  # alerts, silences, maintenance windows, the notification outbox
    ACK_ALERTS = "alerts.ack"
    SILENCE_ALERTS = "alerts.silence"  # silences and maintenance windows
    EDIT_ALERT_RULES = "alerts.rules"  # per-district rule settings and routing
    VIEW_SPEAKERS = "speakers.view"
    CONTROL_SPEAKERS = "speakers.control"  # stop, volume
    VIEW_BROADCASTS = "broadcasts.view"  # programmes, calendar, content, delivery reports
    EDIT_BROADCASTS = "broadcasts.edit"  # record/upload content, create and edit programmes
    APPROVE_BROADCASTS = "broadcasts.approve"
    AIR_EMERGENCY = "broadcasts.emergency"  # air an emergency programme at once, reviewed afterwards
    SUBMIT_BULLETINS = "bulletins.submit"  # the province's information source system hands in bulletins
    MANAGE_USERS = "users.manage"
    MANAGE_DEVICES = "devices.manage"  # areas, villages, device registry, CSV import
    VIEW_AUDIT = "audit.view"


# The roles matrix (issue 7). Scope (district / commune) comes from the user record and is applied on top by
# scope_where / in_scope; this table says only what a role may do inside its scope.
ROLE_PERMS: dict[str, frozenset[Perm]] = {
    "admin": frozenset(Perm),
    "police": frozenset(
        {
            Perm.VIEW_CAMERAS,
            Perm.VIEW_AGENTS,
            Perm.VIEW_REPORTS,
            Perm.VIEW_ALERTS,
            Perm.ACK_ALERTS,
            Perm.SILENCE_ALERTS,
        }
    ),
    # bulletins.submit: a province-wide officer account holds the token the province's system uses; it only
    # lands drafts that an approver still has to approve, as an officer could make by hand.
    "officer": frozenset(
        {Perm.VIEW_SPEAKERS, Perm.VIEW_BROADCASTS, Perm.EDIT_BROADCASTS, Perm.SUBMIT_BULLETINS}
    ),
    "approver": frozenset(
        {
            Perm.VIEW_SPEAKERS,
            Perm.CONTROL_SPEAKERS,
            Perm.VIEW_BROADCASTS,
            Perm.APPROVE_BROADCASTS,
            Perm.AIR_EMERGENCY,
        }
    ),
    "technician": frozenset(
        {
            Perm.VIEW_CAMERAS,
            Perm.VIEW_AGENTS,
            Perm.VIEW_STATS,
            Perm.COMMAND_DEVICES,
            Perm.VIEW_SPEAKERS,
            Perm.CONTROL_SPEAKERS,
            Perm.VIEW_ALERTS,
        }
    ),
    # Province or commune leaders: what the police and the broadcasters see, nothing they may change.
    "leader": frozenset(
        {
            Perm.VIEW_CAMERAS,
            Perm.VIEW_REPORTS,
            Perm.VIEW_ALERTS,
            Perm.VIEW_SPEAKERS,
            Perm.VIEW_BROADCASTS,
        }
    ),
}
# Every permission that changes something; read-only roles hold none (tests walk the router with them).
WRITE_PERMS: frozenset[Perm] = frozenset(Perm) - {
    Perm.VIEW_CAMERAS,
    Perm.VIEW_AGENTS,
    Perm.VIEW_STATS,
    Perm.VIEW_REPORTS,
    Perm.VIEW_ALERTS,
    Perm.VIEW_SPEAKERS,
    Perm.VIEW_BROADCASTS,
    Perm.VIEW_AUDIT,
}
READ_ONLY_ROLES = frozenset(r for r, perms in ROLE_PERMS.items() if not perms & WRITE_PERMS)
assert set(ROLE_PERMS) == set(ROLES)


def has_perm(p: Principal, perm: Perm | str) -> bool:
    if perm == SIGNED_IN:
        return p.role in ROLE_PERMS
    return perm in ROLE_PERMS.get(p.role, frozenset())


def perms_of(p: Principal) -> list[str]:
    return sorted(str(x) for x in ROLE_PERMS.get(p.role, frozenset()))


def province_wide(p: Principal) -> bool:
    return p.role == "admin" or (p.district is None and p.areas is None)


def in_scope(p: Principal, district: str, commune: str) -> bool:
    if province_wide(p):
        return True
    if p.areas is not None:
        return (district, commune) in p.areas
    if district != p.district:
        return False
    return p.commune is None or commune == p.commune


def scope_where(p: Principal, district_col: Any, commune_col: Any) -> ColumnElement[bool]:
    """SQL condition limiting rows to the caller's scope (always true for province-wide users)."""
    if province_wide(p):
        return true()
    if p.areas is not None:
        # The communes under the user's area-tree node (a grouping need not follow district lines).
        return tuple_(district_col, commune_col).in_(sorted(p.areas)) if p.areas else false()
    cond: ColumnElement[bool] = district_col == p.district
    if p.commune is not None:
        cond = and_(cond, commune_col == p.commune)
    return cond
