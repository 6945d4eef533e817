"""Who may do what, and which districts/communes they see.

Every route declares its access with `@requires(Perm.X)` or `@public`; the auth middleware refuses to run a
handler that declares neither (fail closed). Scope is enforced in SQL through `scope_where` and in memory
through `in_scope`, never only by hiding menu entries.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any, TypeVar

from aiohttp import web
from sqlalchemy import ColumnElement, and_, true

from hub.auth import ROLES, Principal
from hub.web.context import PRINCIPAL
from hub.web.errors import ApiError

ACCESS_ATTR = "__ops_access__"
PUBLIC = "public"
SIGNED_IN = "signed_in"  # any authenticated user, whatever the role (logout, /me)
F = TypeVar("F", bound=Callable[..., Any])


class Perm(StrEnum):
    VIEW_CAMERAS = "cameras.view"
    VIEW_AGENTS = "agents.view"
    VIEW_STATS = "stats.view"


# Initial matrix; the full roles matrix extends this table (one place, checked by the middleware).
ROLE_PERMS: dict[str, frozenset[Perm]] = {
    "admin": frozenset(Perm),
    "technician": frozenset({Perm.VIEW_CAMERAS, Perm.VIEW_AGENTS, Perm.VIEW_STATS}),
    "police": frozenset({Perm.VIEW_CAMERAS, Perm.VIEW_AGENTS}),
    "officer": frozenset({Perm.VIEW_CAMERAS}),
    "approver": frozenset({Perm.VIEW_CAMERAS}),
}
assert set(ROLE_PERMS) == set(ROLES)


def requires(perm: Perm) -> Callable[[F], F]:
    def mark(fn: F) -> F:
        setattr(fn, ACCESS_ATTR, perm)
        return fn

    return mark


def public(fn: F) -> F:
    setattr(fn, ACCESS_ATTR, PUBLIC)
    return fn


def signed_in(fn: F) -> F:
    setattr(fn, ACCESS_ATTR, SIGNED_IN)
    return fn


def access_of(handler: object) -> str | None:
    value = getattr(handler, ACCESS_ATTR, None)
    return value if isinstance(value, str) else None


def has_perm(p: Principal, perm: Perm | str) -> bool:
    if perm == SIGNED_IN:
        return p.role in ROLE_PERMS
    return perm in ROLE_PERMS.get(p.role, frozenset())


def perms_of(p: Principal) -> list[str]:
    return sorted(str(x) for x in ROLE_PERMS.get(p.role, frozenset()))


def principal(request: web.Request) -> Principal:
    """The authenticated caller; the middleware guarantees one for every non-public route."""
    p: Principal | None = request.get(PRINCIPAL)
    if p is None:
        raise ApiError(401, "unauthorized", "Cần đăng nhập")
    return p


def province_wide(p: Principal) -> bool:
    return p.role == "admin" or p.district is None


def in_scope(p: Principal, district: str, commune: str) -> bool:
    if province_wide(p):
        return True
    if district != p.district:
        return False
    return p.commune is None or commune == p.commune


def scope_where(p: Principal, district_col: Any, commune_col: Any) -> ColumnElement[bool]:
    """SQL condition limiting rows to the caller's scope (always true for province-wide users)."""
    if province_wide(p):
        return true()
    cond: ColumnElement[bool] = district_col == p.district
    if p.commune is not None:
        cond = and_(cond, commune_col == p.commune)
    return cond
