"""Issue 16 in real Chromium: an administrator merges Phù Linh into Tiên Dược on the areas page at phone width
(the confirm dialog, the notice, the former name shown); then a province leader signs in and finds the merged
commune's camera on the wall under the new name, opens its page and the reports, and is offered nothing to
change: no admin tab, no forms but signing out, and a direct visit to a write page is refused.
Screenshots go to test-artifacts/areas-*.png."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import select

from hub.core.db import Camera
from tests.browser.browser_support import ARTIFACTS
from tests.fixtures_web import PASSWORD, WebEnv

pytestmark = pytest.mark.browser
D = "soc-son"


async def _sign_in(page: Page, base: str, username: str) -> None:
    await page.goto(base + "/login")
    await page.fill("#username", username)
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")


async def _fits_phone(page: Page) -> None:
    overflow = await page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1, f"{page.url} is {overflow}px wider than a 360 px phone"


async def test_merge_then_the_leaders_read_only_view(web: WebEnv, browser: Browser) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    web.add_area(D, "", "Huyện Sóc Sơn")
    web.add_area(D, "phu-linh", "Xã Phù Linh")
    web.add_area(D, "tien-duoc", "Xã Tiên Dược")
    web.add_camera(D, "phu-linh", "cho", "problem", name="Chợ Phù Linh")
    web.add_transitions(f"{D}/phu-linh/cho", 2)
    web.add_user("quantri", "admin")
    web.add_user("lanhdao", "leader")
    base = str(web.client.make_url("")).rstrip("/")
    errors: list[str] = []

    ctx = await browser.new_context(viewport={"width": 360, "height": 800}, locale="vi-VN")
    page = await ctx.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    dialogs: list[str] = []

    async def accept(d) -> None:  # type: ignore[no-untyped-def]
        dialogs.append(d.message)
        await d.accept()

    page.on("dialog", accept)
    await _sign_in(page, base, "quantri")
    await page.goto(base + "/admin/areas")
    form = page.locator("#merge-form")
    await form.locator("select[name=from]").select_option(f"{D}/phu-linh")
    await form.locator("select[name=into]").select_option(f"{D}/tien-duoc")
    await _fits_phone(page)
    await form.locator("button[type=submit]").click()
    await expect(page.locator(".notice")).to_contain_text("Đã gộp xã")
    assert dialogs and "Gộp xã" in dialogs[0]
    await expect(page.locator("#communes")).to_contain_text("Xã Tiên Dược (trước đây: Xã Phù Linh)")
    await expect(page.locator("#communes")).not_to_contain_text(f"{D}/phu-linh")
    await page.screenshot(path=str(ARTIFACTS / "areas-merged-360.png"), full_page=True)
    await _fits_phone(page)
    with web.db.session() as s:
        cam = s.scalar(select(Camera))
        assert cam is not None and (cam.key, cam.commune) == (f"{D}/phu-linh/cho", "tien-duoc")
    await ctx.close()

    # The leader: lands on the summary, sees the camera under the new commune, reads, changes nothing.
    ctx = await browser.new_context(viewport={"width": 360, "height": 800}, locale="vi-VN")
    page = await ctx.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    await _sign_in(page, base, "lanhdao")
    # A leader's home is the summary per commune: the commune the camera moved to.
    await expect(page).to_have_url(base + "/?view=summary")
    await expect(page.locator(".area-card")).to_contain_text("Tiên Dược")
    await page.goto(base + "/")
    await expect(page.locator("body")).to_contain_text("Chợ Phù Linh")
    await expect(page.locator("body")).to_contain_text("trước đây: Xã Phù Linh")
    nav = page.locator(".nav")
    await expect(nav).not_to_contain_text("Quản trị")
    await page.screenshot(path=str(ARTIFACTS / "areas-leader-wall-360.png"), full_page=True)
    await _fits_phone(page)
    for path in (
        "/",
        f"/cameras/{D}/tien-duoc/cho",
        "/reports",
        "/alerts",
        "/broadcasts/programmes",
        "/speakers",
    ):
        resp = await page.goto(base + path)
        assert resp is not None and resp.status == 200, path
        await _fits_phone(page)
        actions = await page.eval_on_selector_all(
            "form", "fs => fs.map(f => (f.getAttribute('method') || 'get').toLowerCase() + ' ' + f.action)"
        )
        unsafe = [a for a in actions if a.startswith("post") and not a.endswith("/logout")]
        assert not unsafe, f"{path} offers the leader forms that change something: {unsafe}"
    assert not errors, errors
    resp = await page.goto(base + "/admin/areas")
    assert resp is not None and resp.status == 403
    await ctx.close()
