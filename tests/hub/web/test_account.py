"""Own account: password change (current required, rules, other sessions ended, this one kept), API tokens
(shown once, usable, revocable, only one's own), and no secret ever written to the logs."""

from __future__ import annotations

import logging
import re
from datetime import datetime

import pytest
from sqlalchemy import select

from hub.core import auth
from hub.core.audit import AuditEntry
from hub.core.db import WebSession
from tests.fixtures_web import PASSWORD, WebEnv, sign_in

NEW_PASSWORD = "mat-khau-moi-987654"


async def _signed_in(web: WebEnv, username: str = "canbo") -> tuple[int, str]:
    uid = web.add_user(username, "officer", district="soc-son", commune="phu-linh")
    sign_in(web, username)
    return uid, await web.page_csrf("/account")


async def test_change_password_ends_other_sessions_only(web: WebEnv) -> None:
    uid, csrf = await _signed_in(web)
    with web.db.session() as s, s.begin():
        other, _ = auth.create_session(s, uid, datetime.now(), 8)
    form = {"csrf": csrf, "current": PASSWORD, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    for change, status, message in (
        ({"current": "sai-mat-khau-1"}, 403, "không đúng"),
        ({"confirm": "khac-hoan-toan-1"}, 400, "không khớp"),
        ({"new": "ngan", "confirm": "ngan"}, 400, "ít nhất 10"),
        ({"new": PASSWORD, "confirm": PASSWORD}, 400, "khác mật khẩu hiện tại"),
    ):
        r = await web.client.post("/account/password", data={**form, **change})
        assert r.status == status and message in await r.text(), change
    r = await web.client.post("/account/password", data=form, allow_redirects=False)
    assert r.status == 303
    page = await (await web.client.get("/account?msg=password_changed")).text()
    assert "Đã đổi mật khẩu" in page, "this session is kept"
    web.client.session.cookie_jar.clear()
    assert (await web.client.get("/api/v1/me", headers={"Cookie": f"ops_session={other}"})).status == 401
    with web.db.session() as s:
        assert len(s.scalars(select(WebSession).where(WebSession.user_id == uid)).all()) == 1
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "user.password_change")).one()
        assert entry.actor == "canbo"
    assert (await web.login("canbo", PASSWORD)).status == 401
    assert (await web.login("canbo", NEW_PASSWORD)).status == 303


async def test_tokens_shown_once_usable_and_revocable(web: WebEnv) -> None:
    _, csrf = await _signed_in(web)
    r = await web.client.post("/account/tokens", data={"csrf": csrf, "name": "Máy chủ báo cáo"})
    html = await r.text()
    m = re.search(r'<code id="token-value" class="secret">(ops_[^<]+)</code>', html)
    assert r.status == 200 and m and r.headers["Cache-Control"] == "no-store"
    token = m.group(1)
    again = await (await web.client.get("/account")).text()
    assert token not in again and "Máy chủ báo cáo" in again and token[:12] in again
    web.client.session.cookie_jar.clear()
    me = await (await web.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})).json()
    assert me["username"] == "canbo" and me["via"] == "token"
    sign_in(web, "canbo")
    token_id = int(
        re.findall(r"/account/tokens/(\d+)/revoke", await (await web.client.get("/account")).text())[0]
    )
    # another user cannot revoke it
    web.client.session.cookie_jar.clear()
    _, csrf2 = await _signed_in(web, "nguoikhac")
    r = await web.client.post(f"/account/tokens/{token_id}/revoke", data={"csrf": csrf2})
    assert r.status == 404
    web.client.session.cookie_jar.clear()
    sign_in(web, "canbo")
    csrf = await web.page_csrf("/account")
    r = await web.client.post(
        f"/account/tokens/{token_id}/revoke", data={"csrf": csrf}, allow_redirects=False
    )
    assert r.status == 303
    r = await web.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status == 401
    with web.db.session() as s:
        actions = [
            e.action for e in s.scalars(select(AuditEntry).where(AuditEntry.action.startswith("token.")))
        ]
    assert actions == ["token.create", "token.revoke"]


async def test_no_secret_reaches_the_logs(web: WebEnv, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    typed_into_username = "matkhaubimat.2026"  # a password typed into the username field
    web.add_user("canbo", "officer", district="soc-son", commune="phu-linh")
    await web.login(typed_into_username, PASSWORD)
    await web.login("canbo", "sai-mat-khau-99")
    r = await web.login("canbo")
    cookie = r.cookies["ops_session"].value
    csrf = await web.page_csrf("/account")
    html = await (await web.client.post("/account/tokens", data={"csrf": csrf, "name": "thu"})).text()
    token = re.search(r'id="token-value" class="secret">([^<]+)<', html)
    assert token
    await web.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token.group(1)}"})
    await web.client.get("/api/v1/me", headers={"Authorization": "Bearer ops_sai-token-khong-ton-tai"})
    await web.client.post(
        "/account/password",
        data={"csrf": csrf, "current": PASSWORD, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    logged = caplog.text
    assert "failed login" in logged and "login 'canbo'" in logged, "the events themselves are logged"
    with web.db.session() as s:
        audited = " ".join(str((e.actor, e.target, e.before, e.after)) for e in s.scalars(select(AuditEntry)))
    for secret in (PASSWORD, NEW_PASSWORD, "sai-mat-khau-99", typed_into_username, cookie, csrf, token.group(1),
                   "ops_sai-token-khong-ton-tai"):  # fmt: skip
        assert secret not in logged, secret
        assert secret not in audited, secret


async def test_cookie_flags_and_security_headers(web: WebEnv) -> None:
    web.add_user("canbo", "officer", district="soc-son", commune="phu-linh")
    form = await web.client.get("/login")
    login_cookie = form.headers["Set-Cookie"]
    assert "HttpOnly" in login_cookie and "SameSite=Strict" in login_cookie and "Path=/login" in login_cookie
    csp = form.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "frame-ancestors 'none'" in csp
    assert form.headers["X-Frame-Options"] == "DENY" and form.headers["X-Content-Type-Options"] == "nosniff"
    assert "Strict-Transport-Security" not in form.headers, "no HSTS over plain HTTP"
    r = await web.login("canbo")
    session_cookie = r.headers.getall("Set-Cookie")
    mine = next(c for c in session_cookie if c.startswith("ops_session="))
    assert "HttpOnly" in mine and "SameSite=Lax" in mine and "Path=/" in mine and "Secure" not in mine
    # behind HTTPS (secure_cookies): Secure cookies and HSTS
    http = web.ctx.config.http.model_copy(update={"secure_cookies": True})
    web.ctx.config = web.ctx.config.model_copy(update={"http": http})
    web.client.session.cookie_jar.clear()
    r = await web.client.get("/login")
    assert "Secure" in r.headers["Set-Cookie"] and r.headers["Strict-Transport-Security"].startswith(
        "max-age="
    )
