"""Programme editor, conflict dialog, approval, week calendar and the emergency form in real Chromium at phone width (360 px);
screenshots go to test-artifacts/."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, BrowserContext, Page, ViewportSize, expect

from broadcast.config import ScheduleConfig
from broadcast.scheduling.scheduler import BroadcastScheduler
from broadcast.service import SCHEDULER
from tests.broadcast.test_broadcast_programmes import TZ, RecordingDispatcher, seed
from tests.browser.browser_support import ARTIFACTS
from tests.fixtures_web import PASSWORD, WebEnv

pytestmark = pytest.mark.browser
PHONE: ViewportSize = {"width": 360, "height": 780}


async def signed_in(browser: Browser, base: str, username: str, path: str) -> tuple[BrowserContext, Page]:
    ctx = await browser.new_context(viewport=PHONE, locale="vi-VN")
    page = await ctx.new_page()
    await page.goto(base + path)
    await page.fill("#username", username)
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    return ctx, page


async def compose(page: Page, title: str, content: str) -> None:
    await page.fill("#title", title)
    await page.select_option("#library", label=content)
    await page.click("#add-item")
    await page.select_option("#kind", "daily")
    await page.fill("#times", "17:00")


async def test_compose_conflict_approve_calendar_emergency(web: WebEnv, browser: Browser) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    seed(web)
    rec = RecordingDispatcher()
    web.ctx.services.provide(SCHEDULER, BroadcastScheduler(web.db, rec, TZ, ScheduleConfig()))
    base = str(web.client.make_url("")).rstrip("/")
    ctx, page = await signed_in(browser, base, "canbo", "/broadcasts/programmes/new")
    await expect(page.locator("h1")).to_contain_text("Soạn chương trình")
    await compose(page, "Tin chiều thứ Hai", "Tin chiều (2:00)")
    await page.click("#save-submit")
    await expect(page.locator("#state")).to_have_text("Chờ duyệt")
    await expect(page.locator("#schedule-text")).to_have_text("Hằng ngày lúc 17:00")

    # Same time on the same speakers: the dialog offers play after (suggested, equal priority), replace, cancel.
    await page.goto(base + "/broadcasts/programmes/new")
    await compose(page, "Thông báo tiêm phòng", "Thông báo tiêm phòng (1:00)")
    await page.click("#save-submit")
    dialog = page.locator("#conflict-dialog")
    await expect(dialog).to_be_visible()
    await expect(page.locator("#conflict-list li")).to_contain_text("«Tin chiều thứ Hai»")
    await expect(page.locator("#resolve-after")).to_have_class("primary")
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    await page.screenshot(path=str(ARTIFACTS / "programme-conflict-360.png"))
    await page.click("#resolve-after")
    await expect(page.locator("#schedule-text")).to_have_text("Hằng ngày lúc 17:02")
    await ctx.close()

    # The commune chairman approves the first one from the queue.
    ctx, page = await signed_in(browser, base, "chutich", "/broadcasts/approvals")
    await expect(page.locator("#pending li")).to_have_count(2)
    await (
        page.locator("#pending li", has_text="Tin chiều thứ Hai")
        .get_by_role("link", name="Xem và duyệt")
        .click()
    )
    await page.fill("#comment", "Đồng ý phát")
    await page.click("button[data-action=approve]")
    await expect(page.locator("#state")).to_have_text("Đã duyệt")
    await expect(page.locator("#steps li").last).to_contain_text("Duyệt · chutich")
    await page.screenshot(path=str(ARTIFACTS / "programme-approved-360.png"), full_page=True)

    await page.goto(base + "/broadcasts")
    week = page.locator("#week")
    await expect(week.locator("a.ev").first).to_be_visible()
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    await page.screenshot(path=str(ARTIFACTS / "programme-calendar-360.png"))

    # The chairman airs an emergency: nothing goes out without the confirmation; afterwards it awaits review.
    await page.goto(base + "/broadcasts/emergency")
    await expect(page.locator("h1")).to_contain_text("Phát khẩn cấp")
    await page.fill("#title", "Cảnh báo lũ")
    await page.select_option("#library", label="Thông báo tiêm phòng (1:00)")
    await page.click("#add-item")
    await page.check("input[name=target_kind][value=villages]")
    await page.check("input[name=village][value=thon-2]")
    await page.click("#air-emergency")
    await expect(page.locator("#confirm-dialog")).to_be_visible()
    await page.click("#confirm-no")  # nothing is aired without the confirmation
    assert rec.orders == []
    await page.click("#air-emergency")
    await page.click("#confirm-yes")
    await expect(page.locator("#needs-review")).to_have_text("Cần xem lại")
    (order,) = rec.orders
    assert order.speakers == ("loa-3",) and order.title == "Cảnh báo lũ"
    await page.screenshot(path=str(ARTIFACTS / "programme-emergency-360.png"), full_page=True)
    await ctx.close()
