"""The province wall in real Chromium with a real hub behind it: counts per commune first (problems on top),
live from `summary` deltas only, then one commune's tiles; the command-room mode and a 360 px phone. The scope
here is larger than `http.wall_tiles_max` (set to 3), as a province is."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, expect

from devtools.services import Service
from hub.compose import Hub, create_app
from hub.core import auth
from hub.core.config import DistrictConfig
from hub.core.db import utcnow
from tests.browser.browser_support import ARTIFACTS
from tests.fixtures_hub import Publisher, make_hub_config, wait_for

pytestmark = pytest.mark.browser

CAMERAS = [  # district, commune, camera, online, problems
    ("soc-son", "phu-linh", "cong", True, []),
    ("soc-son", "phu-linh", "cho", True, []),
    ("soc-son", "tien-duoc", "truong", False, ["unreachable"]),
    ("soc-son", "tien-duoc", "ngo", True, []),
    ("dong-anh", "uy-no", "nga-tu", True, []),
    ("dong-anh", "uy-no", "den", True, ["blurred"]),
]


def health(seq: int, online: bool, problems: list[str], commune: str) -> dict[str, Any]:
    return {
        "ts": time.time(),
        "seq": seq,
        "online": online,
        "agent": f"box-{commune}",  # a box reports only for its own commune
        "boot": "b",
        "problems": problems,
    }


@pytest.fixture
async def province(
    tmp_path: Path, mosquitto: Service, publisher: Publisher
) -> AsyncIterator[tuple[Hub, str, str]]:
    cfg = make_hub_config(tmp_path, mosquitto.port, None)
    cfg = cfg.model_copy(
        update={
            "http": cfg.http.model_copy(update={"wall_tiles_max": 3}),
            "districts": {
                "soc-son": DistrictConfig(
                    name="Huyện Sóc Sơn", communes={"phu-linh": "Xã Phù Linh", "tien-duoc": "Xã Tiên Dược"}
                ),
                "dong-anh": DistrictConfig(name="Huyện Đông Anh", communes={"uy-no": "Xã Uy Nỗ"}),
            },
        }
    )
    hub = Hub(cfg)
    await hub.start()
    for seq, (d, c, cam, online, problems) in enumerate(CAMERAS):
        publisher.publish(f"ops/v1/{d}/{c}/camera/{cam}/health", health(seq, online, problems, c))
    await wait_for(lambda: len(hub.views.cameras) == len(CAMERAS), what="the cameras in the hub's views")
    with hub.db.session() as s, s.begin():
        user = auth.add_user(s, "chihuy", "x", "admin", now=utcnow())
        cookie, _ = auth.create_session(s, user.id, utcnow(), 8)
    server = TestServer(create_app(cfg, hub.db, hub.events, hub.stats.snapshot, hub=hub), host="127.0.0.1")
    await server.start_server()
    try:
        yield hub, str(server.make_url("")).rstrip("/"), cookie
    finally:
        await server.close()
        await hub.stop()


async def _page(browser: Browser, base: str, cookie: str, width: int, height: int) -> tuple[Any, Page]:
    ctx = await browser.new_context(viewport={"width": width, "height": height}, locale="vi-VN")
    await ctx.add_cookies([{"name": "ops_session", "value": cookie, "url": base}])
    return ctx, await ctx.new_page()


async def test_province_wall_summary_then_one_commune(
    province: tuple[Hub, str, str], browser: Browser, publisher: Publisher
) -> None:
    hub, base, cookie = province
    ARTIFACTS.mkdir(exist_ok=True)
    problems: list[str] = []
    ctx, page = await _page(browser, base, cookie, 1920, 1080)
    page.on("pageerror", lambda e: problems.append(str(e)))
    await page.goto(base + "/")

    cards = page.locator(".area-card")
    await expect(cards).to_have_count(3)
    await expect(cards.first).to_have_attribute("data-area", "soc-son/tien-duoc")  # an offline camera: on top
    await expect(cards.first.locator(".area-name")).to_contain_text("Xã Tiên Dược")
    await expect(cards.first.locator('[data-st="offline"] b')).to_have_text("1")
    await expect(page.locator(".district-card")).to_have_count(2)
    await expect(page.locator('[data-count="all"]')).to_have_text("6")
    assert await page.locator(".tile").count() == 0  # no camera tiles for a province
    await page.evaluate("window.__noReload = true")
    # the page listens to summary deltas only: the hub builds no camera event for it
    await wait_for(lambda: hub.events.wants("summary"), what="the wall's stream")
    assert not hub.events.wants("camera", "soc-son", "phu-linh")

    # two cameras of Uy Nỗ go down: its card moves to the top, live
    publisher.publish(
        "ops/v1/dong-anh/uy-no/camera/nga-tu/health", health(10, False, ["unreachable"], "uy-no")
    )
    publisher.publish("ops/v1/dong-anh/uy-no/camera/den/health", health(11, False, ["auth_failed"], "uy-no"))
    await expect(cards.first).to_have_attribute("data-area", "dong-anh/uy-no")
    await expect(cards.first.locator('[data-st="offline"] b')).to_have_text("2")
    await expect(page.locator('[data-count="offline"]')).to_have_text("3")
    district = page.locator('.district-card[data-district="dong-anh"] [data-st="offline"] b')
    await expect(district).to_have_text("2")
    assert await page.evaluate("window.__noReload") is True

    # filters in the browser: by status, by name without diacritics
    await page.select_option("#f-status", "offline")
    await expect(page.locator(".area-card:visible")).to_have_count(2)
    await page.select_option("#f-status", "")
    await page.fill("#f-q", "phu linh")
    await expect(page.locator(".area-card:visible")).to_have_count(1)
    await page.fill("#f-q", "")
    await page.screenshot(path=str(ARTIFACTS / "wall-province-1920.png"), full_page=True)

    # drill down: one commune's tiles, and its cameras' events only
    await page.locator('.area-card[data-area="soc-son/phu-linh"]').click()
    await expect(page).to_have_url(base + "/?commune=soc-son%2Fphu-linh")
    await expect(page.locator(".tile")).to_have_count(2)
    await expect(page.locator("#back-link")).to_have_text("← Tất cả xã")
    await wait_for(lambda: hub.events.wants("camera", "soc-son", "phu-linh"), what="the commune's stream")
    assert not hub.events.wants("camera", "dong-anh", "uy-no")
    publisher.publish("ops/v1/soc-son/phu-linh/camera/cho/health", health(12, True, ["frozen"], "phu-linh"))
    tile = page.locator('.tile[data-key="soc-son/phu-linh/cho"]')
    await expect(tile.locator(".badge")).to_have_text("Có sự cố")
    await expect(tile.locator(".problems li")).to_have_text(["Đóng băng hình"])
    await page.locator("#back-link").click()
    await expect(page.locator(".area-card")).to_have_count(3)

    # the command room: the same summary, large, and a commune opens in the same mode
    await page.goto(base + "/?tv=1")
    await expect(page.locator("body")).to_have_class("app tv")
    await expect(cards.first).to_have_attribute("data-area", "dong-anh/uy-no")
    size = await cards.first.locator(".area-name").evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    assert size >= 20
    await page.screenshot(path=str(ARTIFACTS / "wall-province-tv.png"))
    await cards.first.click()
    await expect(page).to_have_url(base + "/?commune=dong-anh%2Fuy-no&tv=1")
    await expect(page.locator(".tile.st-offline")).to_have_count(2)

    # a phone: two cards a row, no sideways scrolling
    phone, mobile = await _page(browser, base, cookie, 360, 740)
    await mobile.goto(base + "/")
    await expect(mobile.locator(".area-card")).to_have_count(3)
    width = await mobile.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"no sideways scrolling on a phone (page is {width}px wide)"
    await mobile.screenshot(path=str(ARTIFACTS / "wall-province-360.png"), full_page=True)
    await phone.close()
    await ctx.close()
    assert not problems, problems
