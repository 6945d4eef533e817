"""The web app's side: redirects after login, login failures that must not lock anyone out, credentials that
end everything at once, explicit province-wide scope (through the test client)."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from sqlalchemy import select

from hub.core import auth
from hub.core.db import ApiToken, User
from hub.web.pages.login import safe_next
from tests.fixtures_web import PASSWORD, T0, WebEnv, admin_csrf

EVIL_NEXT = [
    "//evil.example", "/\\evil.example", "\\\\evil.example", "/\t/evil.example", "/\n/evil.example",
    "/%2F/evil.example", "/%5Cevil.example", "%2F%2Fevil.example", "https://evil.example/", "javascript:alert(1)",
    "/\x00/evil", " //evil.example", "///evil.example", "/%09/evil.example", "",
]  # fmt: skip


@pytest.mark.parametrize("value", EVIL_NEXT)
def test_next_never_leaves_the_site(value: str) -> None:
    assert safe_next(value) == "/"


def test_next_keeps_local_paths() -> None:
    assert safe_next("/cameras/yen_dinh?status=offline") == "/cameras/yen_dinh?status=offline"


async def _login(web: WebEnv, user: str, password: str, address: str, next_: str = "") -> Any:
    form = await web.client.get("/login", headers={"X-Forwarded-For": address})
    token = re.search(r'name="csrf" value="([^"]+)"', await form.text())
    assert token
    data = {"username": user, "password": password, "csrf": token.group(1), "next": next_}
    return await web.client.post(
        "/login", data=data, headers={"X-Forwarded-For": address}, allow_redirects=False
    )


async def test_login_follows_no_evil_next(web: WebEnv) -> None:
    web.add_user("canbo", "police", district="soc-son")
    r = await _login(web, "canbo", PASSWORD, "198.51.100.7", "/\\evil.example")
    assert r.status == 303 and r.headers["Location"] == "/"


async def test_a_stranger_cannot_lock_out_a_named_account(web: WebEnv) -> None:
    web.add_user("canbo", "police", district="soc-son")
    stranger, owner = "203.0.113.9", "198.51.100.7"
    codes = [(await _login(web, "canbo", f"doan-mo-{i}", stranger)).status for i in range(12)]
    assert codes[:3] == [401, 401, 401] and codes[-1] == 429  # the stranger's own address is slowed
    assert web.ctx.counters["login_failed"] >= 3 and web.ctx.counters["login_slowed"] >= 1
    r = await _login(web, "canbo", PASSWORD, owner)  # the owner, from their own address, the same minute
    assert r.status == 303
    with web.db.session() as s:
        assert s.scalar(select(User.locked_until).where(User.username == "canbo")) is None


async def test_a_forwarded_address_counts_only_from_a_trusted_proxy(web: WebEnv) -> None:
    web.ctx.proxies = ()  # no proxy trusted: the header is anyone's word
    web.add_user("canbo", "police", district="soc-son")
    for i in range(3):
        await _login(web, "canbo", f"doan-mo-{i}", f"203.0.113.{i}")
    r = await _login(web, "canbo", PASSWORD, "198.51.100.7")
    assert r.status == 429  # all came from the one real peer, whatever the header claimed


async def test_a_password_reset_ends_tokens_and_live_streams_at_once(web: WebEnv) -> None:
    web.add_user("canbo", "police", district="soc-son")
    with web.db.session() as s, s.begin():
        _, token = auth.create_token(s, "canbo", "script", T0)
    bearer = {"Authorization": f"Bearer {token}"}
    stream = await web.client.get("/api/v1/events", headers=bearer)
    assert stream.status == 200
    await stream.content.readuntil(b"\n\n")  # retry + hello
    csrf = await admin_csrf(web, "/admin/users/canbo")
    r = await web.client.post(
        "/admin/users/canbo/password",
        data={"csrf": csrf, "password": "mat-khau-moi-2026"},
        allow_redirects=False,
    )
    assert r.status == 303
    rest = await asyncio.wait_for(stream.content.read(), 5)  # the stream ends (well before a heartbeat)
    assert stream.content.at_eof() and rest.count(b"event:") <= 1  # at most the hello it had not read yet
    assert (await web.client.get("/api/v1/me", headers=bearer)).status == 401
    with web.db.session() as s:
        assert s.scalar(select(ApiToken.revoked_at).where(ApiToken.name == "script")) is not None
    assert web.ctx.counters["sse_credentials_ended"] == 1


async def test_a_disabled_user_loses_tokens_for_good(web: WebEnv) -> None:
    web.add_user("canbo", "police", district="soc-son")
    with web.db.session() as s, s.begin():
        _, token = auth.create_token(s, "canbo", "script", T0)
    csrf = await admin_csrf(web, "/admin/users/canbo")
    for what in ("disable", "enable"):
        r = await web.client.post(f"/admin/users/canbo/{what}", data={"csrf": csrf}, allow_redirects=False)
        assert r.status == 303
    r = await web.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status == 401  # re-enabling the account does not bring the old token back


async def test_a_user_without_an_area_is_not_province_wide_by_accident(web: WebEnv) -> None:
    csrf = await admin_csrf(web, "/admin/users")
    form = {
        "csrf": csrf,
        "username": "moi",
        "full_name": "Người mới",
        "role": "police",
        "password": "du-dai-roi-day",
    }
    r = await web.client.post("/admin/users", data={**form, "scope": ""})
    assert r.status == 400 and "Toàn tỉnh" in await r.text()
    r = await web.client.post("/admin/users", data={**form, "scope": "province"}, allow_redirects=False)
    assert r.status == 303
    with web.db.session() as s:
        u = s.scalar(select(User).where(User.username == "moi"))
        assert u is not None and u.district is None
