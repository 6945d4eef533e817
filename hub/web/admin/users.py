"""Admin pages for user accounts: list, create with role and scope, edit, disable/enable, reset password, unlock.

Every change is written with its audit entry in the same transaction.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from hub.core import auth
from hub.core.area_tree import GROUP, ScopeError, Tree, load_tree, node_scope
from hub.core.areas import area_names
from hub.core.audit import record_change
from hub.core.db import User, WebSession
from hub.web.access import Perm, principal, requires
from hub.web.admin.common import (
    FormError,
    admin_page,
    field,
    known_communes,
    optional,
    refuse,
    rejected,
    see_other,
)
from hub.web.context import ctx
from hub.web.errors import not_found
from hub.web.render import ROLE_LABELS

PAGE_LIMIT = 500


def user_record(u: User) -> dict[str, Any]:
    return {
        "username": u.username,
        "full_name": u.full_name,
        "role": u.role,
        "district": u.district,
        "commune": u.commune,
        "area_id": u.area_id,
        "disabled": u.disabled,
    }


@dataclass(frozen=True)
class UserFields:
    full_name: str | None
    role: str
    district: str | None
    commune: str | None
    area_id: int | None = None  # a node of the area tree (a grouping); district/commune follow from it


def check_scope(
    role: str, district: str | None, commune: str | None, names: dict[tuple[str, str], str]
) -> None:
    """A role's scope must fit the role and name areas that exist."""
    if role == "admin" and (district or commune):
        raise FormError("Phạm vi: quản trị viên luôn có phạm vi toàn tỉnh; hãy để trống huyện và xã")
    if role in ("officer", "approver") and not commune:
        raise FormError(f"Phạm vi: vai trò {ROLE_LABELS[role]} cần chọn một xã")
    if commune and not district:
        raise FormError("Phạm vi: chọn xã thì phải chọn huyện")
    if district and not any(d == district for d, _ in names):
        raise FormError(f"Phạm vi: huyện {district!r} chưa có trong danh mục địa bàn")
    if commune and (district or "", commune) not in known_communes(names):
        raise FormError(f"Phạm vi: xã {commune!r} không thuộc huyện {district!r} trong danh mục địa bàn")


def read_fields(form: Any, names: dict[tuple[str, str], str], tree: Tree | None = None) -> UserFields:
    role = field(form, "role", "Vai trò", max_len=32)
    if role not in auth.ROLES:
        raise FormError(f"Vai trò {role!r} không hợp lệ")
    scope = optional(form, "scope", "Phạm vi", max_len=130)
    province = scope == PROVINCE
    if not scope:
        raise FormError("Phạm vi: hãy chọn một địa bàn, hoặc chọn rõ “Toàn tỉnh”")
    if scope.startswith(NODE) and tree is not None:
        try:
            node_id = int(scope.removeprefix(NODE))
            d, c = node_scope(tree, node_id)
        except (ValueError, ScopeError) as exc:
            raise FormError(f"Phạm vi: {exc}") from None
        fields = UserFields(optional(form, "full_name", "Họ tên"), role, d, c, node_id)
        check_scope(role, d, c, names)
        return fields
    district, _, commune = ("" if province else scope).partition("/")
    fields = UserFields(optional(form, "full_name", "Họ tên"), role, district or None, commune or None)
    check_scope(role, fields.district, fields.commune, names)
    return fields


PROVINCE = "province"  # the scope field's explicit "whole province" (an empty field is an error, not this)
NODE = "node:"  # a grouping of the area tree (a former district, a police cluster): "node:{id}"


def _scope_choices(names: dict[tuple[str, str], str], tree: Tree | None = None) -> list[dict[str, str]]:
    out = [{"value": "", "label": "— Chọn phạm vi —"}, {"value": PROVINCE, "label": "Toàn tỉnh"}]
    for n in tree.nodes.values() if tree is not None else ():
        if n.level == GROUP:
            out.append({"value": f"{NODE}{n.id}", "label": f"Cụm: {tree.path_label(n.id)}"})  # type: ignore[union-attr]
    for (d, c), name in sorted(names.items()):
        if c:
            out.append({"value": f"{d}/{c}", "label": f"{names.get((d, ''), d)} › {name}"})
        else:
            out.append({"value": d, "label": name})
    return out


def _list_users(s: Session, role: str | None, q: str | None) -> list[dict[str, Any]]:
    stmt = select(User).order_by(User.username).limit(PAGE_LIMIT)
    if role:
        stmt = stmt.where(User.role == role)
    if q:
        like = f"%{q}%"
        stmt = stmt.where(or_(User.username.ilike(like), User.full_name.ilike(like)))
    return [
        {
            **user_record(u),
            "locked_until": u.locked_until,
            "failed_logins": u.failed_logins,
            "created_at": u.created_at,
        }
        for u in s.scalars(stmt)
    ]


async def _users_page(request: web.Request, status: int = 200, **values: Any) -> web.Response:
    c = ctx(request)
    role = request.query.get("role") or None
    q = (request.query.get("q") or "").strip()[:100] or None

    def load(s: Session) -> tuple[list[dict[str, Any]], dict[tuple[str, str], str], Tree]:
        return _list_users(s, role if role in auth.ROLES else None, q), area_names(s, c.config), load_tree(s)

    users, names, tree = await c.db.run(load)
    values.setdefault("form", {})
    return admin_page(
        request,
        "admin_users.html",
        status=status,
        users=users,
        roles=auth.ROLES,
        scopes=_scope_choices(names, tree),
        area_names={f"{d}/{cm}" if cm else d: n for (d, cm), n in names.items()},
        filter_role=role or "",
        filter_q=q or "",
        now=c.clock(),
        **values,
    )


@requires(Perm.MANAGE_USERS)
async def admin_index(request: web.Request) -> web.StreamResponse:
    return see_other("/admin/users")


@requires(Perm.MANAGE_USERS)
async def users_page(request: web.Request) -> web.StreamResponse:
    return await _users_page(request)


async def _hash(request: web.Request, password: str) -> str:
    async with ctx(request).hash_slots:
        return await asyncio.to_thread(auth.hash_password, password)


@requires(Perm.MANAGE_USERS)
async def create_user(request: web.Request) -> web.StreamResponse:
    c, p = ctx(request), principal(request)
    form = await request.post()
    try:
        username = field(form, "username", "Tên đăng nhập", max_len=64).lower()
        password = field(form, "password", "Mật khẩu", max_len=auth.MAX_PASSWORD_LENGTH)
        auth.check_password_rules(password, username)
        names, tree = await c.db.run(lambda s: (area_names(s, c.config), load_tree(s)))
        f = read_fields(form, names, tree)
        auth.validate_user_fields(username, f.role, f.district, f.commune)
    except (FormError, auth.AuthError) as exc:
        rejected(request, "user_create", str(exc))
        kept = {k: v for k, v in form.items() if k not in ("password", "csrf") and isinstance(v, str)}
        return await _users_page(request, 400, error=str(exc), form=kept)
    pw_hash = await _hash(request, password)
    now = c.clock()

    def create(s: Session) -> None:
        u = auth.add_user(
            s,
            username,
            pw_hash,
            f.role,
            district=f.district,
            commune=f.commune,
            full_name=f.full_name,
            now=now,
        )
        u.area_id = f.area_id
        record_change(
            s, actor=p.username, action="user.create", target=f"user:{username}", now=now,
            after=user_record(u), district=u.district, commune=u.commune,
        )  # fmt: skip

    try:
        await c.db.run(create)
    except auth.AuthError as exc:
        rejected(request, "user_create", str(exc))
        kept = {k: v for k, v in form.items() if k not in ("password", "csrf") and isinstance(v, str)}
        return await _users_page(request, 400, error=str(exc), form=kept)
    return see_other(f"/admin/users/{username}?msg=user_created")


def _get(s: Session, username: str) -> User:
    u = auth.get_user(s, username)
    if u is None:
        raise not_found(f"Không có người dùng {username!r}")
    return u


async def _user_page(request: web.Request, status: int = 200, error: str | None = None) -> web.Response:
    c = ctx(request)
    username = request.match_info["username"]

    def load(s: Session) -> tuple[dict[str, Any], dict[tuple[str, str], str], int, Tree]:
        u = _get(s, username)
        rec = {**user_record(u), "locked_until": u.locked_until, "failed_logins": u.failed_logins}
        sessions = len(s.scalars(select(WebSession.id_hash).where(WebSession.user_id == u.id)).all())
        return rec, area_names(s, c.config), sessions, load_tree(s)

    user, names, sessions, tree = await c.db.run(load)
    scope = f"{user['district']}/{user['commune']}" if user["commune"] else (user["district"] or PROVINCE)
    if user["area_id"] is not None and not user["commune"] and user["district"]:
        scope = f"{NODE}{user['area_id']}"
    return admin_page(
        request,
        "admin_user.html",
        status=status,
        user=user,
        scope=scope,
        sessions=sessions,
        roles=auth.ROLES,
        scopes=_scope_choices(names, tree),
        error=error,
        now=c.clock(),
        is_self=user["username"] == principal(request).username,
    )


@requires(Perm.MANAGE_USERS)
async def user_page(request: web.Request) -> web.StreamResponse:
    return await _user_page(request)


def _change(request: web.Request, action: str, mutate: Any, now: datetime) -> Any:
    """A SQL function that applies `mutate(s, user)` and audits the record before and after."""
    p = principal(request)
    username = request.match_info["username"]

    def run(s: Session) -> None:
        u = _get(s, username)
        before = user_record(u)
        mutate(s, u)
        s.flush()
        after = user_record(u)
        record_change(
            s, actor=p.username, action=action, target=f"user:{username}", now=now, before=before,
            after=after, district=u.district, commune=u.commune,
        )  # fmt: skip

    return run


@requires(Perm.MANAGE_USERS)
async def save_user(request: web.Request) -> web.StreamResponse:
    c, p = ctx(request), principal(request)
    username = request.match_info["username"]
    form = await request.post()
    try:
        names, tree = await c.db.run(lambda s: (area_names(s, c.config), load_tree(s)))
        f = read_fields(form, names, tree)
        if username == p.username and f.role != "admin":
            raise FormError("Không thể tự bỏ vai trò quản trị của chính mình (nhờ một quản trị viên khác)")
    except FormError as exc:
        return await refuse(request, "user_edit", str(exc), _user_page)

    def mutate(s: Session, u: User) -> None:
        u.full_name, u.role, u.district, u.commune = f.full_name, f.role, f.district, f.commune
        u.area_id = f.area_id

    await c.db.run(_change(request, "user.update", mutate, c.clock()))
    return see_other(f"/admin/users/{username}?msg=user_saved")


def _end_sessions(s: Session, u: User, now: datetime) -> None:
    s.execute(delete(WebSession).where(WebSession.user_id == u.id))
    auth.revoke_user_tokens(s, u.id, now)  # re-enabling the account must not bring them back


@requires(Perm.MANAGE_USERS)
async def set_disabled(request: web.Request) -> web.StreamResponse:
    c, p = ctx(request), principal(request)
    username = request.match_info["username"]
    disable = request.match_info["what"] == "disable"
    if disable and username == p.username:
        rejected(request, "user_disable", "self")
        return await _user_page(request, 400, "Không thể tự khoá tài khoản của chính mình")

    now = c.clock()
    ended: list[int] = []

    def mutate(s: Session, u: User) -> None:
        u.disabled = disable
        if disable:
            _end_sessions(s, u, now)
            ended.append(u.id)

    await c.db.run(_change(request, "user.disable" if disable else "user.enable", mutate, now))
    for uid in ended:
        c.end_streams(uid)
    return see_other(f"/admin/users/{username}?msg={'user_disabled' if disable else 'user_enabled'}")


@requires(Perm.MANAGE_USERS)
async def unlock_user(request: web.Request) -> web.StreamResponse:
    c = ctx(request)
    username = request.match_info["username"]

    def mutate(s: Session, u: User) -> None:
        u.failed_logins = 0
        u.locked_until = None

    await c.db.run(_change(request, "user.unlock", mutate, c.clock()))
    return see_other(f"/admin/users/{username}?msg=user_unlocked")


@requires(Perm.MANAGE_USERS)
async def reset_password(request: web.Request) -> web.StreamResponse:
    c = ctx(request)
    username = request.match_info["username"]
    form = await request.post()
    try:
        password = field(form, "password", "Mật khẩu mới", max_len=auth.MAX_PASSWORD_LENGTH)
        auth.check_password_rules(password, username)
    except (FormError, auth.AuthError) as exc:
        return await refuse(request, "password_reset", str(exc), _user_page)
    pw_hash = await _hash(request, password)

    now = c.clock()
    ended: list[int] = []

    def mutate(s: Session, u: User) -> None:
        auth.set_password(s, u.username, pw_hash, now)  # also ends the user's sessions and API tokens
        ended.append(u.id)

    await c.db.run(_change(request, "user.password_reset", mutate, now))
    for uid in ended:
        c.end_streams(uid)
    return see_other(f"/admin/users/{username}?msg=password_reset")


USERNAME = r"{username:[a-z0-9][a-z0-9._-]{1,63}}"


def add_routes(app: web.Application) -> None:
    app.router.add_get("/admin", admin_index)
    app.router.add_get("/admin/users", users_page)
    app.router.add_post("/admin/users", create_user)
    app.router.add_get(f"/admin/users/{USERNAME}", user_page)
    app.router.add_post(f"/admin/users/{USERNAME}", save_user)
    app.router.add_post(f"/admin/users/{USERNAME}/{{what:disable|enable}}", set_disabled)
    app.router.add_post(f"/admin/users/{USERNAME}/unlock", unlock_user)
    app.router.add_post(f"/admin/users/{USERNAME}/password", reset_password)
