"""Server-rendered pages: wall grouping, Vietnamese labels, local time, filters, scope, camera detail, assets."""

from __future__ import annotations

import html as html_lib
import re
from datetime import datetime

from hub.web.pages.cameras import WallFilter, build_wall
from tests.fixtures_web import T0, WebEnv


def _seed(web: WebEnv) -> None:
    web.add_camera(
        "soc-son",
        "phu-linh",
        "cho",
        "problem",
        name="Chợ Phù Linh",
        status_since=T0,
        fps=3.5,
        width=1280,
        height=720,
        reason="no motion for 60 s",
    )
    with web.db.session() as s, s.begin():
        from hub.core.db import Camera

        cam = s.get(Camera, "soc-son/phu-linh/cho")
        assert cam is not None
        cam.problems = ["frozen", "low_fps"]
    web.add_camera("soc-son", "phu-linh", "cong", "ok", name="Cổng UBND")
    web.add_snapshot("soc-son/phu-linh/cong", b"\xff\xd8\xff\xd9")
    web.add_camera("soc-son", "tien-duoc", "truong", "offline", name="Trường học")
    web.add_camera("dong-anh", "uy-no", "nga-tu", "stale")


async def test_wall_groups_labels_and_local_time(web: WebEnv) -> None:
    _seed(web)
    web.add_user("cs", "police", district="soc-son")
    await web.login("cs")
    r = await web.client.get("/")
    assert r.status == 200
    html = await r.text()
    # groups by commune with display names (config), fallback to the slug; only the user's district
    assert "Xã Phù Linh" in html and ">tien-duoc" in html and "nga-tu" not in html
    for label in ("Có sự cố", "Hoạt động", "Mất kết nối", "Đóng băng hình", "FPS thấp", "Mất tín hiệu"):
        assert label in html, label
    assert "từ 14:00:00 02/11/2026" in html  # 07:00 UTC shown in Asia/Ho_Chi_Minh
    assert re.search(r'data-count="problem">1<', html) and re.search(r'data-count="all">3<', html)
    assert "Huyện Sóc Sơn" in html  # the scope label in the top bar
    assert 'src="/api/v1/cameras/soc-son/phu-linh/cong/snapshot?v=2026-11-02T07%3A00%3A00Z"' in html
    # every script is an external file or a JSON data block: nothing for CSP to block
    for tag in re.findall(r"<script[^>]*>", html):
        assert "src=" in tag or 'type="application/json"' in tag, tag


async def test_wall_filters_without_javascript(web: WebEnv) -> None:
    _seed(web)
    web.add_user("admin1", "admin")
    await web.login("admin1")
    html = await (await web.client.get("/?status=offline")).text()
    shown = re.findall(r'<article class="tile st-(\w+)"[^>]*data-key="([^"]+)"[^>]*?(hidden)?>', html)
    assert {k for _st, k, hid in shown if not hid} == {"soc-son/tien-duoc/truong"}
    assert len(shown) == 4  # all tiles are there, so the browser can re-filter live
    html = await (await web.client.get("/?q=cong%20ubnd")).text()
    assert re.search(r'data-count="all">1<', html)
    r = await web.client.get("/?status=nope")
    assert r.status == 400 and "Tham số 'status'" in html_lib.unescape(await r.text())
    assert (await web.client.get("/?commune=soc-son")).status == 400


def test_build_wall_counts_ignore_status_filter() -> None:
    cams = [
        {"key": "d/a/1", "district": "d", "commune": "a", "id": "1", "status": "ok", "name": "Đông"},
        {"key": "d/a/2", "district": "d", "commune": "a", "id": "2", "status": "offline", "name": None},
        {"key": "d/b/3", "district": "d", "commune": "b", "id": "3", "status": "ok", "name": None},
    ]
    groups, counts = build_wall(cams, {("d", "a"): "Xã A"}, WallFilter("ok", "d/a", None))
    assert counts["ok"] == 1 and counts["offline"] == 1
    assert [g.name for g in groups] == ["Xã A", "b"] and [g.shown for g in groups] == [1, 0]
    _, counts = build_wall(cams, {}, WallFilter(None, None, "dong"))
    assert sum(counts.values()) == 1  # "dong" finds "Đông"


async def test_camera_page_metrics_history_and_scope(web: WebEnv) -> None:
    _seed(web)
    web.add_transitions("soc-son/phu-linh/cho", 3)
    web.add_user("cs", "police", district="soc-son")
    await web.login("cs")
    r = await web.client.get("/cameras/soc-son/phu-linh/cho")
    assert r.status == 200
    html = await r.text()
    assert "Chợ Phù Linh" in html and "1280×720" in html and "3.5" in html
    assert "Đóng băng hình" in html and "no motion for 60 s" in html
    assert "14:02:00 02/11/2026" in html  # newest transition first, local time
    history = html[html.index('id="history"') :]
    assert history.index("14:02:00 02/11/2026") < history.index("14:00:00 02/11/2026")
    r = await web.client.get("/cameras/dong-anh/uy-no/nga-tu")
    assert r.status == 404 and "Không có camera" in await r.text()
    assert (await web.client.get("/cameras/soc-son/phu-linh/cho?before=zzz")).status == 400


async def test_history_pages_older_rows(web: WebEnv) -> None:
    web.add_camera("soc-son", "phu-linh", "cho", "ok")
    web.add_transitions("soc-son/phu-linh/cho", 55, start=datetime(2026, 11, 1, 0, 0))
    web.add_user("admin1", "admin")
    await web.login("admin1")
    html = await (await web.client.get("/cameras/soc-son/phu-linh/cho")).text()
    assert html.count("<tr><td>") == 50
    older = re.search(r'href="\?before=([0-9_]+)" id="older"', html)
    assert older
    html = await (await web.client.get(f"/cameras/soc-son/phu-linh/cho?before={older.group(1)}")).text()
    assert html.count("<tr><td>") == 5 and 'id="older"' not in html


async def test_assets_are_local_and_cache_busted(web: WebEnv) -> None:
    web.add_user("admin1", "admin")
    await web.login("admin1")
    html = await (await web.client.get("/")).text()
    urls = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert {u.split("?")[0] for u in urls} >= {"/static/app.css", "/static/live.js", "/static/wall.js"}
    assert "http://" not in html.replace("http://127.0.0.1", "") and "https://" not in html
    for u in urls:
        r = await web.client.get(u)
        assert r.status == 200 and "immutable" in r.headers["Cache-Control"], u
    r = await web.client.get("/static/wall.js")
    assert r.status == 200 and "no-cache" in r.headers["Cache-Control"]
    assert r.content_type == "text/javascript"
    assert (await web.client.get("/static/../auth.py")).status == 404
    assert (await web.client.get("/static/missing.js")).status == 404


async def test_login_page_redirects_signed_in_user(web: WebEnv) -> None:
    web.add_user("admin1", "admin")
    r = await web.client.get("/login")
    html = await r.text()
    assert "Đăng nhập" in html and "Tên đăng nhập" in html and "Mật khẩu" in html
    r = await web.login("admin1")
    assert r.status == 303
    r = await web.client.get("/login?next=/cameras/x/y/z", allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == "/cameras/x/y/z"
