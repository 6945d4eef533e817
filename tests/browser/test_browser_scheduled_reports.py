"""The scheduled reports page (a commune police officer at 360 px: her commune's reports, the PDF link works,
send again) and a commune's public status page (no login, counts only, no sideways scrolling), in Chromium.
Screenshots go to test-artifacts/."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Page, expect

from hub.scheduled_reports.config import Recipients
from hub.scheduled_reports.models import PublicStatus
from tests.browser.browser_support import ARTIFACTS
from tests.fixtures_web import PASSWORD, T0, WebEnv
from tests.hub.scheduled_reports.test_report_pages import made, seed

pytestmark = pytest.mark.browser
PHONE = {"width": 360, "height": 780}


async def phone(browser: Browser) -> tuple[Page, list[str]]:
    ctx = await browser.new_context(viewport=PHONE, locale="vi-VN", is_mobile=True, has_touch=True)
    page = await ctx.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    return page, problems


async def test_a_commune_officer_reads_and_resends_her_reports_on_a_phone(
    web: WebEnv, browser: Browser
) -> None:
    svc = seed(web)
    svc.cfg.recipients.append(Recipients(area="soc-son/phu-linh", emails=["chu-tich@phulinh.example"]))
    ids = await made(web)
    web.add_user("phulinh", "police", "soc-son", "phu-linh")
    base = str(web.client.make_url("")).rstrip("/")
    page, problems = await phone(browser)
    await page.goto(f"{base}/login?next=/reports")
    await page.fill("#username", "phulinh")
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await page.click("#scheduled-link")
    await expect(page).to_have_url(base + "/reports/scheduled")
    table = page.locator("#scheduled-reports")
    await expect(table).to_contain_text("Tuần 30/11–06/12/2026")
    await expect(table).to_contain_text("Kênh chưa cấu hình")
    assert await page.locator("#scheduled-reports article").count() == 2  # her commune's week and month only
    rid = ids[("weekly", "phu-linh")]
    pdf = await page.request.get(f"{base}/reports/scheduled/{rid}.pdf")
    assert pdf.status == 200 and (await pdf.body()).startswith(b"%PDF-")
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "scheduled-reports-360.png"), full_page=True)
    await page.locator(f"#report-{rid} button", has_text="Gửi lại").click()
    await expect(page.locator(f"#report-{rid}")).to_contain_text("Chờ gửi")
    assert problems == []


async def test_the_public_page_fits_a_phone_without_an_account(web: WebEnv, browser: Browser) -> None:
    seed(web)
    with web.db.session() as s, s.begin():
        s.add(
            PublicStatus(
                district="soc-son", commune="phu-linh", enabled=True, updated_at=T0, updated_by="quantri"
            )
        )
    base = str(web.client.make_url("")).rstrip("/")
    page, problems = await phone(browser)
    resp = await page.goto(f"{base}/cong-khai/soc-son/phu-linh")
    assert resp is not None and resp.status == 200
    await expect(page.locator("h1")).to_have_text("Xã Phù Linh")
    await expect(page.locator("#cameras-now")).to_contain_text("1/1camera đang hoạt động")
    assert await page.locator("a").count() == 0 and await page.locator("img").count() == 0
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "public-status-360.png"), full_page=True)
    assert problems == []
