"""Camera detail charts and the command-room wall in real Chromium. History comes from a real InfluxDB
holding points written by the hub's own line builder; screenshots (camera page at 1920 and 360 px, the TV
wall at 1920 px, the normal wall at 360 px) go to test-artifacts/."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from devtools.services import Service
from hub.compose import HubConfig
from hub.core.config import DistrictConfig, HttpConfig, InfluxConfig
from hub.core.db import Camera
from hub.core.influx_retention import RetentionV1
from hub.core.serialize import camera_to_dict
from tests.browser.browser_support import ARTIFACTS
from tests.browser.test_browser_wall import _jpeg, _login
from tests.fixtures_web import T0, WebEnv
from tests.hub.web.test_camera_history import write_health

pytestmark = pytest.mark.browser
D = "soc-son"
COMMUNES = {"phu-linh": "Xã Phù Linh", "tien-duoc": "Xã Tiên Dược", "minh-tri": "Xã Minh Trí"}
PER_COMMUNE = 8


@pytest.fixture
def web_config(tmp_path: Path, influxd: Service, influx_db: str) -> HubConfig:
    return HubConfig(
        data_dir=tmp_path / "hub",
        http=HttpConfig(public_url="http://127.0.0.1:8080", secure_cookies=False),
        influx=InfluxConfig(url=influxd.url, database=influx_db),
        districts={D: DistrictConfig(name="Huyện Sóc Sơn", communes=COMMUNES)},
    )


async def seed(web: WebEnv, influxd: Service, db: str) -> None:
    # InfluxDB's layout as the hub makes it at start: the page reads raw points from "raw"
    await RetentionV1(web.ctx.config.influx, dict).apply(int(time.time() * 1000))
    for n, commune in enumerate(COMMUNES):
        for i in range(PER_COMMUNE):
            status = "ok"
            if commune == "minh-tri" and i == 5:
                status = "offline"
            web.add_camera(
                D, commune, f"cam-{i}", status, name=f"Camera số {i + 1} {commune}", status_since=T0
            )
            if i < 3:
                web.add_snapshot(f"{D}/{commune}/cam-{i}", _jpeg((40 + 60 * n, 120, 90), f"{commune} {i}"))
    now = time.time()
    probes = []
    for k in range(60):  # two hours, one probe every 2 minutes; an outage in the middle
        down = 25 <= k < 32
        p: dict[str, object] = {"ts": now - 7200 + k * 120, "seq": k, "online": not down}
        if down:
            p["problems"] = ["unreachable"]
        else:
            p.update(
                fps=9.5 + (k % 5) * 0.2,
                brightness=110.0 + k % 7,
                sharpness=300.0 - k,
                motion=2.0,
                open_ms=800.0,
            )
        probes.append(p)
    write_health(influxd, db, probes, camera="cam-0")


def _bad_console(messages: list[str]) -> list[str]:
    return [m for m in messages if "EventSource" not in m and "ERR_CONNECTION_REFUSED" not in m]


async def test_camera_charts_and_command_result(
    web: WebEnv, browser: Browser, influxd: Service, influx_db: str
) -> None:
    await seed(web, influxd, influx_db)
    web.add_user("cs.socson", "technician", district=D)
    base = str(web.client.make_url("")).rstrip("/")
    problems: list[str] = []
    ctx = await browser.new_context(viewport={"width": 1920, "height": 1080}, locale="vi-VN")
    page = await ctx.new_page()
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    await _login(page, base)
    await page.goto(base + f"/cameras/{D}/phu-linh/cam-0")

    fps = page.locator('.chart[data-metric="fps"]')
    await expect(fps).to_have_attribute("data-loaded", "24h")
    await expect(fps.locator("svg polygon.band").first).to_be_attached()
    assert await fps.locator("svg polyline.mean").count() == await fps.locator("svg polygon.band").count()
    await expect(fps.locator(".chart-latest")).to_contain_text("Mới nhất")
    status = page.locator('.chart[data-metric="status"]')
    await expect(status).to_have_attribute("data-loaded", "24h")
    assert await status.locator("rect.strip.st-offline").count() >= 1
    assert await status.locator("rect.strip.st-ok").count() >= 1
    # the outage splits the fps line into two runs on a 6 h range (2-minute buckets)
    await page.click('[data-range="6h"]')
    await expect(fps).to_have_attribute("data-loaded", "6h")
    await expect(fps.locator("svg polyline.mean")).to_have_count(2)
    await expect(page.locator('[data-range="6h"]')).to_have_attribute("aria-pressed", "true")
    await expect(page.locator('.chart[data-metric="motion"]')).to_have_attribute("data-loaded", "6h")
    await page.screenshot(path=str(ARTIFACTS / "camera-charts-1920.png"), full_page=True)

    # a command button on a web server without MQTT: the answer is shown, the buttons come back
    await page.click('button[data-action="probe"]')
    result = page.locator("#command-result")
    await expect(result).to_have_text("Máy chủ web này không kết nối MQTT nên không gửi được lệnh")
    await expect(result).to_have_class("command-result failed")
    await expect(page.locator('button[data-action="probe"]')).to_be_enabled()
    problems.remove(
        "Failed to load resource: the server responded with a status of 503 (Service Unavailable)"
    )

    phone = await browser.new_context(
        viewport={"width": 360, "height": 740}, device_scale_factor=2, locale="vi-VN"
    )
    await phone.add_cookies(await ctx.cookies())  # type: ignore[arg-type]
    mobile = await phone.new_page()
    mobile.on("pageerror", lambda e: problems.append(str(e)))
    await mobile.goto(base + f"/cameras/{D}/phu-linh/cam-0")
    await expect(mobile.locator('.chart[data-metric="brightness"] svg')).to_have_count(1)
    width = await mobile.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"no sideways scrolling on a phone (page is {width}px wide)"
    await mobile.screenshot(path=str(ARTIFACTS / "camera-charts-360.png"), full_page=True)
    await phone.close()
    await ctx.close()
    assert not _bad_console(problems), problems


async def shown_images_loaded(page: Page) -> None:
    """Lazy images off screen (other pages, below the fold) do not load; wait for the ones on screen."""
    js = (
        "Array.from(document.images).filter(i => i.offsetParent !== null && "
        "i.getBoundingClientRect().top < innerHeight).every(i => i.complete)"
    )
    for _ in range(100):
        if await page.evaluate(js):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("images did not load")


async def visible_groups(page: Page) -> list[str]:
    return [
        await g.get_attribute("data-area") or ""
        for g in await page.locator(".group").all()
        if await g.is_visible()
    ]


async def test_command_room_mode(web: WebEnv, browser: Browser, influxd: Service, influx_db: str) -> None:
    await seed(web, influxd, influx_db)
    web.add_user("cs.socson", "police", district=D)
    base = str(web.client.make_url("")).rstrip("/")
    problems: list[str] = []
    ctx = await browser.new_context(viewport={"width": 1920, "height": 1080}, locale="vi-VN")
    page = await ctx.new_page()
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    await _login(page, base)
    await page.click("#tv-link")
    await expect(page).to_have_url(base + "/?tv=1")
    await expect(page.locator(".topbar")).to_be_hidden()
    await expect(page.locator("#filters")).to_be_hidden()
    await expect(page.locator("#clock")).not_to_be_empty()
    # the commune with an offline camera comes first, its offline camera first in it
    await expect(page.locator(".group").first).to_have_attribute("data-area", f"{D}/minh-tri")
    await expect(page.locator(".group").first.locator(".tile").first).to_have_attribute(
        "data-status", "offline"
    )
    # 24 large tiles do not fit one 1080 px screen: one page at a time, with its number
    await expect(page.locator("#tv-page")).to_contain_text("Trang 1/")
    shown = await visible_groups(page)
    assert shown and len(shown) < len(COMMUNES), shown
    font = await page.evaluate("parseFloat(getComputedStyle(document.querySelector('.cam-name')).fontSize)")
    assert font >= 20, f"tile names must read from across a room ({font}px)"
    await shown_images_loaded(page)
    await page.screenshot(path=str(ARTIFACTS / "wall-tv-1920.png"))

    # live: two cameras of Tiên Dược break; that commune moves to the front without a reload
    await page.evaluate("window.__noReload = true")
    for i in (2, 6):
        with web.db.session() as s, s.begin():
            cam = s.get(Camera, f"{D}/tien-duoc/cam-{i}")
            assert cam is not None
            cam.status, cam.problems = "problem", ["frozen"]
            doc = camera_to_dict(cam)
        web.events.publish({"type": "camera", "camera": doc})
    await expect(page.locator(".group").first).to_have_attribute("data-area", f"{D}/tien-duoc")
    first = page.locator(".group").first.locator(".tile")
    await expect(first.nth(0)).to_have_attribute("data-status", "problem")
    await expect(first.nth(1)).to_have_attribute("data-status", "problem")
    await expect(page.locator('[data-count="problem"]')).to_have_text("2")
    assert await page.evaluate("window.__noReload") is True

    # the normal wall at phone width keeps its menus and the link to the command-room mode
    phone = await browser.new_context(
        viewport={"width": 360, "height": 740}, device_scale_factor=2, locale="vi-VN"
    )
    await phone.add_cookies(await ctx.cookies())  # type: ignore[arg-type]
    mobile = await phone.new_page()
    mobile.on("pageerror", lambda e: problems.append(str(e)))
    await mobile.goto(base + "/")
    await expect(mobile.locator(".topbar")).to_be_visible()
    await expect(mobile.locator("#tv-link")).to_be_visible()
    width = await mobile.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"no sideways scrolling on a phone (page is {width}px wide)"
    await shown_images_loaded(mobile)
    await mobile.screenshot(path=str(ARTIFACTS / "wall-normal-360.png"))
    await phone.close()
    await ctx.close()
    assert not _bad_console(problems), problems
