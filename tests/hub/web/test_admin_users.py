"""Admin user management: create with role and scope, edit, disable/enable, reset password, reset the failure
count; every change
audited in the same transaction; bad input refused with a message naming the field and the form kept."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import select

from hub.core import auth
from hub.core.audit import AuditEntry
from hub.core.db import User, WebSession
from tests.fixtures_web import PASSWORD, T0, WebEnv, admin_csrf

NEW_PASSWORD = "mat-khau-moi-456789"


async def _admin(web: WebEnv) -> str:
    return await admin_csrf(web, "/admin/users")


def _audit(web: WebEnv, action: str) -> list[AuditEntry]:
    with web.db.session() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def _user(web: WebEnv, username: str) -> User:
    with web.db.session() as s:
        u = auth.get_user(s, username)
        assert u is not None
        s.expunge(u)
        return u


async def test_create_user_with_scope_and_audit(web: WebEnv) -> None:
    csrf = await _admin(web)
    form = {
        "csrf": csrf,
        "username": "canbo.vh",
        "full_name": "Nguyễn Thị Hoà",
        "role": "officer",
        "scope": "soc-son/phu-linh",
        "password": NEW_PASSWORD,
    }
    r = await web.client.post("/admin/users", data=form, allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == "/admin/users/canbo.vh?msg=user_created"
    u = _user(web, "canbo.vh")
    assert (u.role, u.district, u.commune, u.full_name) == (
        "officer",
        "soc-son",
        "phu-linh",
        "Nguyễn Thị Hoà",
    )
    [entry] = _audit(web, "user.create")
    assert entry.actor == "quantri" and entry.target == "user:canbo.vh" and entry.before is None
    assert entry.after is not None and entry.after["role"] == "officer" and "password_hash" not in entry.after
    page = await (await web.client.get("/admin/users/canbo.vh?msg=user_created")).text()
    assert "Đã tạo người dùng." in page and "Nguyễn Thị Hoà" in page
    listing = await (await web.client.get("/admin/users?role=officer")).text()
    assert (
        "canbo.vh" in listing
        and "Xã Phù Linh" in listing
        and "quantri" not in re.sub(r"<header.*?</header>", "", listing, flags=re.S)
    )
    # the new user can sign in and lands in their own scope
    web.client.session.cookie_jar.clear()
    assert (await web.login("canbo.vh", NEW_PASSWORD)).status == 303


async def test_bad_input_is_refused_naming_the_field_and_keeps_the_form(web: WebEnv) -> None:
    csrf = await _admin(web)
    cases = [
        ({"role": "officer", "scope": "soc-son"}, "cần chọn một xã"),
        ({"role": "police", "scope": "ha-dong"}, "chưa có trong danh mục"),
        ({"role": "admin", "scope": "soc-son"}, "toàn tỉnh"),
        ({"role": "superuser"}, "Vai trò"),
        ({"password": "ngan"}, "ít nhất 10"),
        ({"username": "Tên Có Dấu"}, "không hợp lệ"),
        ({"username": "quantri"}, "đã tồn tại"),
    ]
    for change, message in cases:
        form = {"csrf": csrf, "username": "congan2", "full_name": "Trần Văn Bình", "role": "police",
                "scope": "soc-son", "password": NEW_PASSWORD, **change}  # fmt: skip
        r = await web.client.post("/admin/users", data=form, allow_redirects=False)
        html = await r.text()
        assert r.status == 400, change
        assert message in html, (change, message)
        assert "Trần Văn Bình" in html, "what the admin typed is still in the form"
        assert NEW_PASSWORD not in html, "a password is never echoed back"
    with web.db.session() as s:
        assert s.scalar(select(User).where(User.username == "congan2")) is None
    assert web.ctx.counters["admin_rejected_user_create"] == len(cases)
    assert _audit(web, "user.create") == []


async def test_edit_disable_enable_reset_unlock(web: WebEnv) -> None:
    csrf = await _admin(web)
    web.add_user("congan", "police", district="soc-son")
    base = "/admin/users/congan"
    r = await web.client.post(
        base, data={"csrf": csrf, "full_name": "Lê Văn Cường", "role": "technician", "scope": "soc-son"},
        allow_redirects=False,
    )  # fmt: skip
    assert r.status == 303
    u = _user(web, "congan")
    assert (u.role, u.full_name, u.district) == ("technician", "Lê Văn Cường", "soc-son")
    [upd] = _audit(web, "user.update")
    assert upd.before and upd.after and upd.before["role"] == "police" and upd.after["role"] == "technician"

    # the user is signed in elsewhere; disabling ends that session and refuses new logins
    with web.db.session() as s, s.begin():
        auth.create_session(s, u.id, datetime(2026, 11, 2, 7), 8)
    assert (
        await web.client.post(base + "/disable", data={"csrf": csrf}, allow_redirects=False)
    ).status == 303
    assert _user(web, "congan").disabled
    with web.db.session() as s:
        assert s.scalars(select(WebSession).where(WebSession.user_id == u.id)).all() == []
    assert (await web.client.post(base + "/enable", data={"csrf": csrf}, allow_redirects=False)).status == 303
    assert not _user(web, "congan").disabled

    # locked after failed logins; the admin unlocks
    with web.db.session() as s, s.begin():
        for _ in range(5):
            auth.record_login_failure(s, u.id, T0)
    assert _user(web, "congan").failed_logins == 5 and _user(web, "congan").locked_until is None
    assert (await web.client.post(base + "/unlock", data={"csrf": csrf}, allow_redirects=False)).status == 303
    assert _user(web, "congan").failed_logins == 0

    r = await web.client.post(base + "/password", data={"csrf": csrf, "password": "ngan"})
    assert r.status == 400 and "ít nhất 10" in await r.text()
    r = await web.client.post(
        base + "/password", data={"csrf": csrf, "password": NEW_PASSWORD}, allow_redirects=False
    )
    assert r.status == 303
    assert auth.verify_password(_user(web, "congan").password_hash, NEW_PASSWORD)
    actions = [
        e.action
        for e in _audit(web, "user.disable") + _audit(web, "user.enable") + _audit(web, "user.unlock")
    ]
    assert actions == ["user.disable", "user.enable", "user.unlock"]
    [reset] = _audit(web, "user.password_reset")
    assert NEW_PASSWORD not in str(reset.before) + str(reset.after)


async def test_admin_cannot_lock_themselves_out(web: WebEnv) -> None:
    csrf = await _admin(web)
    r = await web.client.post("/admin/users/quantri/disable", data={"csrf": csrf})
    assert r.status == 400 and "chính mình" in await r.text()
    r = await web.client.post(
        "/admin/users/quantri", data={"csrf": csrf, "role": "police", "scope": "soc-son"}
    )
    assert r.status == 400 and "chính mình" in await r.text()
    assert _user(web, "quantri").role == "admin" and not _user(web, "quantri").disabled
    assert (await web.client.get("/admin/users/khong-co")).status == 404


async def test_other_roles_get_403_and_no_menu_entry(web: WebEnv) -> None:
    web.add_user("congan", "police", district="soc-son")
    await web.login("congan")
    wall = await (await web.client.get("/")).text()
    assert 'href="/admin"' not in wall and 'href="/account"' in wall
    r = await web.client.get("/admin/users")
    assert r.status == 403 and "Không được phép" in await r.text()
    csrf = await web.page_csrf("/")
    r = await web.client.post(
        "/admin/users", data={"csrf": csrf, "username": "x1", "role": "admin", "password": PASSWORD}
    )
    assert r.status == 403


async def test_disabled_user_session_stops_working_at_once(web: WebEnv) -> None:
    csrf = await _admin(web)
    web.add_user("kythuat", "technician", district="soc-son")
    uid = _user(web, "kythuat").id
    with web.db.session() as s, s.begin():
        cookie, _ = auth.create_session(s, uid, datetime.now() - timedelta(minutes=1), 8)
    r = await web.client.get("/api/v1/me", headers={"Cookie": f"ops_session={cookie}"})
    assert r.status == 200
    await web.client.post("/admin/users/kythuat/disable", data={"csrf": csrf})
    web.client.session.cookie_jar.clear()
    r = await web.client.get("/api/v1/me", headers={"Cookie": f"ops_session={cookie}"})
    assert r.status == 401
