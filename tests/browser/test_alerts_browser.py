"""The alert pages in real Chromium: the list renders in Vietnamese, follows live alert events, acknowledges
with a note; a maintenance window is created from an alert's 'Tắt' link. Screenshots go to test-artifacts/."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, expect

from tests.browser.browser_support import ARTIFACTS
from tests.fixtures_web import PASSWORD, T0, WebEnv
from tests.hub.alerts.test_alerts_api import add_alert

pytestmark = pytest.mark.browser


async def test_alert_list_live_ack_and_silence(web: WebEnv, browser: Browser) -> None:
    web.set_clock(lambda: T0)
    first = add_alert(web, "soc-son", "phu-linh", "soc-son/phu-linh/cong-ubnd")
    web.add_user("cs.socson", "police", district="soc-son")
    base = str(web.client.make_url("")).rstrip("/")
    errors: list[str] = []
    ctx = await browser.new_context(viewport={"width": 1366, "height": 900}, locale="vi-VN")
    page = await ctx.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(base + "/login?next=/alerts")
    await page.fill("#username", "cs.socson")
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await expect(page).to_have_url(base + "/alerts")

    row = page.locator(f'tr[data-id="{first}"]')
    await expect(row).to_contain_text("Camera mất kết nối")
    await expect(row).to_contain_text("Đang báo")
    await expect(page.locator("nav a[aria-current=page]")).to_have_text("Cảnh báo")

    # A new alert appears without a reload when the engine announces it.
    second = add_alert(web, "soc-son", "phu-linh", "soc-son/phu-linh/cho")
    web.events.publish(
        {"type": "alert", "alert": {"id": second, "district": "soc-son", "commune": "phu-linh"}}
    )
    await expect(page.locator(f'tr[data-id="{second}"]')).to_be_visible()

    page.once("dialog", lambda d: d.accept("Đã cử người"))
    await row.locator("button.ack").click()
    await expect(row).to_contain_text("cs.socson")
    await expect(row).to_contain_text("Đã cử người")
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "alerts.png"), full_page=True)

    await page.locator(f'tr[data-id="{second}"] a.silence-link').click()
    await expect(page).to_have_url(re.compile(r".*/alerts/silences\?.*device=.*"))
    await page.select_option("select[name=type]", "maintenance")
    await page.fill("input[name=reason]", "Thay nguồn điện trạm")
    await page.click("#silence-form button[type=submit]")
    await expect(page).to_have_url(base + "/alerts/silences")
    table = page.locator("#silences tbody tr")
    await expect(table).to_have_count(1)
    await expect(table).to_contain_text("Bảo trì")
    await expect(table).to_contain_text("soc-son/phu-linh/cho")
    await page.screenshot(path=str(ARTIFACTS / "alerts-silences.png"), full_page=True)
    assert errors == []
    await ctx.close()
