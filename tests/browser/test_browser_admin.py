"""The admin journey in real Chromium: create a user, import a CSV of cameras (preview, apply), find both in the
audit log; the same pages on a 360 px phone. Screenshots go to test-artifacts/admin-*.png."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import select

from hub.core.db import Camera
from tests.browser.browser_support import ARTIFACTS
from tests.fixtures_web import PASSWORD, WebEnv

pytestmark = pytest.mark.browser
CSV = (
    "\ufeffdistrict,commune,id,name,agent\n"
    "soc-son,phu-linh,cho,Chợ Phù Linh,edge-pl\n"
    "soc-son,phu-linh,ubnd,Cổng UBND xã Phù Linh,edge-pl\n"
    "soc-son,tien-duoc,truong,Trường THCS Tiên Dược,\n"
)


async def _no_horizontal_scroll(page: Page) -> None:
    overflow = await page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1, f"page is {overflow}px wider than a 360 px phone"


async def test_admin_journey(web: WebEnv, browser: Browser, tmp_path: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    web.add_area("soc-son", "tien-duoc", "Xã Tiên Dược")
    web.add_user("quantri", "admin")
    base = str(web.client.make_url("")).rstrip("/")
    ctx = await browser.new_context(viewport={"width": 1920, "height": 1080}, locale="vi-VN")
    page = await ctx.new_page()
    page.on("dialog", lambda d: d.accept())
    await page.goto(base + "/admin")
    await page.fill("#username", "quantri")
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await expect(page.locator("h1")).to_have_text("Người dùng")
    await expect(page.locator(".nav a[aria-current=page]")).to_have_text("Quản trị")

    # create a commune officer
    form = page.locator("#create-user")
    await form.locator("input[name=username]").fill("canbo.phulinh")
    await form.locator("input[name=full_name]").fill("Nguyễn Thị Hoà")
    await form.locator("select[name=role]").select_option("officer")
    await form.locator("select[name=scope]").select_option("soc-son/phu-linh")
    await form.locator("input[name=password]").fill("mat-khau-ban-dau-1")
    await form.locator("button[type=submit]").click()
    await expect(page.locator(".notice")).to_have_text("Đã tạo người dùng.")
    await expect(page.locator("h1")).to_contain_text("Nguyễn Thị Hoà")

    # import cameras: preview, then apply
    await page.click("nav.tabs >> text=Nhập CSV")
    csv_file = tmp_path / "camera-phu-linh.csv"
    csv_file.write_text(CSV, encoding="utf-8")
    await page.set_input_files("#upload-form input[type=file]", str(csv_file))
    await page.click("#upload-form button[type=submit]")
    await expect(page.locator("#preview")).to_contain_text("3 thêm mới · 0 cập nhật · 0 không đổi")
    await expect(page.locator("#import-plan")).to_contain_text("Trường THCS Tiên Dược")
    await page.screenshot(path=str(ARTIFACTS / "admin-import-preview-1920.png"), full_page=True)
    await page.click("#apply-form button[type=submit]")
    await expect(page.locator("#import-result")).to_contain_text("3 thêm mới, 0 cập nhật, 0 không đổi")
    with web.db.session() as s:
        names = sorted(c.name or "" for c in s.scalars(select(Camera)))
    assert names == ["Chợ Phù Linh", "Cổng UBND xã Phù Linh", "Trường THCS Tiên Dược"]

    # the devices list and the audit log show it
    await page.click("nav.tabs >> text=Thiết bị")
    await expect(page.locator("#devices")).to_contain_text("Cổng UBND xã Phù Linh")
    await page.click("nav.tabs >> text=Nhật ký thay đổi")
    audit = page.locator("#audit")
    await expect(audit).to_contain_text("user:canbo.phulinh")
    await expect(audit).to_contain_text("camera:soc-son/tien-duoc/truong")
    await expect(audit).to_contain_text("auth.login")
    await page.fill("#audit-filters input[name=action]", "user.")
    await page.click("#audit-filters button[type=submit]")
    await expect(page.locator("#audit > tbody > tr")).to_have_count(1)
    await expect(audit).to_contain_text("Nguyễn Thị Hoà")
    await page.screenshot(path=str(ARTIFACTS / "admin-audit-1920.png"), full_page=True)

    # the same pages on a phone: no sideways scrolling, forms usable
    await page.set_viewport_size({"width": 360, "height": 780})
    for path, shot in (("/admin/users", "admin-users-360.png"), ("/admin/audit", "admin-audit-360.png"),
                       ("/admin/import", "admin-import-360.png"), ("/account", "account-360.png"),
                       ("/admin/areas", "admin-areas-360.png"),
                       ("/admin/devices?kind=cameras", "admin-devices-360.png")):  # fmt: skip
        await page.goto(base + path)
        await _no_horizontal_scroll(page)
        await page.screenshot(path=str(ARTIFACTS / shot), full_page=True)
    await page.set_viewport_size({"width": 1920, "height": 1080})
    await page.goto(base + "/admin/users")
    await page.screenshot(path=str(ARTIFACTS / "admin-users-1920.png"), full_page=True)
    await ctx.close()
