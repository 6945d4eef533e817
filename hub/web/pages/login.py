"""Login and logout pages. Failures are limited per client address and lock the account after repeats."""

from __future__ import annotations

import asyncio
import logging
import secrets
from datetime import datetime

from aiohttp import web
from sqlalchemy.orm import Session

from hub.core import auth
from hub.core.audit import record_change
from hub.core.labels import local_time
from hub.web.access import principal, public, signed_in
from hub.web.client_address import request_client
from hub.web.context import PRINCIPAL, ctx
from hub.web.render import render
from hub.web.security import LOGIN_CSRF_COOKIE, SESSION_COOKIE

log = logging.getLogger("hub.web.login")
BAD_CREDENTIALS = "Sai tên đăng nhập hoặc mật khẩu"


def safe_next(value: str | None) -> str:
    """Only a local path is followed after login (no open redirect to another site)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def redirect(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


def _login_page(
    request: web.Request, error: str | None = None, status: int = 200, username: str = ""
) -> web.Response:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
    resp = render(
        request,
        "login.html",
        status=status,
        error=error,
        login_csrf=token,
        username=username,
        next=safe_next(request.query.get("next")),
    )
    resp.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="Strict",
        secure=ctx(request).config.http.secure_cookies,
        path="/login",
    )
    return resp


def _audit_failure(s: Session, username: str | None, client: str, now: datetime, reason: str) -> None:
    """A failed login in the audit log. An unknown name is not written: people type passwords into it."""
    record_change(
        s,
        actor=username or "?",
        action="auth.login_failed",
        target=f"user:{username or '?'}",
        now=now,
        after={"client": client, "reason": reason if username else "unknown_user"},
    )


@public
async def login_form(request: web.Request) -> web.StreamResponse:
    if request.get(PRINCIPAL) is not None:
        raise web.HTTPSeeOther(safe_next(request.query.get("next")))
    return _login_page(request)


def _lock_message(until: datetime, request: web.Request) -> str:
    return f"Tài khoản tạm khoá do đăng nhập sai nhiều lần; thử lại sau {local_time(until, ctx(request).tz)}"


@public
async def login_submit(request: web.Request) -> web.StreamResponse:
    c = ctx(request)
    form = await request.post()
    username = str(form.get("username", "")).strip().lower()
    password = str(form.get("password", ""))
    cookie_token = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not cookie_token or not auth.csrf_matches(cookie_token, str(form.get("csrf", ""))):
        c.count("login_rejected_csrf")
        return _login_page(request, "Phiên đăng nhập đã hết hạn; vui lòng thử lại", 403, username)
    if not username or not password or len(username) > 64 or len(password) > auth.MAX_PASSWORD_LENGTH:
        c.count("login_rejected_input")
        return _login_page(request, "Hãy nhập tên đăng nhập và mật khẩu", 400, username)
    client = request_client(request, c.config.http.trusted_proxies)
    now = c.clock()
    wait = await c.db.run(lambda s: c.limiter.retry_after(s, client, now))
    if wait is not None:
        c.count("login_rate_limited")
        log.warning("login rate-limited for %s", client)
        minutes = max(1, round(wait / 60))
        resp = _login_page(
            request, f"Quá nhiều lần đăng nhập sai; thử lại sau khoảng {minutes} phút", 429, username
        )
        resp.headers["Retry-After"] = str(int(wait))
        return resp

    cand = await c.db.run(lambda s: auth.login_candidate(s, username, now))
    if cand.locked_until is not None:
        c.count("login_locked")

        def locked_out(s: Session) -> None:
            c.limiter.failed(s, client, now)
            _audit_failure(s, username, client, now, "locked")

        await c.db.run(locked_out)
        return _login_page(request, _lock_message(cand.locked_until, request), 403, username)
    async with c.hash_slots:
        ok = await asyncio.to_thread(auth.verify_password, cand.password_hash, password)
        new_hash = None
        if ok and cand.password_hash and auth.needs_rehash(cand.password_hash):
            new_hash = await asyncio.to_thread(auth.hash_password, password)
    if not ok or cand.user_id is None:
        c.count("login_failed")
        failed_id = cand.user_id

        def failure(s: Session) -> datetime | None:
            c.limiter.failed(s, client, now)
            until = auth.record_login_failure(s, failed_id, now) if failed_id is not None else None
            _audit_failure(
                s,
                username if failed_id is not None else None,
                client,
                now,
                "locked_now" if until else "bad_password",
            )
            return until

        locked = await c.db.run(failure)
        # An unknown name is not logged: it is often a password typed into the wrong field.
        who = repr(username) if failed_id is not None else "an unknown user"
        log.warning("failed login for %s from %s%s", who, client, " (account locked)" if locked else "")
        if locked is not None:
            return _login_page(request, _lock_message(locked, request), 403, username)
        return _login_page(request, BAD_CREDENTIALS, 401, username)

    user_id = cand.user_id
    old_cookie = request.cookies.get(SESSION_COOKIE)
    hours = c.config.http.session_hours

    def start(s: Session) -> tuple[str, str]:
        if old_cookie:
            auth.delete_session(s, old_cookie)
        auth.record_login_success(s, user_id, new_hash)
        record_change(
            s,
            actor=username,
            action="auth.login",
            target=f"user:{username}",
            now=now,
            after={"client": client},
        )
        return auth.create_session(s, user_id, now, hours)

    cookie, _csrf = await c.db.run(start)
    c.count("login_ok")
    log.info("login %r from %s", username, client)
    resp = redirect(safe_next(str(form.get("next", "")) or None))
    resp.set_cookie(
        SESSION_COOKIE,
        cookie,
        httponly=True,
        samesite="Lax",
        secure=c.config.http.secure_cookies,
        path="/",
        max_age=int(hours * 3600),
    )
    resp.del_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return resp


@signed_in
async def logout(request: web.Request) -> web.StreamResponse:
    c = ctx(request)
    p = principal(request)
    cookie = request.cookies.get(SESSION_COOKIE)
    now = c.clock()

    def end(s: Session) -> None:
        if cookie:
            auth.delete_session(s, cookie)
        record_change(s, actor=p.username, action="auth.logout", target=f"user:{p.username}", now=now)

    await c.db.run(end)
    log.info("logout %r", p.username)
    resp = redirect("/login")
    resp.del_cookie(SESSION_COOKIE, path="/")
    return resp
