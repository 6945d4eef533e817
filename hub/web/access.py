"""Route access declarations and the caller of a request.

Every route declares its access with `@requires(Perm.X)` or `@public`; the auth middleware refuses to run a
handler that declares neither (fail closed). The permission model itself (Perm, roles matrix, scope checks) is
hub/core/access.py; it is re-exported here so a web handler imports its access from one place.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web

from hub.core.access import (
    ROLE_PERMS,
    SIGNED_IN,
    Perm,
    has_perm,
    in_scope,
    perms_of,
    province_wide,
    scope_where,
)
from hub.core.auth import Principal
from hub.web.context import PRINCIPAL
from hub.web.errors import ApiError

__all__ = [
    "ACCESS_ATTR",
    "PUBLIC",
    "ROLE_PERMS",
    "SIGNED_IN",
    "Perm",
    "access_of",
    "has_perm",
    "in_scope",
    "perms_of",
    "principal",
    "province_wide",
    "public",
    "requires",
    "scope_where",
    "signed_in",
]

ACCESS_ATTR = "__ops_access__"
PUBLIC = "public"
F = TypeVar("F", bound=Callable[..., Any])


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


def principal(request: web.Request) -> Principal:
    """The authenticated caller; the middleware guarantees one for every non-public route."""
    p: Principal | None = request.get(PRINCIPAL)
    if p is None:
        raise ApiError(401, "unauthorized", "Cần đăng nhập")
    return p
