"""Authentication (session cookie or bearer token), access checks, CSRF and security headers."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.http import HttpProcessingError

from hub.core.auth import Principal, csrf_matches, load_session, read_token, touch_token
from hub.core.openapi import Handler
from hub.web.access import PUBLIC, access_of, has_perm
from hub.web.context import CSRF, PRINCIPAL, ctx
from hub.web.errors import ApiError, log

SESSION_COOKIE = "ops_session"
LOGIN_CSRF_COOKIE = "ops_login_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HSTS = "max-age=31536000"
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare hook: every response, streamed and static ones included."""
    for k, v in SECURITY_HEADERS.items():
        response.headers.setdefault(k, v)
    if ctx(request).config.http.secure_cookies:  # served over HTTPS: browsers must never fall back to HTTP
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    if "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = "no-store"


_touches: set[asyncio.Future[Any]] = set()


async def _authenticate(request: web.Request) -> tuple[Principal, str | None] | None:
    c = ctx(request)
    now = c.clock()
    auth = request.headers.get("Authorization")
    if auth is not None:
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "unauthorized", "Tiêu đề Authorization phải có dạng 'Bearer <token>'")
        token = token.strip()
        # Read beside the SQL thread: a script's request never waits behind ingest's flushes.
        read = await c.db.read(lambda s: read_token(s, token, now))
        if read is None:
            c.count("auth_bad_token")
            raise ApiError(401, "unauthorized", "Token không hợp lệ hoặc đã bị thu hồi")
        p, stale = read
        if stale and p.token_id is not None:
            token_id = p.token_id
            touch = asyncio.ensure_future(c.db.run(lambda s: touch_token(s, token_id, now)))
            _touches.add(touch)  # kept until done; last_used is a hint, not worth making the caller wait
            touch.add_done_callback(_touches.discard)
        return p, None
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        found = await c.db.read(lambda s: load_session(s, cookie, now))
        if found is not None:
            return found
    return None


def _origin_ok(request: web.Request) -> bool:
    """A browser sends Origin on unsafe requests; a cross-site one must not act with our cookie."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    host = urlsplit(origin).netloc
    public = urlsplit(ctx(request).config.http.public_url).netloc
    return host in (request.host, public)


async def _check_csrf(request: web.Request, expected: str) -> None:
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        try:
            form = await request.post()
        except (ValueError, HttpProcessingError):  # not the form it says it is
            raise ApiError(400, "bad_body", "Biểu mẫu gửi lên bị hỏng") from None
        value = form.get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    if not csrf_matches(expected, given):
        raise ApiError(403, "csrf_failed", "Thiếu hoặc sai mã chống giả mạo (CSRF); hãy tải lại trang")


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    route_error = request.match_info.http_exception
    access = access_of(request.match_info.handler)
    if access is None and route_error is None:
        log.error("route %s %s declares no access rule; refused", request.method, request.path)
        raise ApiError(500, "internal", "Tuyến này chưa khai báo quyền truy cập")
    if request.method not in SAFE_METHODS and not _origin_ok(request):
        raise ApiError(403, "csrf_failed", "Yêu cầu đến từ trang khác bị từ chối")
    found = await _authenticate(request)
    if found is not None:
        request[PRINCIPAL], csrf = found
        if csrf is not None:
            request[CSRF] = csrf
    if access == PUBLIC:
        return await handler(request)
    if found is None:
        raise ApiError(401, "unauthorized", "Cần đăng nhập")
    p, csrf = found
    if route_error is None and not has_perm(p, access or ""):
        raise ApiError(403, "forbidden", "Vai trò của bạn không được phép truy cập mục này")
    if request.method not in SAFE_METHODS and csrf is not None:
        await _check_csrf(request, csrf)
    return await handler(request)
