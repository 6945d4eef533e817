"""Login and logout pages. Failures slow down the (account, address) pair that makes them and are limited per
client address; no account is ever locked by them (a stranger must not be able to lock out a named user)."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from datetime import datetime
from urllib.parse import urlsplit

from aiohttp import web
from sqlalchemy.orm import Session

from hub.core import auth
from hub.core.audit import record_change
from hub.web.access import principal, public, signed_in
from hub.web.context import PRINCIPAL, ctx
from hub.web.home import home_for_role
from hub.web.render import render
from hub.web.security import LOGIN_CSRF_COOKIE, SESSION_COOKIE

log = logging.getLogger("hub.web.login")
BAD_CREDENTIALS = "Sai tên đăng nhập hoặc mật khẩu"


def safe_next(value: str | None) -> str:
    """Only a path on this site is followed after login (no open redirect). Checked as a browser reads the
    Location header: it drops tabs and newlines, treats a backslash as a slash and decodes nothing, so
    "/\\evil", "/\t/evil" or "//evil" would all leave the site. Percent-encoded slashes and backslashes
    are refused too, for any layer in front that decodes them."""
    if not value or len(value) > 2000:
        return "/"
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value) or "\\" in value:
        return "/"
    if not value.startswith("/") or value.startswith("//"):
        return "/"
    lowered = value.lower()
    if any(enc in lowered for enc in ("%2f", "%5c", "%09", "%0a", "%0d", "%00")):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    return value


def after_login(next_value: str | None, role: str | None) -> str:
    """A valid `next`, else the user's home ("/", what the form carries when nothing was asked, counts as none)."""
    wanted = safe_next(next_value)
    return wanted if wanted != "/" or role is None else home_for_role(role)


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
    if (p := request.get(PRINCIPAL)) is not None:
        raise web.HTTPSeeOther(after_login(request.query.get("next"), p.role))
    return _login_page(request)


def _slow_message(wait: float) -> str:
    if wait < 90:
        return f"Đăng nhập sai nhiều lần từ máy này; thử lại sau {max(1, round(wait))} giây"
    return f"Đăng nhập sai nhiều lần từ máy này; thử lại sau khoảng {round(wait / 60)} phút"


def _too_many(request: web.Request, wait: float, username: str) -> web.Response:
    resp = _login_page(request, _slow_message(wait), 429, username)
    resp.headers["Retry-After"] = str(max(1, int(wait + 0.999)))
    return resp


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
    client = c.client(request)
    now = c.clock()
    mono = time.monotonic()
    # Per address, shared by every hub (SQL); per account and address, this hub (hub/web/ratelimit.py).
    wait = await c.db.run(lambda s: c.limiter.retry_after(s, client, now))
    if wait is not None:
        c.count("login_rate_limited")
        log.warning("login rate-limited for %s", client)
        return _too_many(request, wait, username)
    wait = c.slowdown.retry_after(username, client, mono)
    if wait is not None:
        # Refused before any password check, and not counted again: the wait does not grow while waiting.
        c.count("login_slowed")
        return _too_many(request, wait, username)

    cand = await c.db.run(lambda s: auth.login_candidate(s, username, now))
    async with c.hash_slots:
        ok = await asyncio.to_thread(auth.verify_password, cand.password_hash, password)
        new_hash = None
        if ok and cand.password_hash and auth.needs_rehash(cand.password_hash):
            new_hash = await asyncio.to_thread(auth.hash_password, password)
    if not ok or cand.user_id is None:
        # Unknown names are slowed the same way: the answer must not tell which names exist.
        slowed = c.slowdown.failed(username, client, time.monotonic())
        c.count("login_failed")
        failed_id = cand.user_id

        def failure(s: Session) -> None:
            c.limiter.failed(s, client, now)
            if failed_id is not None:
                auth.record_login_failure(s, failed_id, now)
            _audit_failure(s, username if failed_id is not None else None, client, now, "bad_password")

        await c.db.run(failure)
        # An unknown name is not logged: it is often a password typed into the wrong field.
        who = repr(username) if failed_id is not None else "an unknown user"
        log.warning("failed login for %s from %s (next try in %.0f s)", who, client, slowed)
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
    c.slowdown.succeeded(username, client)
    c.count("login_ok")
    log.info("login %r from %s", username, client)
    resp = redirect(after_login(str(form.get("next", "")) or None, cand.role))
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
