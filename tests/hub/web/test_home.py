"""Each role's home (hub/web/home.py): where login sends a user, where `/` sends who may not see the wall, and
the way back from the brand name and an error page. The browser crawl of every role is
tests/browser/test_role_crawl.py."""

from __future__ import annotations

import re

from hub.core.access import ROLE_PERMS
from hub.core.auth import Principal
from hub.web.home import ACCOUNT, home_for, home_for_role
from tests.fixtures_web import PASSWORD, ROLE_USERS, WebEnv, sign_in

HOMES = {
    "police": "/",
    "officer": "/broadcasts/programmes",
    "approver": "/broadcasts/programmes",
    "technician": "/",
    "admin": "/",
    "leader": "/?view=summary",  # read only: the counts per commune first
}


def _add_role_users(web: WebEnv) -> None:
    for username, (role, district, commune) in ROLE_USERS.items():
        web.add_user(username, role, district, commune)


def test_home_by_permission() -> None:
    assert {role: home_for_role(role) for role in ROLE_PERMS} == HOMES
    assert home_for_role("no-such-role") == ACCOUNT  # a role with none of the homes' permissions
    assert home_for(None) == "/login"
    p = Principal(1, "x", None, "approver", "soc-son", "phu-linh", "session")
    assert home_for(p) == "/broadcasts/programmes"


async def test_login_without_a_page_asked_for_lands_on_the_role_home(web: WebEnv) -> None:
    _add_role_users(web)
    for username, (role, _, _) in ROLE_USERS.items():
        web.client.session.cookie_jar.clear()
        r = await web.login(username)
        assert r.status == 303 and r.headers["Location"] == HOMES[role], role
        # signed in already, the login page sends them home too
        again = await web.client.get("/login", allow_redirects=False)
        assert again.status == 303 and again.headers["Location"] == HOMES[role], role


async def test_a_page_asked_for_wins_and_a_foreign_one_falls_back_home(web: WebEnv) -> None:
    web.add_user("vanhoa.pl", "officer", "soc-son", "phu-linh")
    for asked, lands in (("/speakers", "/speakers"), ("//evil.example/x", "/broadcasts/programmes")):
        web.client.session.cookie_jar.clear()
        form = await web.client.get("/login")
        token = re.search(r'name="csrf" value="([^"]+)"', await form.text())
        assert token
        r = await web.client.post(
            "/login",
            data={"username": "vanhoa.pl", "password": PASSWORD, "csrf": token.group(1), "next": asked},
            allow_redirects=False,
        )
        assert r.status == 303 and r.headers["Location"] == lands, asked


async def test_wall_sends_who_may_not_see_it_home(web: WebEnv) -> None:
    _add_role_users(web)
    anonymous = await web.client.get("/", allow_redirects=False)
    assert anonymous.status == 302 and anonymous.headers["Location"].startswith("/login")
    for username, (role, _, _) in ROLE_USERS.items():
        web.client.session.cookie_jar.clear()
        sign_in(web, username)
        r = await web.client.get("/?status=ok", allow_redirects=False)
        if HOMES[role] in ("/", "/?view=summary"):
            assert r.status == 200 and 'class="wall' in await r.text(), role
        else:
            assert r.status == 303 and r.headers["Location"] == HOMES[role], role


async def test_refusal_page_and_brand_lead_home(web: WebEnv) -> None:
    _add_role_users(web)
    for username, (role, _, _) in ROLE_USERS.items():
        web.client.session.cookie_jar.clear()
        sign_in(web, username)
        pages = [("/no-such-page", 404)] + ([("/admin/audit", 403)] if role != "admin" else [])
        for path, status in pages:
            r = await web.client.get(path)
            html = await r.text()
            assert r.status == status, (role, path)
            assert f'<a href="{HOMES[role]}" id="home-link">← Về trang chính</a>' in html, (role, path)
            assert f'<a class="brand" href="{HOMES[role]}">' in html, (role, path)
            assert "Về tường camera" not in html
