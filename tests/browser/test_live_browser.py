"""The live page in real Chromium at 360 px with its fake microphone (a beep): pick a village, start, the level
meter moves, the hub's session receives the phone's audio and one receiver is listening, stop ends it.
Screenshots go to test-artifacts/."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from devtools.services import Service
from hub.compose import Hub
from tests.browser.browser_support import ARTIFACTS, CHROMIUM_ARGS, MEDIA_ARGS
from tests.fixtures_hub import wait_for
from tests.live_hub_support import PASSWORD, live_hub, live_receivers

pytestmark = pytest.mark.browser
SPEAKERS = ("loa-1",)


@pytest.fixture
def chromium_args() -> list[str]:
    return CHROMIUM_ARGS + MEDIA_ARGS


@pytest.fixture
async def running(tmp_path: Path, mosquitto: Service) -> AsyncIterator[Hub]:
    async with live_hub(tmp_path, mosquitto.port, SPEAKERS) as h:
        yield h


@pytest.fixture
def receivers(tmp_path: Path, mosquitto: Service, running: Hub) -> Iterator[dict[str, Path]]:
    with live_receivers(tmp_path, mosquitto.port, running, SPEAKERS) as dirs:
        yield dirs


async def test_live_page_speaks_to_the_speakers(
    running: Hub, receivers: dict[str, Path], browser: Browser
) -> None:
    h = running
    live = h.broadcast.live
    assert live is not None
    base = h.config.http.public_url
    ctx = await browser.new_context(
        viewport={"width": 360, "height": 780}, locale="vi-VN", is_mobile=True, has_touch=True
    )
    await ctx.grant_permissions(["microphone"], origin=base)
    page = await ctx.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    ARTIFACTS.mkdir(exist_ok=True)

    await page.goto(f"{base}/login?next=/broadcasts/live")
    await page.fill("#username", "chutich")
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await expect(page).to_have_url(base + "/broadcasts/live")
    await expect(page.locator("#live-state")).to_have_text("Sẵn sàng")
    # fits the phone: nothing wider than the screen
    assert await page.evaluate("document.documentElement.scrollWidth") <= 360
    await page.screenshot(path=str(ARTIFACTS / "broadcast-live-360.png"), full_page=True)

    await page.check("input[name=villages][value=thon-1]")
    await page.click("#live-start")
    await expect(page.locator("#live-state")).to_have_text("Đang phát trực tiếp tới 1 loa")
    await expect(page.locator("#live-listeners")).to_have_text("Loa đang nghe: 1/1", timeout=15_000)
    await wait_for(
        lambda: live.session is not None and live.session.bytes_in > 2000, 15, "audio from the page"
    )
    # the Web Audio meter follows the fake microphone's beep
    levels = []
    for _ in range(50):
        levels.append(await page.evaluate("document.querySelector('#live-level').value"))
        if levels[-1] > 0.01:
            break
        await asyncio.sleep(0.1)
    assert max(levels) > 0.01, levels
    await page.screenshot(path=str(ARTIFACTS / "broadcast-live-on-air-360.png"), full_page=True)
    sid = live.session.session_id if live.session else ""
    await page.click("#live-stop")
    await expect(page.locator("#live-state")).to_have_text("Đã kết thúc phiên phát", timeout=15_000)
    await wait_for(lambda: sid in live.recordings, 15, "recording kept")
    assert live.recordings[sid].stat().st_size > 0
    assert await page.evaluate("document.querySelector('#live-level').value") == 0  # microphone released
    assert problems == []
    await ctx.close()
