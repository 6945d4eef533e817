"""The camera wall in real Chromium: log in, see the wall, watch a camera change without a reload, filter,
see the lost-connection banner; screenshots at 360 px and 1920 px go to test-artifacts/."""

from __future__ import annotations

import asyncio

import cv2
import numpy as np
import pytest
from playwright.async_api import Browser, Page, expect

from hub.core.db import Camera, Transition
from hub.core.serialize import camera_to_dict, iso
from tests.browser.browser_support import ARTIFACTS
from tests.fixtures_web import PASSWORD, T0, WebEnv

pytestmark = pytest.mark.browser


def _jpeg(colour: tuple[int, int, int], label: str) -> bytes:
    img = np.zeros((180, 320, 3), np.uint8)
    img[:] = colour
    cv2.rectangle(img, (20, 110), (300, 160), (40, 40, 40), -1)
    cv2.putText(img, label, (30, 145), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (255, 255, 255), 2)
    ok, buf = cv2.imencode(".jpg", img)
    assert ok
    return buf.tobytes()


def _seed(web: WebEnv) -> None:
    web.add_area("soc-son", "tien-duoc", "Xã Tiên Dược")
    cams = [
        ("phu-linh", "cong-ubnd", "ok", "Cổng UBND xã", []),
        ("phu-linh", "cho", "ok", "Chợ Phù Linh", []),
        ("phu-linh", "nha-van-hoa", "problem", "Nhà văn hoá thôn Đông", ["blurred"]),
        ("tien-duoc", "truong-hoc", "offline", "Trường tiểu học", ["unreachable"]),
        ("tien-duoc", "ngã-ba", "stale", "Ngã ba Tiên Dược", []),
        ("tien-duoc", "tram-y-te", "unknown", None, []),
    ]
    for commune, slug, status, name, problems in cams:
        slug = slug.replace("ã", "a")
        web.add_camera("soc-son", commune, slug, status, name=name, status_since=T0, online=status == "ok")
        with web.db.session() as s, s.begin():
            cam = s.get(Camera, f"soc-son/{commune}/{slug}")
            assert cam is not None
            cam.problems = problems
    web.add_snapshot("soc-son/phu-linh/cong-ubnd", _jpeg((60, 140, 60), "cong-ubnd"))
    web.add_snapshot("soc-son/phu-linh/cho", _jpeg((140, 90, 40), "cho"))
    web.add_snapshot("soc-son/tien-duoc/truong-hoc", _jpeg((50, 50, 150), "truong-hoc"))
    web.add_camera("dong-anh", "uy-no", "ngoai-pham-vi", "ok", name="Ngoài phạm vi")
    web.add_transitions("soc-son/phu-linh/cho", 2)


async def images_loaded(page: Page) -> None:
    """Polls from outside the page: Playwright's wait_for_function needs eval, which our CSP forbids."""
    for _ in range(100):
        if await page.evaluate("Array.from(document.images).every(i => i.complete)"):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("images did not load")


async def _login(page: Page, base: str) -> None:
    await page.goto(base + "/")
    await expect(page).to_have_url(base + "/login?next=/")
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "login.png"))
    await page.fill("#username", "cs.socson")
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await expect(page).to_have_url(base + "/")


def _update(web: WebEnv, key: str, **changes: object) -> dict[str, object]:
    with web.db.session() as s, s.begin():
        cam = s.get(Camera, key)
        assert cam is not None
        for k, v in changes.items():
            setattr(cam, k, v)
        return camera_to_dict(cam)


async def test_wall_live_updates_filters_and_banner(web: WebEnv, browser: Browser) -> None:
    _seed(web)
    web.add_user("cs.socson", "police", district="soc-son")
    base = str(web.client.make_url("")).rstrip("/")
    problems: list[str] = []
    ctx = await browser.new_context(viewport={"width": 1920, "height": 1080}, locale="vi-VN")
    page = await ctx.new_page()
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    snapshot_requests: list[str] = []
    page.on("request", lambda r: snapshot_requests.append(r.url) if "/snapshot" in r.url else None)
    await _login(page, base)

    cho = page.locator('.tile[data-key="soc-son/phu-linh/cho"]')
    await expect(cho.locator(".badge")).to_have_text("Hoạt động")
    await expect(page.locator(".group h2").first).to_contain_text("Xã Phù Linh")
    await expect(page.locator('.group[data-area="soc-son/tien-duoc"] h2')).to_contain_text("Xã Tiên Dược")
    await expect(page.locator('.tile[data-key="soc-son/tien-duoc/truong-hoc"] .problems')).to_have_text(
        "Không kết nối được"
    )
    await expect(page.locator('[data-count="ok"]')).to_have_text("2")
    assert await page.locator('.tile[data-key^="dong-anh/"]').count() == 0  # outside the user's district
    await page.evaluate("window.__noReload = true")
    # the stream is up once hello arrived: the live clock ticks and no banner shows
    await expect(page.locator("#conn-banner")).to_be_hidden()

    # a camera breaks: the database changes and the runtime publishes on the bus; the tile follows
    web.events.publish(
        {
            "type": "camera",
            "camera": _update(
                web, "soc-son/phu-linh/cho", status="problem", problems=["covered", "frozen"], status_since=T0
            ),
        }
    )
    await expect(cho.locator(".badge")).to_have_text("Có sự cố")
    await expect(cho.locator(".problems li")).to_have_text(["Bị che", "Đóng băng hình"])
    await expect(cho).to_have_class("tile st-problem")
    await expect(page.locator('[data-count="ok"]')).to_have_text("1")
    await expect(page.locator('[data-count="problem"]')).to_have_text("2")
    # a new snapshot: the image URL changes (cache-busted), still without a reload
    web.add_snapshot("soc-son/phu-linh/cho", _jpeg((30, 30, 200), "new"), ts=T0.replace(minute=5))
    web.events.publish({"type": "snapshot", "key": "soc-son/phu-linh/cho", "ts": iso(T0.replace(minute=5))})
    await expect(cho.locator("img")).to_have_attribute(
        "src", "/api/v1/cameras/soc-son/phu-linh/cho/snapshot?v=2026-11-02T07%3A05%3A00Z"
    )
    # a camera that did not exist at load time appears in its commune
    web.add_camera("soc-son", "phu-linh", "bai-xe", "ok", name="Bãi xe")
    with web.db.session() as s:
        new_cam = s.get(Camera, "soc-son/phu-linh/bai-xe")
        assert new_cam is not None
        web.events.publish({"type": "camera", "camera": camera_to_dict(new_cam)})
    await expect(page.locator('.tile[data-key="soc-son/phu-linh/bai-xe"] .cam-name')).to_have_text("Bãi xe")
    assert await page.evaluate("window.__noReload") is True

    # filters work in the browser: diacritic-free search, then a status filter
    await page.fill("#f-q", "nha van hoa")
    await expect(page.locator(".tile:visible")).to_have_count(1)
    await expect(page.locator('[data-count="all"]')).to_have_text("1")
    await page.fill("#f-q", "")
    await page.select_option("#f-status", "problem")
    await expect(page.locator(".tile:visible")).to_have_count(2)
    assert "status=problem" in page.url
    await page.select_option("#f-status", "")
    await page.evaluate("window.scrollTo(0, 0)")
    await images_loaded(page)
    # the live stream's hello re-renders every tile, yet an unchanged picture is fetched only once
    assert len([u for u in snapshot_requests if "/cong-ubnd/snapshot" in u]) == 1, snapshot_requests
    await page.screenshot(path=str(ARTIFACTS / "wall-1920.png"), full_page=True)

    # the detail page of that camera
    await cho.locator("a").click()
    await expect(page).to_have_url(base + "/cameras/soc-son/phu-linh/cho")
    await expect(page.locator("#status-label")).to_have_text("Có sự cố")
    await expect(page.locator("#history tbody tr")).to_have_count(2)
    # recovery: the runtime writes the transition, then publishes; the history table follows without reload
    with web.db.session() as s, s.begin():
        s.add(
            Transition(
                subject_kind="camera",
                subject_key="soc-son/phu-linh/cho",
                district="soc-son",
                commune="phu-linh",
                at=T0.replace(minute=30),
                from_status="problem",
                to_status="ok",
                problems=[],
                reason=None,
            )
        )
    web.events.publish(
        {"type": "camera", "camera": _update(web, "soc-son/phu-linh/cho", status="ok", problems=[], fps=24.0)}
    )
    await expect(page.locator("#status-label")).to_have_text("Hoạt động")
    await expect(page.locator('[data-m="fps"]')).to_have_text("24.0")
    rows = page.locator("#history tbody tr")
    await expect(rows).to_have_count(3)
    await expect(rows.first).to_contain_text("14:30:00 02/11/2026")
    await expect(rows.first.locator("td").nth(2)).to_have_text("Hoạt động")
    await page.screenshot(path=str(ARTIFACTS / "camera-1920.png"), full_page=True)

    # phone width
    phone = await browser.new_context(
        viewport={"width": 360, "height": 740}, device_scale_factor=2, locale="vi-VN"
    )
    await phone.add_cookies(await ctx.cookies())
    mobile = await phone.new_page()
    mobile.on("pageerror", lambda e: problems.append(str(e)))
    await mobile.goto(base + "/")
    await expect(mobile.locator('.tile[data-key="soc-son/phu-linh/cho"] .badge')).to_have_text("Hoạt động")
    width = await mobile.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"no sideways scrolling on a phone (page is {width}px wide)"
    await images_loaded(mobile)
    await mobile.screenshot(path=str(ARTIFACTS / "wall-360.png"), full_page=True)

    # the bus drops the stream (as for a client that fell behind): the page reconnects by itself and the
    # fresh hello brings what changed meanwhile
    await page.goto(base + "/")
    await expect(page.locator("#conn-banner")).to_be_hidden()
    web.events.close()
    _update(web, "soc-son/phu-linh/cong-ubnd", status="offline", problems=["auth_failed"])
    cong = page.locator('.tile[data-key="soc-son/phu-linh/cong-ubnd"]')
    await expect(cong.locator(".problems")).to_have_text("Sai mật khẩu", timeout=15_000)
    await expect(page.locator("#conn-banner")).to_be_hidden()

    # the server goes away: the banner says so
    await web.client.server.close()  # type: ignore[union-attr]
    await expect(page.locator("#conn-banner")).to_be_visible()
    await expect(page.locator("#conn-banner")).to_have_text("Mất kết nối máy chủ — đang thử kết nối lại…")
    await page.screenshot(path=str(ARTIFACTS / "wall-disconnected.png"))
    await phone.close()
    await ctx.close()
    assert not [p for p in problems if "ERR_CONNECTION_REFUSED" not in p and "EventSource" not in p], problems
