"""The 403 matrix (issue 7): every route of the real app × every role, read from the router at test time, so
routes added later are covered without editing this file.

For each route: no credentials → 401 (API) or a redirect to the login page (pages); a role without the
route's permission → 403; a role with it → let through; a role with it but another district/commune → 403/404
for the seeded object, and never the seeded object's data in any answer. Every unsafe route refuses a
session without the right CSRF token.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import JSON, Boolean, DateTime, Float, Integer, LargeBinary, String, Text, insert

from hub.core import auth
from hub.core.access import ROLE_PERMS, SIGNED_IN
from hub.core.db import Agent, Base
from hub.core.geo import Village
from hub.core.speaker_models import Speaker
from hub.web.access import PUBLIC, access_of
from hub.web.security import SESSION_COOKIE
from tests.fixtures_web import T0, WebEnv

D1, C1, C2, D2 = "dong-anh", "xuan-non", "van-ha", "soc-son"
MARKER = "Đối-tượng-mật-C1"  # every seeded object of D1/C1 carries it: no outsider may ever read it
SAFE = ("GET", "HEAD")

INSIDERS = {
    "admin": ("admin", None, None),
    "police": ("police", D1, None),
    "officer": ("officer", D1, C1),
    "approver": ("approver", D1, C1),
    "technician": ("technician", D1, None),
    "leader": ("leader", D1, None),
}
OUTSIDERS = {
    "police_d2": ("police", D2, None),
    "technician_d2": ("technician", D2, None),
    "officer_c2": ("officer", D1, C2),
    "approver_c2": ("approver", D1, C2),
}
# Path parameters filled with the seeded D1/C1 objects, by name; others are tried from every seeded key.
NAMED = {
    "district": [D1],
    "commune": [C1],
    "camera": ["cam-a"],
    "agent": ["edge-a"],
    "speaker": ["loa-a"],
    "village": ["thon-a"],
    "kind": ["cameras"],
    "id": ["cam-a"],
    "username": ["police"],
    "name": ["admin.js"],
    "alert_id": ["0123456789abcdef"],
}


def _default(col: Any, n: int) -> Any:
    t = col.type
    if isinstance(t, Boolean):
        return False
    if isinstance(t, Integer):
        return n
    if isinstance(t, Float):
        return 1.0
    if isinstance(t, DateTime):
        return T0
    if isinstance(t, JSON):
        return []
    if isinstance(t, LargeBinary):
        return b"\xff\xd8\xff\xd9"
    if isinstance(t, String | Text):
        if col.name in ("name", "title", "full_name", "label", "text", "message", "summary"):
            return MARKER
        length = getattr(t, "length", None) or 64
        return f"seed{n}"[:length]
    return None


def seed_feature_tables(web: WebEnv) -> dict[str, list[str]]:
    """One row in D1/C1 for every table that has district and commune columns and none seeded below yet:
    feature tables added by others get an object to point routes at. Returns table → primary key values."""
    keys: dict[str, list[str]] = {}
    skip = {"cameras", "agents", "speakers", "villages", "areas", "users", "audit_log", "transitions"}
    for n, table in enumerate(Base.metadata.sorted_tables, start=7):
        cols = {c.name for c in table.columns}
        if table.name in skip or not {"district", "commune"} <= cols:
            continue
        row: dict[str, Any] = {}
        for col in table.columns:
            if col.name == "district":
                row[col.name] = D1
            elif col.name == "commune":
                row[col.name] = C1
            elif col.autoincrement is True or (col.primary_key and isinstance(col.type, Integer)):
                continue
            elif col.name == "key":
                row[col.name] = f"{D1}/{C1}/seed{n}"
            elif col.primary_key and isinstance(col.type, String):
                # hex digits only: fits slug ids and hash ids ([0-9a-f]{16}) alike
                row[col.name] = f"5eed{n:012x}"[: min(16, col.type.length or 16)]
            elif not col.nullable or col.primary_key or col.name in ("name", "title"):
                value = _default(col, n)
                if value is not None:
                    row[col.name] = value
        try:
            with web.db.session() as s, s.begin():
                result = s.execute(insert(table).values(**row))
                pk = result.inserted_primary_key
        except Exception:  # a table whose rows need more than defaults: its routes get role checks only
            continue
        keys[table.name] = [str(v) for v in (pk or ()) if v is not None]
    return keys


def seed(web: WebEnv) -> dict[str, list[str]]:
    web.add_area(D1, "", "Huyện Đông Anh")
    web.add_area(D1, C1, "Xã Xuân Nộn")  # place names are public: not marked
    web.add_area(D1, C2, "Xã Vân Hà")
    web.add_camera(D1, C1, "cam-a", "problem", name=MARKER, agent_key=f"{D1}/{C1}/edge-a", reason=MARKER)
    web.add_snapshot(f"{D1}/{C1}/cam-a", b"\xff\xd8\xff\xd9")
    web.add_transitions(f"{D1}/{C1}/cam-a", 2)
    web.add_camera(D2, "phu-linh", "cam-d2", "ok", name="Camera Phù Linh")
    with web.db.session() as s, s.begin():
        s.add(
            Agent(
                key=f"{D1}/{C1}/edge-a",
                district=D1,
                commune=C1,
                slug="edge-a",
                state="online",
                version=MARKER,
            )
        )
        s.add(
            Speaker(
                key=f"{D1}/{C1}/loa-a", district=D1, commune=C1, slug="loa-a", name=MARKER, village="thon-a"
            )
        )
        s.add(Village(district=D1, commune=C1, slug="thon-a", name=MARKER))
    return seed_feature_tables(web)


# --- routes -----------------------------------------------------------------------------------------------


def _group_patterns(pattern: str) -> dict[str, str]:
    """Each named group's own regex, read from a route's compiled pattern (balanced parentheses)."""
    out: dict[str, str] = {}
    for m in re.finditer(r"\(\?P<(\w+)>", pattern):
        depth, i = 1, m.end()
        while depth and i < len(pattern):
            ch = pattern[i]
            if ch == "\\":
                i += 2
                continue
            depth += {"(": 1, ")": -1}.get(ch, 0)
            i += 1
        out[m.group(1)] = pattern[m.end() : i - 1]
    return out


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    access: str
    scoped_object: bool  # a path parameter names a seeded D1/C1 object
    api: bool


def _for_segment(segment: str, seeded: dict[str, list[str]]) -> list[str]:
    """Keys of the seeded table a path segment names: /airings/{id} → airings, /outbox/{id} → notify_outbox."""
    exact = seeded.get(segment, [])
    near = [k for name, ks in seeded.items() if name != segment and segment.rstrip("s") in name for k in ks]
    return exact + near


def routes(app: web.Application, seeded: dict[str, list[str]]) -> Iterator[Case]:
    all_keys = [k for ks in seeded.values() for k in ks]
    generic = [*all_keys, "cam-a", "1", "seed1"]
    for route in app.router.routes():
        if route.method == "HEAD" or route.resource is None:
            continue
        access = access_of(route.handler)
        assert access is not None, f"{route.method} {route.resource.canonical} declares no access rule"
        info = route.resource.get_info()
        if "path" in info:
            path, scoped = info["path"], False
        elif "formatter" in info:
            groups = _group_patterns(info["pattern"].pattern)
            values: dict[str, str] = {}
            for name, rx in groups.items():
                before = info["formatter"].split("{" + name + "}")[0].rstrip("/").rsplit("/", 1)[-1]
                options = _for_segment(before, seeded) + NAMED.get(name, []) + generic + rx.split("|")
                pick = next((v for v in options if re.fullmatch(rx, v)), None)
                assert pick is not None, f"no value for {{{name}}} in {info['formatter']}"
                values[name] = pick
            path = info["formatter"].format(**values)
            assert info["pattern"].fullmatch(path), path
            scoped = any(
                v in (D1, C1, "cam-a", "edge-a", "loa-a", "thon-a", *all_keys) for v in values.values()
            )
        else:  # static file directories
            path, scoped = info["prefix"] + "/app.css", False
        yield Case(route.method, path, access, scoped, path.startswith("/api/"))


# --- the matrix -------------------------------------------------------------------------------------------


async def _token(web: WebEnv, name: str, role: str, district: str | None, commune: str | None) -> str:
    web.add_user(name, role, district, commune)
    with web.db.session() as s, s.begin():
        return auth.create_token(s, name, "matrix", T0)[1]


async def _call(web: WebEnv, case: Case, headers: dict[str, str]) -> tuple[int, str, str]:
    """(status, content type or redirect target, body)"""
    data = None if case.method in SAFE else b""
    async with web.client.request(
        case.method, case.path, headers=headers, data=data, allow_redirects=False
    ) as resp:
        ctype = resp.headers.get("Location") or resp.headers.get("Content-Type", "")
        if "text/event-stream" in ctype:
            return resp.status, ctype, ""  # a live stream: headers are the answer, the body never ends
        body = (await resp.read()).decode("utf-8", "replace")
        return resp.status, ctype, body


@pytest.fixture
def fixed_clock(web: WebEnv) -> None:
    web.set_clock(lambda: datetime(2026, 11, 2, 8, 0, 0))


async def test_every_route_every_role(web: WebEnv, fixed_clock: None) -> None:
    seeded = seed(web)
    app = web.client.server.app  # type: ignore[union-attr]
    cases = list(routes(app, seeded))
    assert len(cases) > 40, "the router walk found the app's routes"
    tokens = {n: await _token(web, n, *spec) for n, spec in (INSIDERS | OUTSIDERS).items()}
    failures: list[str] = []

    def fail(who: str, case: Case, status: int, why: str) -> None:
        failures.append(f"{who:14} {case.method} {case.path} → {status}: {why}")

    for case in cases:
        if case.access == PUBLIC:
            continue
        status, where, _ = await _call(web, case, {})
        if case.api and status != 401:
            fail("anonymous", case, status, "API without credentials must be 401")
        if not case.api and not (status in (302, 303) and where.startswith("/login")):
            fail("anonymous", case, status, "page without a session must redirect to /login")

        for who, (role, _, _) in INSIDERS.items():
            allowed = case.access == SIGNED_IN or case.access in ROLE_PERMS[role]
            if not allowed:
                status, ctype, body = await _call(web, case, {"Authorization": f"Bearer {tokens[who]}"})
                if status != 403:
                    fail(who, case, status, f"role lacks {case.access}: must be 403")
                elif case.api and '"forbidden"' not in body:
                    fail(who, case, status, "403 without the JSON error shape")
            elif case.method in SAFE:
                status, _, _ = await _call(web, case, {"Authorization": f"Bearer {tokens[who]}"})
                if status in (401, 403):
                    fail(who, case, status, f"role has {case.access} in scope: must be let through")

        if case.access == SIGNED_IN:
            continue  # the caller's own account, no area scope
        for who, (role, _, _) in OUTSIDERS.items():
            if case.access not in ROLE_PERMS[role]:
                continue
            status, ctype, body = await _call(web, case, {"Authorization": f"Bearer {tokens[who]}"})
            if MARKER in body or MARKER.encode("unicode_escape").decode() in body:
                fail(who, case, status, "out-of-scope data in the answer")
            if case.method not in SAFE and not 400 <= status < 500:
                fail(who, case, status, "an out-of-scope change must be refused (4xx)")
            if case.method in SAFE and case.scoped_object and status not in (403, 404):
                fail(who, case, status, "an out-of-scope object must be 403 or 404")
    assert not failures, "\n".join(failures)


async def test_every_unsafe_route_refuses_a_missing_or_wrong_csrf_token(
    web: WebEnv, fixed_clock: None
) -> None:
    seeded = seed(web)
    app = web.client.server.app  # type: ignore[union-attr]
    uid = web.add_user("quantri", "admin")
    with web.db.session() as s, s.begin():
        cookie, csrf = auth.create_session(s, uid, datetime(2026, 11, 2, 8, 0, 0), 8)
    unsafe = [c for c in routes(app, seeded) if c.method not in SAFE]
    assert unsafe
    failures = []
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    for case in unsafe:
        for label, headers, body in (
            ("no token", form, b"x=1"),
            ("wrong form field", form, b"csrf=" + b"A" * len(csrf)),
            ("wrong header", {"X-CSRF-Token": csrf[::-1], "Content-Type": "text/plain"}, b""),
        ):
            async with web.client.request(
                case.method, case.path, data=body, headers={**headers, "Cookie": f"{SESSION_COOKIE}={cookie}"},
                allow_redirects=False,
            ) as resp:  # fmt: skip
                if resp.status != 403:
                    failures.append(f"{case.method} {case.path} ({label}) → {resp.status}")
    assert not failures, "\n".join(failures)
    # and the right token is accepted (the check is not refusing everything)
    r = await web.client.post(
        "/account/tokens", data={"csrf": csrf, "name": "ok"}, headers={"Cookie": f"{SESSION_COOKIE}={cookie}"}
    )
    assert r.status == 200 and "chỉ hiện" in await r.text()


async def test_cross_site_origin_is_refused_even_with_the_token(web: WebEnv) -> None:
    uid = web.add_user("quantri", "admin")
    with web.db.session() as s, s.begin():
        cookie, csrf = auth.create_session(s, uid, T0.replace(year=2099), 8)
    r = await web.client.post(
        "/account/tokens",
        data={"csrf": csrf, "name": "x"},
        headers={"Cookie": f"{SESSION_COOKIE}={cookie}", "Origin": "http://evil.example"},
        allow_redirects=False,
    )
    assert r.status == 403


async def test_the_leader_changes_nothing(web: WebEnv, fixed_clock: None) -> None:
    """The read-only leader (issue 16): every route that changes something answers 403, with a valid session
    and CSRF token as much as with an API token; only the leader's own account (password, tokens, sign-out)
    is theirs to change. Routes added later are walked too."""
    seeded = seed(web)
    app = web.client.server.app  # type: ignore[union-attr]
    uid = web.add_user("lanhdao", "leader", D1)
    token = await _token(web, "lanhdao.api", "leader", D1, None)
    with web.db.session() as s, s.begin():
        cookie, csrf = auth.create_session(s, uid, datetime(2026, 11, 2, 8, 0, 0), 8)
    unsafe = [c for c in routes(app, seeded) if c.method not in SAFE and c.access != PUBLIC]
    own = [c for c in unsafe if c.access == SIGNED_IN]
    assert all(c.path.startswith(("/account", "/logout", "/api/v1/account")) for c in own), own
    checked, failures = 0, []
    for case in unsafe:
        if case.access == SIGNED_IN:
            continue
        for label, headers, body in (
            (
                "session",
                {"Cookie": f"{SESSION_COOKIE}={cookie}", "X-CSRF-Token": csrf},
                b"csrf=" + csrf.encode(),
            ),
            ("token", {"Authorization": f"Bearer {token}"}, b""),
        ):
            # Pages get a form with the CSRF token; the API an empty JSON object, valid where a route's declared
            # permission is one the leader holds and its handler decides (cancelling a programme), so the
            # answer is the handler's and not a body refusal.
            media = "application/json" if case.api else "application/x-www-form-urlencoded"
            hdrs = {**headers, "Content-Type": media}
            body = b"{}" if case.api else body
            async with web.client.request(
                case.method, case.path, data=body, headers=hdrs, allow_redirects=False
            ) as resp:
                if resp.status != 403:
                    failures.append(f"{case.method} {case.path} ({label}) → {resp.status}")
        checked += 1
    assert checked > 30 and not failures, "\n".join(failures)
    # the leader does read: the wall's data and the reports answer
    r = await web.client.get("/api/v1/cameras", headers={"Authorization": f"Bearer {token}"})
    assert r.status == 200 and (await r.json())["total"] == 1
