"""The signed-in user's own account: change password, see and end own sessions, create and revoke own API tokens.

A new token is shown once, in the response that created it (no-store), and never again: only its digest is kept.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from aiohttp import web
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from hub.core import auth
from hub.core.audit import record_change
from hub.core.db import ApiToken, User, WebSession
from hub.web.access import principal, signed_in
from hub.web.admin.common import NOTICES, FormError, field, see_other
from hub.web.context import ctx
from hub.web.errors import not_found
from hub.web.render import render
from hub.web.security import SESSION_COOKIE

log = logging.getLogger("hub.web.account")


def _current_hash(request: web.Request) -> str | None:
    cookie = request.cookies.get(SESSION_COOKIE)
    return auth.sha256_hex(cookie) if cookie and principal(request).via == "session" else None


async def _account_page(
    request: web.Request, status: int = 200, error: str | None = None, new_token: str | None = None
) -> web.Response:
    c, p = ctx(request), principal(request)
    current = _current_hash(request)
    now = c.clock()

    def load(s: Session) -> dict[str, Any]:
        sessions = s.scalars(
            select(WebSession)
            .where(WebSession.user_id == p.user_id, WebSession.expires_at > now)
            .order_by(WebSession.created_at.desc())
        )
        tokens = s.scalars(select(ApiToken).where(ApiToken.user_id == p.user_id).order_by(ApiToken.id.desc()))
        return {
            "sessions": [
                {"created_at": x.created_at, "expires_at": x.expires_at, "current": x.id_hash == current}
                for x in sessions
            ],
            "tokens": [
                {"id": t.id, "name": t.name, "prefix": t.prefix, "created_at": t.created_at,
                 "last_used": t.last_used, "revoked_at": t.revoked_at}
                for t in tokens
            ],
        }  # fmt: skip

    data = await c.db.run(load)
    return render(
        request,
        "account.html",
        status=status,
        error=error,
        notice=NOTICES.get(request.query.get("msg", "")) if status == 200 and not new_token else None,
        new_token=new_token,
        min_password=auth.MIN_PASSWORD_LENGTH,
        **data,
    )


@signed_in
async def account_page(request: web.Request) -> web.StreamResponse:
    return await _account_page(request)


@signed_in
async def change_password(request: web.Request) -> web.StreamResponse:
    c, p = ctx(request), principal(request)
    form = await request.post()
    client = c.client(request)
    try:
        current = field(form, "current", "Mật khẩu hiện tại", max_len=auth.MAX_PASSWORD_LENGTH)
        new = field(form, "new", "Mật khẩu mới", max_len=auth.MAX_PASSWORD_LENGTH)
        if new != str(form.get("confirm", "")):
            raise FormError("Mật khẩu nhập lại không khớp")
        if new == current:
            raise FormError("Mật khẩu mới phải khác mật khẩu hiện tại")
        auth.check_password_rules(new, p.username)
    except (FormError, auth.AuthError) as exc:
        c.count("password_change_rejected")
        return await _account_page(request, 400, str(exc))
    now = c.clock()
    mono = time.monotonic()
    if (
        await c.db.run(lambda s: c.limiter.retry_after(s, client, now)) is not None
        or c.slowdown.retry_after(p.username, client, mono) is not None
    ):
        c.count("password_change_rate_limited")
        return await _account_page(request, 429, "Quá nhiều lần nhập sai mật khẩu; hãy thử lại sau ít phút")
    stored = await c.db.run(lambda s: s.scalar(select(User.password_hash).where(User.id == p.user_id)))
    async with c.hash_slots:
        ok = await asyncio.to_thread(auth.verify_password, stored, current)
        new_hash = await asyncio.to_thread(auth.hash_password, new) if ok else ""
    if not ok:
        c.slowdown.failed(p.username, client, time.monotonic())
        c.count("password_change_wrong_current")

        def wrong(s: Session) -> None:
            c.limiter.failed(s, client, now)
            auth.record_login_failure(s, p.user_id, now)

        await c.db.run(wrong)
        log.warning("password change for %r refused: wrong current password", p.username)
        return await _account_page(request, 403, "Mật khẩu hiện tại không đúng")
    keep = _current_hash(request)

    def save(s: Session) -> None:
        user = s.get(User, p.user_id)
        if user is None:
            raise not_found("Tài khoản không còn tồn tại")
        user.password_hash = new_hash
        user.failed_logins = 0
        user.locked_until = None
        # Someone who knew the old password may hold a session: every other one ends now.
        stmt = delete(WebSession).where(WebSession.user_id == p.user_id)
        if keep is not None:
            stmt = stmt.where(WebSession.id_hash != keep)
        s.execute(stmt)
        auth.revoke_user_tokens(s, p.user_id, now)
        record_change(
            s, actor=p.username, action="user.password_change", target=f"user:{p.username}", now=now,
            district=p.district, commune=p.commune,
        )  # fmt: skip

    await c.db.run(save)
    c.end_streams(p.user_id)  # the page reconnects with the session it keeps
    log.info("password changed by %r", p.username)
    return see_other("/account?msg=password_changed")


@signed_in
async def end_other_sessions(request: web.Request) -> web.StreamResponse:
    c, p = ctx(request), principal(request)
    keep = _current_hash(request)
    now = c.clock()

    def end(s: Session) -> None:
        stmt = delete(WebSession).where(WebSession.user_id == p.user_id)
        if keep is not None:
            stmt = stmt.where(WebSession.id_hash != keep)
        n = s.execute(stmt).rowcount  # type: ignore[attr-defined]
        record_change(
            s, actor=p.username, action="session.end_others", target=f"user:{p.username}", now=now,
            after={"ended": int(n or 0)}, district=p.district, commune=p.commune,
        )  # fmt: skip

    await c.db.run(end)
    return see_other("/account?msg=sessions_ended")


@signed_in
async def create_token(request: web.Request) -> web.StreamResponse:
    c, p = ctx(request), principal(request)
    form = await request.post()
    try:
        name = field(form, "name", "Tên token", max_len=100)
    except FormError as exc:
        c.count("token_create_rejected")
        return await _account_page(request, 400, str(exc))
    now = c.clock()

    def make(s: Session) -> str:
        row, token = auth.create_token(s, p.username, name, now)
        record_change(
            s, actor=p.username, action="token.create", target=f"token:{row.id}", now=now,
            after={"name": row.name, "prefix": row.prefix, "user": p.username},
            district=p.district, commune=p.commune,
        )  # fmt: skip
        return token

    try:
        token = await c.db.run(make)
    except auth.AuthError as exc:
        return await _account_page(request, 400, str(exc))
    log.info("API token %r created by %r", name, p.username)
    return await _account_page(request, new_token=token)


@signed_in
async def revoke_token(request: web.Request) -> web.StreamResponse:
    c, p = ctx(request), principal(request)
    token_id = int(request.match_info["token_id"])
    now = c.clock()

    def revoke(s: Session) -> None:
        tok = s.get(ApiToken, token_id)
        if tok is None or tok.user_id != p.user_id:
            raise not_found("Không có token này trong tài khoản của bạn")
        if tok.revoked_at is not None:
            return
        auth.revoke_token(s, token_id, now)
        record_change(
            s, actor=p.username, action="token.revoke", target=f"token:{token_id}", now=now,
            before={"name": tok.name, "prefix": tok.prefix, "user": p.username},
            district=p.district, commune=p.commune,
        )  # fmt: skip

    await c.db.run(revoke)
    log.info("API token %d revoked by %r", token_id, p.username)
    return see_other("/account?msg=token_revoked")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/account", account_page)
    app.router.add_post("/account/password", change_password)
    app.router.add_post("/account/sessions/end-others", end_other_sessions)
    app.router.add_post("/account/tokens", create_token)
    app.router.add_post(r"/account/tokens/{token_id:\d{1,18}}/revoke", revoke_token)
