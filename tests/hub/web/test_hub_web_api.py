"""JSON API: authentication required, filters, scope, 404s, bad parameters, snapshot caching."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.fixtures_web import T0, WebEnv

JPEG = b"\xff\xd8\xff\xe0" + b"jpeg-body" * 10 + b"\xff\xd9"


def _seed(web: WebEnv) -> None:
    web.add_camera("soc-son", "phu-linh", "cong-ubnd", "ok", name="Cổng UBND xã")
    web.add_camera("soc-son", "phu-linh", "cho", "problem", name="Chợ Phù Linh", reason="frozen 30s")
    web.add_camera("soc-son", "tien-duoc", "truong-hoc", "offline", name="Trường học")
    web.add_camera("dong-anh", "uy-no", "nga-tu", "stale", name="Ngã tư Uy Nỗ")
    web.add_camera("dong-anh", "uy-no", "den", "unknown")
    web.add_area("dong-anh", "uy-no", "Xã Uy Nỗ")


async def _token(web: WebEnv, username: str) -> str:
    from hub.core import auth

    with web.db.session() as s, s.begin():
        _row, token = auth.create_token(s, username, "test", T0)
    return token


async def _get(web: WebEnv, path: str, token: str) -> tuple[int, Any]:
    r = await web.client.get(path, headers={"Authorization": f"Bearer {token}"})
    body = await r.json() if r.content_type == "application/json" else await r.read()
    return r.status, body


async def test_everything_but_login_needs_authentication(web: WebEnv) -> None:
    _seed(web)
    for path in (
        "/api/v1/cameras",
        "/api/v1/cameras/soc-son/phu-linh/cho",
        "/api/v1/cameras/soc-son/phu-linh/cho/snapshot",
        "/api/v1/events",
        "/api/v1/me",
        "/api/v1/openapi.json",
        "/api/v1/nothing-here",
    ):
        r = await web.client.get(path)
        assert r.status == 401, path
        body = await r.json()
        assert body["error"]["code"] == "unauthorized"
    for page in ("/", "/static/wall.js", "/cameras/soc-son/phu-linh/cho"):
        r = await web.client.get(page, allow_redirects=False)
        assert r.status == 302 and r.headers["Location"] == "/login?next=" + page
    assert (await web.client.get("/healthz")).status == 200
    assert (await web.client.get("/login")).status == 200
    assert (await web.client.get("/static/app.css")).status == 200


async def test_camera_list_filters_counts_and_search(web: WebEnv) -> None:
    _seed(web)
    web.add_user("admin1", "admin")
    tok = await _token(web, "admin1")
    status, body = await _get(web, "/api/v1/cameras", tok)
    assert status == 200
    assert [c["key"] for c in body["items"]] == [
        "dong-anh/uy-no/den",
        "dong-anh/uy-no/nga-tu",
        "soc-son/phu-linh/cho",
        "soc-son/phu-linh/cong-ubnd",
        "soc-son/tien-duoc/truong-hoc",
    ]
    assert body["counts"] == {"ok": 1, "problem": 1, "offline": 1, "stale": 1, "unknown": 1}
    status, body = await _get(web, "/api/v1/cameras?district=soc-son&status=problem", tok)
    assert [c["id"] for c in body["items"]] == ["cho"]
    assert body["counts"]["ok"] == 1 and body["counts"]["offline"] == 1  # counts ignore the status filter
    # search ignores case and Vietnamese diacritics, and matches commune display names
    _, body = await _get(web, "/api/v1/cameras?q=CONG%20ubnd", tok)
    assert [c["id"] for c in body["items"]] == ["cong-ubnd"]
    _, body = await _get(web, "/api/v1/cameras?q=uy%20no", tok)
    assert {c["id"] for c in body["items"]} == {"nga-tu", "den"}
    _, body = await _get(web, "/api/v1/cameras?limit=2", tok)
    assert body["total"] == 5 and [c["id"] for c in body["items"]] == ["den", "nga-tu"]
    _, body = await _get(web, f"/api/v1/cameras?limit=2&cursor={body['next_cursor']}", tok)
    assert [c["id"] for c in body["items"]] == ["cho", "cong-ubnd"] and body["next_cursor"]


async def test_bad_parameters_are_named(web: WebEnv) -> None:
    web.add_user("admin1", "admin")
    tok = await _token(web, "admin1")
    cases = {
        "/api/v1/cameras?status=broken": "status",
        "/api/v1/cameras?district=Sóc%20Sơn": "district",
        "/api/v1/cameras?limit=0": "limit",
        "/api/v1/cameras?limit=abc": "limit",
        "/api/v1/cameras?status=ok&status=problem": "status",
        "/api/v1/cameras?colour=red": "colour",
        "/api/v1/cameras?offset=10": "offset",
        "/api/v1/cameras?cursor=not%20a%20cursor": "cursor",
        "/api/v1/cameras?limit=1001": "limit",
        "/api/v1/agents?commune=A/B": "commune",
    }
    for path, name in cases.items():
        status, body = await _get(web, path, tok)
        assert status == 400, path
        assert body["error"]["code"] == "bad_parameter"
        assert f"'{name}'" in body["error"]["message"], body
    # shaped like a cursor, but not one this list handed out: refused on meaning
    status, body = await _get(web, "/api/v1/cameras?cursor=bm90LWEtY3Vyc29y", tok)
    assert status == 422 and body["error"]["field"] == "cursor"


async def test_scope_limits_what_a_district_user_sees(web: WebEnv) -> None:
    _seed(web)
    web.add_user("cs-socson", "police", district="soc-son")
    web.add_user("xa-phulinh", "police", district="soc-son", commune="phu-linh")
    web.add_user("vh-phulinh", "officer", district="soc-son", commune="phu-linh")
    tok = await _token(web, "cs-socson")
    _, body = await _get(web, "/api/v1/cameras", tok)
    assert {c["district"] for c in body["items"]} == {"soc-son"} and body["total"] == 3
    # asking for another district by filter gives nothing, not someone else's cameras
    _, body = await _get(web, "/api/v1/cameras?district=dong-anh", tok)
    assert body["items"] == [] and body["counts"]["stale"] == 0
    status, body = await _get(web, "/api/v1/cameras/dong-anh/uy-no/nga-tu", tok)
    assert status == 404 and body["error"]["code"] == "not_found"
    status, _ = await _get(web, "/api/v1/cameras/dong-anh/uy-no/nga-tu/transitions", tok)
    assert status == 404
    _, areas = await _get(web, "/api/v1/areas", tok)
    assert {a["district"] for a in areas["items"]} == {"soc-son"}

    tok2 = await _token(web, "xa-phulinh")
    _, body = await _get(web, "/api/v1/cameras", tok2)
    assert [c["id"] for c in body["items"]] == ["cho", "cong-ubnd"]
    status, _ = await _get(web, "/api/v1/cameras/soc-son/tien-duoc/truong-hoc", tok2)
    assert status == 404
    # culture officers work on broadcasts: cameras and agents are refused by role (403), not just hidden
    tok3 = await _token(web, "vh-phulinh")
    for path in ("/api/v1/cameras", "/api/v1/agents"):
        status, body = await _get(web, path, tok3)
        assert status == 403 and body["error"]["code"] == "forbidden", path
    status, _ = await _get(web, "/api/v1/stats", tok)
    assert status == 403


async def test_camera_detail_snapshot_and_etag(web: WebEnv) -> None:
    _seed(web)
    web.add_user("admin1", "admin")
    tok = await _token(web, "admin1")
    status, cam = await _get(web, "/api/v1/cameras/soc-son/phu-linh/cho", tok)
    assert status == 200 and cam["name"] == "Chợ Phù Linh" and cam["reason"] == "frozen 30s"
    status, body = await _get(web, "/api/v1/cameras/soc-son/phu-linh/cho/snapshot", tok)
    assert status == 404 and "ảnh" in body["error"]["message"]
    status, _ = await _get(web, "/api/v1/cameras/soc-son/phu-linh/khong-co", tok)
    assert status == 404

    web.add_snapshot("soc-son/phu-linh/cho", JPEG)
    h = {"Authorization": f"Bearer {tok}"}
    r = await web.client.get("/api/v1/cameras/soc-son/phu-linh/cho/snapshot?v=1", headers=h)
    assert r.status == 200 and r.content_type == "image/jpeg" and await r.read() == JPEG
    etag = r.headers["ETag"]
    assert "no-cache" in r.headers["Cache-Control"] and r.headers["Last-Modified"].endswith("GMT")
    r = await web.client.get(
        "/api/v1/cameras/soc-son/phu-linh/cho/snapshot", headers={**h, "If-None-Match": etag}
    )
    assert r.status == 304 and await r.read() == b""

    # the kept history: the latest and an older one, each by its time
    web.add_snapshot("soc-son/phu-linh/cho", JPEG + b"\x00", T0 - timedelta(hours=2))
    status, kept = await _get(web, "/api/v1/cameras/soc-son/phu-linh/cho/snapshots", tok)
    assert status == 200 and [i["t"] for i in kept["items"]] == [
        "2026-11-02T07:00:00.000Z",
        "2026-11-02T05:00:00.000Z",
    ]
    r = await web.client.get(kept["items"][1]["url"], headers=h)
    assert r.status == 200 and r.content_type == "image/jpeg" and await r.read() == JPEG + b"\x00"
    r = await web.client.get("/api/v1/cameras/soc-son/phu-linh/cho/snapshots/1", headers=h)
    assert r.status == 404


async def test_transitions_paged_and_time_range(web: WebEnv) -> None:
    _seed(web)
    web.add_user("admin1", "admin")
    tok = await _token(web, "admin1")
    key = "soc-son/phu-linh/cho"
    web.add_transitions(key, 7)
    base = f"/api/v1/cameras/{key}/transitions"
    _, page1 = await _get(web, base + "?limit=3", tok)
    assert [t["at"] for t in page1["items"]] == [
        "2026-11-02T07:06:00Z",
        "2026-11-02T07:05:00Z",
        "2026-11-02T07:04:00Z",
    ]
    _, page2 = await _get(web, base + f"?limit=3&cursor={page1['next_cursor']}", tok)
    _, page3 = await _get(web, base + f"?limit=3&cursor={page2['next_cursor']}", tok)
    seen = [t["id"] for p in (page1, page2, page3) for t in p["items"]]
    assert len(seen) == 7 == len(set(seen)) and page3["next_cursor"] is None
    # 14:02 to 14:04 Hà Nội time = 07:02–07:04 UTC: two rows (until is exclusive)
    _, ranged = await _get(web, base + "?since=2026-11-02T14:02:00%2B07:00&until=2026-11-02T07:04:00Z", tok)
    assert [t["at"] for t in ranged["items"]] == ["2026-11-02T07:03:00Z", "2026-11-02T07:02:00Z"]
    _, plus_as_space = await _get(web, base + "?since=2026-11-02T14:02:00+07:00", tok)
    assert len(plus_as_space["items"]) == 5
    for bad, code in (
        ("since=yesterday", 400),
        ("since=2026-11-02T07:00:00", 400),
        ("cursor=nope", 400),
        ("until=1&since=2", 422),  # both well-formed: the range is what is refused
    ):
        status, body = await _get(web, f"{base}?{bad}", tok)
        assert status == code, bad
        assert body["error"]["code"] == "bad_parameter"


async def test_me_agents_areas_and_stats(web: WebEnv) -> None:
    _seed(web)
    web.add_user("kt", "technician", district="soc-son")
    tok = await _token(web, "kt")
    _, me = await _get(web, "/api/v1/me", tok)
    assert me["username"] == "kt" and me["district"] == "soc-son" and me["via"] == "token"
    assert "stats.view" in me["permissions"]
    _, areas = await _get(web, "/api/v1/areas", tok)
    names = {(a["district"], a["commune"]): a["name"] for a in areas["items"]}
    assert names[("soc-son", None)] == "Huyện Sóc Sơn" and names[("soc-son", "phu-linh")] == "Xã Phù Linh"
    assert names[("soc-son", "tien-duoc")] == "tien-duoc"  # no display name: the slug
    status, agents = await _get(web, "/api/v1/agents", tok)
    assert status == 200 and agents == {"items": [], "next_cursor": None}
    web.hub_stats["received"] = 42
    status, stats = await _get(web, "/api/v1/stats", tok)
    assert status == 200 and stats["hub"]["received"] == 42
    await _get(web, "/api/v1/stats?x=1", tok)
    _, stats = await _get(web, "/api/v1/stats", tok)
    assert stats["web"]["counters"]["http_400_bad_parameter"] == 1


async def test_openapi_documents_every_api_route(web: WebEnv) -> None:
    web.add_user("admin1", "admin")
    tok = await _token(web, "admin1")
    status, doc = await _get(web, "/api/v1/openapi.json", tok)
    assert status == 200 and doc["openapi"].startswith("3.1")
    documented = {(m.upper(), path) for path, ops in doc["paths"].items() for m in ops}
    registered = set()
    for route in web.client.server.app.router.routes():  # type: ignore[union-attr]
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if path and path.startswith("/api/v1") and route.method != "HEAD":
            registered.add((route.method, path))
    assert registered and registered == documented
    params = {p["name"] for p in doc["paths"]["/api/v1/cameras"]["get"]["parameters"]}
    assert {"district", "commune", "status", "q"} <= params


async def test_every_route_declares_its_access(web: WebEnv) -> None:
    from hub.web.access import PUBLIC, access_of

    public = set()
    for route in web.client.server.app.router.routes():  # type: ignore[union-attr]
        access = access_of(route.handler)
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        assert access is not None, f"{route.method} {path} has no @requires/@public/@signed_in"
        if access == PUBLIC:
            public.add(path)
    # /media/{name}: processed broadcast audio by sha256 (the hash is the capability; receivers download it)
    # /cong-khai/…: a commune's public status page, 404 unless the commune switched it on (docs/REPORTS.md)
    # /relay/{token}/…: a running relay's audio chunks for receivers (the session's random token is the capability)
    assert public == {
        "/relay/{token}/{seq}.pcm",
        "/cong-khai/{district}/{commune}",
        "/healthz",
        "/readyz",
        "/login",
        "/static/app.css",
        "/static/favicon.svg",
        "/media/{name}",
    }
