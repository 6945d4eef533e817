"""Authentication: argon2, lockout, rate limit, CSRF, cookie flags, session expiry, token revocation, headers."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import make_mocked_request

from hub.core import auth
from hub.core.db import User, WebSession
from hub.core.login_limits import LoginFailure
from hub.web.clientaddr import client_address as request_client_address
from hub.web.clientaddr import networks
from hub.web.pages.login import safe_next
from hub.web.ratelimit import AccountSlowdown, LoginRateLimiter
from hub.web.security import SESSION_COOKIE
from tests.fixtures_web import PASSWORD, T0, WebEnv


def test_argon2_hashes_and_password_rules() -> None:
    h = auth.hash_password("mot-mat-khau-dai")
    assert h.startswith("$argon2id$") and "mot-mat-khau-dai" not in h
    assert auth.verify_password(h, "mot-mat-khau-dai")
    assert not auth.verify_password(h, "mot-mat-khau-sai")
    assert not auth.verify_password(None, "mot-mat-khau-dai")
    assert not auth.verify_password("not-a-hash", "x")
    with pytest.raises(auth.AuthError, match="ít nhất 10"):
        auth.check_password_rules("ngan")
    with pytest.raises(auth.AuthError, match="trùng tên"):
        auth.check_password_rules("nguyenvana1", "NguyenVanA1")
    auth.check_password_rules("du-dai-roi-day")


def test_failures_never_lock_an_account() -> None:
    failed, locked = 0, None
    for _ in range(50):
        failed, locked = auth.next_failure_state(failed, locked, T0)
        assert locked is None
    assert failed == 50
    assert auth.next_failure_state(3, T0, T0) == (4, None)  # a lock left by an older hub lifts


def test_slowdown_per_account_and_address_doubles_and_forgets() -> None:
    sd = AccountSlowdown(free=3, max_delay_s=60, forget_s=600)
    assert [sd.failed("canbo", "1.2.3.4", 0.0) for _ in range(3)] == [0.0, 0.0, 1.0]
    assert sd.retry_after("canbo", "1.2.3.4", 0.5) == pytest.approx(0.5)
    assert sd.retry_after("canbo", "5.6.7.8", 0.5) is None  # another address: the owner's
    assert sd.retry_after("khac", "1.2.3.4", 0.5) is None  # another account from the same address
    waits = [sd.failed("canbo", "1.2.3.4", t) for t in (2.0, 5.0, 10.0, 20.0, 40.0, 100.0, 200.0)]
    assert waits == [2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]  # doubles, capped
    assert sd.retry_after("canbo", "1.2.3.4", 801.0) is None  # quiet long enough: forgotten
    sd.failed("canbo", "1.2.3.4", 900.0)
    sd.succeeded("canbo", "1.2.3.4")
    assert sd.retry_after("canbo", "1.2.3.4", 900.0) is None


async def test_rate_limiter_window_in_sql(web: WebEnv) -> None:
    rl = LoginRateLimiter(max_failures=3, window_s=60)

    def at(seconds: float) -> Any:
        return T0 + timedelta(seconds=seconds)

    with web.db.session() as s, s.begin():
        for t in (0.0, 1.0, 2.0):
            assert rl.retry_after(s, "a", at(t)) is None
            rl.failed(s, "a", at(t))
        assert rl.retry_after(s, "a", at(3.0)) == pytest.approx(57.0)
        assert rl.retry_after(s, "b", at(3.0)) is None
        assert rl.retry_after(s, "a", at(60.5)) is None  # the first failure left the window
        rl.failed(s, "a", at(61.0))  # those out of the window are deleted: the table stays small
        assert s.query(LoginFailure).filter_by(client="a").count() == 2


def client_address(peer: str, forwarded_for: str | None, trusted: list[str]) -> str:
    """The client the hub sees for a request from `peer` carrying this X-Forwarded-For (hub/web/clientaddr.py)."""
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for is not None else {}
    request = make_mocked_request("POST", "/login", headers=headers, transport=_Peer(peer))
    return request_client_address(request, networks(trusted))


class _Peer:
    def __init__(self, peer: str) -> None:
        self.peer = peer

    def get_extra_info(self, name: str, default: object = None) -> object:
        return (self.peer, 12345) if name == "peername" else default


def test_forwarded_for_only_from_a_trusted_proxy() -> None:
    trusted = ["10.0.0.0/24", "127.0.0.1"]
    assert client_address("198.51.100.7", "203.0.113.5", trusted) == "198.51.100.7"  # not a proxy: ignored
    assert client_address("127.0.0.1", "203.0.113.5", trusted) == "203.0.113.5"
    # The client may send its own X-Forwarded-For: only what the trusted proxies appended counts.
    assert client_address("127.0.0.1", "1.2.3.4, 203.0.113.5, 10.0.0.9", trusted) == "203.0.113.5"
    assert client_address("127.0.0.1", "not-an-address", trusted) == "127.0.0.1"
    assert client_address("127.0.0.1", None, trusted) == "127.0.0.1"
    assert client_address("127.0.0.1", "203.0.113.5", []) == "127.0.0.1"


async def test_rate_limit_follows_the_forwarded_client_behind_the_trusted_proxy(web: WebEnv) -> None:
    web.ctx.limiter = LoginRateLimiter(max_failures=2, window_s=300)

    async def attempt(forwarded: str) -> int:
        form = await web.client.get("/login")
        token = re.search(r'name="csrf" value="([^"]+)"', await form.text())
        assert token
        r = await web.client.post(
            "/login",
            data={"username": "ai-do", "password": "khong-dung-dau", "csrf": token.group(1)},
            headers={"X-Forwarded-For": forwarded},
            allow_redirects=False,
        )
        return r.status

    # No trusted proxy: the header is the client's own word, so every attempt counts against the peer.
    assert [await attempt(f"203.0.113.{i}") for i in (1, 2, 3)] == [401, 401, 429]
    with web.db.session() as s, s.begin():
        s.query(LoginFailure).delete()
    web.ctx.slowdown = (
        AccountSlowdown()
    )  # the per-account slowdown of the attempts above is not under test here
    web.ctx.config.http.trusted_proxies = ["127.0.0.1"]
    web.ctx.proxies = networks(["127.0.0.1"])
    assert [await attempt("203.0.113.5") for _ in range(3)] == [401, 401, 429]
    assert await attempt("203.0.113.6") == 401  # another client behind the same proxy


def test_only_local_redirects_after_login() -> None:
    assert safe_next("/cameras/a/b/c?x=1") == "/cameras/a/b/c?x=1"
    for evil in ("//evil.example/x", "https://evil.example", "/\\evil", "", None, "cameras"):
        assert safe_next(evil) == "/"


async def test_login_sets_safe_cookie_and_logout_needs_csrf(web: WebEnv) -> None:
    web.add_user("canbo", "police", district="soc-son")
    r = await web.login("canbo")
    assert r.status == 303 and r.headers["Location"] == "/"
    cookie = next(h for h in r.headers.getall("Set-Cookie") if h.startswith(SESSION_COOKIE + "="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie
    value = cookie.split(";")[0].split("=", 1)[1]
    with web.db.session() as s:
        row = s.get(WebSession, auth.sha256_hex(value))
        assert row is not None and s.query(WebSession).filter(WebSession.id_hash == value).count() == 0
    me = await web.client.get("/api/v1/me")
    assert me.status == 200 and (await me.json())["via"] == "session"

    # logout without the CSRF token is refused and the session survives
    r = await web.client.post("/logout", data={}, allow_redirects=False)
    assert r.status == 403 and "CSRF" in await r.text()
    r = await web.client.post("/logout", data={"csrf": "wrong"}, allow_redirects=False)
    assert r.status == 403
    assert (await web.client.get("/api/v1/me")).status == 200
    # a cross-site form post is refused even with the right token
    csrf = await web.page_csrf()
    r = await web.client.post(
        "/logout", data={"csrf": csrf}, headers={"Origin": "http://evil.example"}, allow_redirects=False
    )
    assert r.status == 403
    r = await web.client.post("/logout", data={"csrf": csrf}, allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == "/login"
    assert (await web.client.get("/api/v1/me")).status == 401
    with web.db.session() as s:
        assert s.query(WebSession).count() == 0


async def test_unsafe_api_request_with_session_needs_csrf_header(web: WebEnv) -> None:
    web.add_user("canbo", "admin")
    await web.login("canbo")
    csrf = await web.page_csrf()
    # no POST route exists under /api/v1 yet; the middleware checks CSRF before routing answers 405
    r = await web.client.post("/api/v1/cameras", json={})
    assert r.status == 403 and (await r.json())["error"]["code"] == "csrf_failed"
    r = await web.client.post("/api/v1/cameras", json={}, headers={"X-CSRF-Token": csrf})
    assert r.status == 405 and (await r.json())["error"]["code"] == "method_not_allowed"


async def test_login_form_needs_its_csrf_cookie(web: WebEnv) -> None:
    web.add_user("canbo", "police")
    r = await web.client.post(
        "/login", data={"username": "canbo", "password": PASSWORD, "csrf": "forged"}, allow_redirects=False
    )
    assert r.status == 403 and "hết hạn" in await r.text()
    assert (await web.client.get("/api/v1/me")).status == 401


async def test_secure_cookie_flag_follows_config(web: WebEnv) -> None:
    web.add_user("canbo", "police")
    form = await web.client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', await form.text())
    assert csrf
    web.ctx.config.http.secure_cookies = True  # (the login form's own cookie would not come back over http)
    r = await web.client.post(
        "/login",
        data={"username": "canbo", "password": PASSWORD, "csrf": csrf.group(1)},
        allow_redirects=False,
    )
    assert r.status == 303
    cookie = next(h for h in r.headers.getall("Set-Cookie") if h.startswith(SESSION_COOKIE + "="))
    assert "Secure" in cookie


async def test_many_failures_slow_the_address_and_never_lock_the_account(web: WebEnv) -> None:
    web.add_user("canbo", "police")
    for i in range(3):
        r = await web.login("canbo", "sai-mat-khau-" + str(i))
        assert r.status == 401 and "Sai tên đăng nhập hoặc mật khẩu" in await r.text()
    r = await web.login("canbo")  # the right password, too soon after from the same address
    assert r.status == 429 and int(r.headers["Retry-After"]) >= 1 and "thử lại sau" in await r.text()
    web.ctx.slowdown.succeeded("canbo", "127.0.0.1")  # the wait is over
    r = await web.login("canbo")
    assert r.status == 303
    with web.db.session() as s:
        u = s.query(User).filter_by(username="canbo").one()
        assert u.failed_logins == 0 and u.locked_until is None
    assert web.ctx.counters["login_failed"] == 3 and web.ctx.counters["login_slowed"] == 1


async def test_client_rate_limit_across_usernames(web: WebEnv) -> None:
    web.ctx.limiter = LoginRateLimiter(max_failures=3, window_s=300)
    for name in ("a1", "a2", "a3"):
        assert (await web.login(name, "khong-dung-dau")).status == 401
    r = await web.login("a4", "khong-dung-dau")
    assert r.status == 429 and int(r.headers["Retry-After"]) > 0
    assert "thử lại sau" in await r.text()


async def test_session_expires(web: WebEnv) -> None:
    web.add_user("canbo", "police")
    now = [T0]
    web.set_clock(lambda: now[0])
    await web.login("canbo")
    assert (await web.client.get("/api/v1/me")).status == 200
    now[0] = T0 + timedelta(hours=web.ctx.config.http.session_hours, seconds=1)
    assert (await web.client.get("/api/v1/me")).status == 401


async def test_token_auth_and_revocation(web: WebEnv) -> None:
    web.add_user("script", "technician")
    with web.db.session() as s, s.begin():
        row, token = auth.create_token(s, "script", "báo cáo", T0)
        token_id = row.id
        assert row.token_hash == auth.sha256_hex(token) and token not in (row.prefix, row.token_hash)
    h = {"Authorization": f"Bearer {token}"}
    assert (await web.client.get("/api/v1/me", headers=h)).status == 200
    for bad in ("Bearer ops_nope", "Basic abc", "Bearer "):
        r = await web.client.get("/api/v1/me", headers={"Authorization": bad})
        assert r.status == 401, bad
    with web.db.session() as s, s.begin():
        assert auth.revoke_token(s, token_id, T0)
        assert not auth.revoke_token(s, 999, T0)
    r = await web.client.get("/api/v1/me", headers=h)
    assert r.status == 401 and "thu hồi" in (await r.json())["error"]["message"]


async def test_disabled_user_loses_access(web: WebEnv) -> None:
    uid = web.add_user("canbo", "police")
    await web.login("canbo")
    with web.db.session() as s, s.begin():
        u = s.get(User, uid)
        assert u is not None
        u.disabled = True
    assert (await web.client.get("/api/v1/me")).status == 401


async def test_security_headers_everywhere(web: WebEnv) -> None:
    for path in ("/login", "/healthz", "/static/app.css", "/api/v1/me"):
        r = await web.client.get(path)
        csp = r.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        assert r.headers["X-Frame-Options"] == "DENY"
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Referrer-Policy"] == "same-origin"
