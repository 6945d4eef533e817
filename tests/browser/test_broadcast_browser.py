"""Speakers page, airing report and playout history in real Chromium at phone width: the speaker table follows
a change in the database without a reload; screenshots at 360 px go to test-artifacts/."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from hub.core.speaker_models import Speaker
from tests.broadcast.test_broadcast_reporting import C, D, T, seed
from tests.browser.browser_support import ARTIFACTS
from tests.fixtures_web import PASSWORD, WebEnv

pytestmark = pytest.mark.browser


async def test_speakers_history_and_report_on_a_phone(web: WebEnv, browser: Browser) -> None:
    seed(web)
    web.set_clock(lambda: T)
    web.add_user("duyet", role="approver", district=D, commune=C)
    ARTIFACTS.mkdir(exist_ok=True)
    base = str(web.client.make_url(""))
    ctx = await browser.new_context(viewport={"width": 360, "height": 780}, locale="vi-VN")
    page = await ctx.new_page()
    await page.goto(base + "/login")
    await page.fill("input[name=username]", "duyet")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.goto(base + f"/speakers?commune={C}")
    row = page.locator(f'tr[data-key="{D}/{C}/loa-3"]')
    await expect(row.locator('[data-f="status"]')).to_have_text("Mất kết nối")
    await expect(page.locator("a[href='/speakers']")).to_have_attribute("aria-current", "page")
    with web.db.session() as s, s.begin():
        sp = s.get(Speaker, f"{D}/{C}/loa-3")
        assert sp is not None
        sp.status, sp.volume, sp.playing = "online", 55, "tb-1"
    # the page refreshes itself every 5 s
    await expect(row.locator('[data-f="status"]')).to_have_text("Trực tuyến", timeout=15_000)
    await expect(row.locator('[data-f="volume"]')).to_have_text("55")
    await expect(row.locator('[data-f="playing"] a')).to_have_attribute("href", "/broadcasts/airings/tb-1")
    await expect(page.locator('#speaker-counts [data-status="online"] b')).to_have_text("3")
    await page.screenshot(path=str(ARTIFACTS / "speakers-360.png"), full_page=True)

    await page.goto(base + "/broadcasts/history?month=2026-11")
    await expect(page.locator("#history tbody tr")).to_have_count(2)
    await expect(page.locator("a[aria-current='page']", has_text="Lịch sử phát")).to_be_visible()
    await page.screenshot(path=str(ARTIFACTS / "playout-history-360.png"), full_page=True)
    await page.locator("#history a").first.click()
    await expect(page.locator("h1")).to_have_text("Thông báo tiêm phòng dại")
    await expect(page.locator("#not-played li")).to_have_text("Cụm loa đình: loa mất kết nối")
    await page.screenshot(path=str(ARTIFACTS / "airing-report-360.png"), full_page=True)
    await ctx.close()
