"""The map in real Chromium at 1920 px and 360 px, on the demo's PMTiles base map served by the hub: markers for
camera points and speakers, clusters at low zoom, a point turning red live when its camera goes offline, the
filters, a click through to the camera's page, no console error and no request leaving the hub; and on a
province-style tile server (a local stand-in) that the page's policy lets in."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from aiohttp import web as aioweb
from playwright.async_api import Browser, Page, expect

from devtools.pmtiles_demo import tile_png
from devtools.services import free_port
from hub.core.camera_points import CameraPoint
from hub.core.db import Camera
from hub.core.serialize import camera_to_dict
from hub.core.speaker_models import Speaker
from hub.map.config import MapConfig
from tests.browser.browser_support import ARTIFACTS
from tests.fixtures_web import PASSWORD, WebEnv

pytestmark = pytest.mark.browser
D, C = "soc-son", "phu-linh"
PMTILES = Path(__file__).resolve().parents[2] / "config" / "demo" / "yen-dinh.pmtiles"
# Inside the demo base map (Yên Định): three points of a market a few hundred metres apart, one farther off.
POINTS = [
    (C, "cho", "Chợ", 20.0000, 105.6000, [("cong-cho", "ok", "security"), ("bai-xe", "ok", "traffic")]),
    (C, "ubnd", "UBND xã", 20.0020, 105.6025, [("cong-ubnd", "ok", "security")]),
    (C, "nga-ba", "Ngã ba", 19.9985, 105.6030, [("nga-ba", "problem", "traffic")]),
    ("tien-duoc", "truong", "Trường", 20.0400, 105.6600, [("cong-truong", "unknown", None)]),
]


def _seed(web: WebEnv) -> None:
    web.add_area(D, "tien-duoc", "Xã Tiên Dược")
    with web.db.session() as s, s.begin():
        for commune, slug, name, lat, lon, _ in POINTS:
            s.add(CameraPoint(key=f"{D}/{commune}/{slug}", district=D, commune=commune, slug=slug, name=name,
                              lat=lat, lon=lon))  # fmt: skip
        s.add(Speaker(key=f"{D}/{C}/loa-cho", district=D, commune=C, slug="loa-cho", name="Loa chợ",
                      lat=20.0010, lon=105.5990, status="online"))  # fmt: skip
    for commune, point, _, _, _, cams in POINTS:
        for slug, status, purpose in cams:
            web.add_camera(D, commune, slug, status, name=slug.replace("-", " ").title(), point=point,
                           purpose=purpose)  # fmt: skip


def _watch(page: Page, problems: list[str], outside: list[str]) -> None:
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on(
        "request",
        lambda r: (
            outside.append(r.url)
            if urlsplit(r.url).hostname not in ("127.0.0.1", "localhost")
            and not r.url.startswith(("data:", "blob:"))
            else None
        ),
    )


async def _ready(page: Page) -> None:
    await expect(page.locator("#map[data-ready=true]")).to_have_count(1)


async def test_map_live_clusters_filters_and_click(web: WebEnv, browser: Browser) -> None:
    web.ctx.config.map = MapConfig(base="pmtiles", pmtiles_file=PMTILES, attribution="Demo")  # type: ignore[attr-defined]
    _seed(web)
    web.add_user("quantri", "admin")
    base = str(web.client.make_url("")).rstrip("/")
    problems: list[str] = []
    outside: list[str] = []
    tile_ranges: list[str] = []
    ctx = await browser.new_context(viewport={"width": 1920, "height": 1080}, locale="vi-VN")
    page = await ctx.new_page()
    _watch(page, problems, outside)
    page.on(
        "request",
        lambda r: tile_ranges.append(r.headers.get("range", "")) if "base.pmtiles" in r.url else None,
    )
    await page.goto(base + "/login?next=/map")
    await page.fill("#username", "quantri")
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await expect(page).to_have_url(base + "/map")
    await _ready(page)
    await expect(page.locator('.nav a[aria-current="page"]')).to_have_text("Bản đồ")

    # fitted to everything: the market's markers are one cluster, coloured by its worst marker (a problem);
    # the school, farther off, stands alone; every commune is labelled
    pins, cluster = page.locator(".map-pin"), page.locator(".map-cluster")
    await expect(cluster).to_have_count(1)
    await expect(cluster).to_have_text("4")
    await expect(cluster).to_have_class(re.compile(r"\bst-problem\b"))
    await expect(pins).to_have_count(1)
    await expect(page.locator(".map-commune")).to_have_count(2)
    assert any(r.startswith("bytes=") for r in tile_ranges), tile_ranges  # the base map came by ranges
    await page.screenshot(path=str(ARTIFACTS / "map-1920-clustered.png"))

    # zoomed in on the market: each point and the speaker is a marker of its own colour
    await page.evaluate("OPS_MAP.map.setView([20.0, 105.6], 16, {animate: false})")
    await expect(pins).to_have_count(4)
    await expect(cluster).to_have_count(0)
    await expect(page.locator('.map-pin[data-key="point:soc-son/phu-linh/nga-ba"]')).to_have_class(
        re.compile(r"\bmap-point st-problem\b")
    )
    await expect(page.locator('.map-pin[data-key="speaker:soc-son/phu-linh/loa-cho"]')).to_have_attribute(
        "data-status", "ok"
    )

    # a camera of the market point goes offline: the point turns red without a reload
    await page.evaluate("window.__noReload = true")
    with web.db.session() as s, s.begin():
        cam = s.get(Camera, f"{D}/{C}/bai-xe")
        assert cam is not None
        cam.status = "offline"
        web.events.publish({"type": "camera", "camera": camera_to_dict(cam)})
    cho = page.locator('.map-pin[data-key="point:soc-son/phu-linh/cho"]')
    await expect(cho).to_have_attribute("data-status", "offline")
    await expect(cho).to_have_class(re.compile(r"\bst-offline\b"))
    assert await page.evaluate("window.__noReload") is True
    await page.screenshot(path=str(ARTIFACTS / "map-1920.png"))
    # zoomed out again, the cluster takes the new worst colour
    await page.evaluate("OPS_MAP.map.setZoom(12, {animate: false})")
    await expect(cluster).to_have_class(re.compile(r"\bst-offline\b"))
    await page.evaluate("OPS_MAP.map.setView([20.0, 105.6], 16, {animate: false})")
    await expect(pins).to_have_count(4)

    # filters: purpose, status, commune, kind
    await page.select_option("#f-purpose", "traffic")
    await expect(pins).to_have_count(2)  # the market (one of its two) and the crossroads
    await page.select_option("#f-purpose", "")
    await page.select_option("#f-status", "offline")
    await expect(pins).to_have_count(1)
    await page.select_option("#f-status", "")
    await page.select_option("#f-kind", "speaker")
    await expect(pins).to_have_count(1)
    await expect(pins).to_have_attribute("data-key", "speaker:soc-son/phu-linh/loa-cho")
    await page.select_option("#f-kind", "")
    await page.select_option("#f-commune", f"{D}/tien-duoc")
    await expect(pins).to_have_count(1)  # the map moved to the commune's one point
    await expect(pins).to_have_attribute("data-key", "point:soc-son/tien-duoc/truong")
    await page.select_option("#f-commune", "")
    await page.evaluate("OPS_MAP.map.setView([20.0, 105.6], 16, {animate: false})")

    # a point of two cameras opens a list; a point of one goes straight to its camera
    await cho.click()
    await expect(page.locator(".map-popup li")).to_have_count(2)
    await expect(page.locator(".map-popup li").first).to_contain_text("Bai Xe · Mất kết nối · Giao thông")
    await page.locator('.map-pin[data-key="point:soc-son/phu-linh/ubnd"]').click(force=True)
    await expect(page).to_have_url(base + "/cameras/soc-son/phu-linh/cong-ubnd")

    # phone width: the same map, no sideways scrolling
    phone = await browser.new_context(
        viewport={"width": 360, "height": 740}, device_scale_factor=2, locale="vi-VN"
    )
    await phone.add_cookies(await ctx.cookies())
    mobile = await phone.new_page()
    _watch(mobile, problems, outside)
    await mobile.goto(base + "/map")
    await _ready(mobile)
    await expect(mobile.locator(".map-pin, .map-cluster").first).to_be_visible()
    width = await mobile.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"no sideways scrolling on a phone (page is {width}px wide)"
    await mobile.screenshot(path=str(ARTIFACTS / "map-360.png"), full_page=True)
    await mobile.locator('.map-pin[data-key="speaker:soc-son/phu-linh/loa-cho"], .map-cluster').first.click()
    assert problems == [], problems
    assert outside == [], outside
    await phone.close()
    await ctx.close()


async def _tile_server(served: list[str]) -> aioweb.AppRunner:
    """A stand-in for a province's tile server (this machine reaches none): XYZ PNG tiles on another local
    port, drawn by the demo base map's generator (a graticule) wherever they are asked for."""

    async def tile(request: aioweb.Request) -> aioweb.Response:
        z, x, y = (int(request.match_info[k]) for k in ("z", "x", "y"))
        served.append(f"{z}/{x}/{y}")
        return aioweb.Response(body=tile_png(z, x, y), content_type="image/png")

    app = aioweb.Application()
    app.router.add_get(r"/{z:\d+}/{x:\d+}/{y:\d+}.png", tile)
    runner = aioweb.AppRunner(app)
    await runner.setup()
    return runner


async def test_map_on_a_tile_server(web: WebEnv, browser: Browser) -> None:
    """base: tiles: the page's policy lets the tile server's images in (no CSP violation in the console)."""
    served: list[str] = []
    runner = await _tile_server(served)
    port = free_port()
    await aioweb.TCPSite(runner, "127.0.0.1", port).start()
    try:
        web.ctx.config.map = MapConfig(  # type: ignore[attr-defined]
            base="tiles",
            tiles_url=f"http://127.0.0.1:{port}/{{z}}/{{x}}/{{y}}.png",
            max_zoom=13,
            center=(20.0, 105.6),
        )
        web.add_user("quantri", "admin")
        base = str(web.client.make_url("")).rstrip("/")
        problems: list[str] = []
        ctx = await browser.new_context(viewport={"width": 360, "height": 740}, locale="vi-VN")
        page = await ctx.new_page()
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        await page.goto(base + "/login?next=/map")
        await page.fill("#username", "quantri")
        await page.fill("#password", PASSWORD)
        await page.click("button[type=submit]")
        await _ready(page)
        await expect(page.locator("#map-empty")).to_be_visible()  # nothing positioned yet: said so
        await expect(page.locator(".leaflet-tile-loaded").first).to_be_attached()
        assert served, "the page asked the tile server"
        assert problems == [], problems
        await ctx.close()
    finally:
        await runner.cleanup()
