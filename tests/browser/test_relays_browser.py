"""The relays page in real Chromium at 360 px: an administrator adds an upstream to the allow-list (and a bad
address is refused with its reason), an officer creates relay content from it; nothing overflows the screen."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import select

from broadcast.content.models import BroadcastContent
from broadcast.relays.models import RelayUpstream
from tests.browser.browser_support import ARTIFACTS
from tests.fixtures_web import PASSWORD, WebEnv

pytestmark = pytest.mark.browser
D, C = "dinh-hoa", "dinh-long"
PHONE = {"width": 360, "height": 780}


async def _login(browser: Browser, base: str, user: str) -> Page:
    ctx = await browser.new_context(viewport=PHONE, locale="vi-VN")
    page = await ctx.new_page()
    await page.goto(base + "/login")
    await page.fill("input[name=username]", user)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    return page


async def _fits(page: Page) -> None:
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


async def test_allow_list_and_relay_form_on_a_phone(web: WebEnv, browser: Browser) -> None:
    web.add_area(D, "", "Huyện Định Hoá")
    web.add_area(D, C, "Xã Định Long")
    web.add_user("quantri", role="admin")
    web.add_user("canbo", role="officer", district=D, commune=C)
    ARTIFACTS.mkdir(exist_ok=True)
    base = str(web.client.make_url(""))

    admin = await _login(browser, base, "quantri")
    await admin.goto(base + "/broadcasts/relays")
    await expect(admin.locator("#no-upstreams")).to_be_visible()
    form = admin.locator("#upstream-form")
    await form.locator("input[name=name]").fill("Tệp cục bộ")
    await form.locator("input[name=url]").fill("file:///etc/passwd")
    await form.locator("button[type=submit]").click()
    await expect(admin.locator("#relay-status")).to_contain_text(
        "chỉ tiếp âm được luồng http, https hoặc rtsp"
    )
    await form.locator("input[name=url]").fill("http://127.0.0.1:9/vov1.mp3")
    await form.locator("input[name=name]").fill("VOV1 thử")
    await form.locator("button[type=submit]").click()
    await expect(admin.locator("#upstreams li")).to_have_count(1, timeout=10_000)
    await expect(admin.locator("#upstreams li").first).to_contain_text("VOV1 thử")
    await _fits(admin)
    await admin.screenshot(path=str(ARTIFACTS / "relays-allow-list-360.png"), full_page=True)
    with web.db.session() as s:
        assert [u.url for u in s.scalars(select(RelayUpstream))] == ["http://127.0.0.1:9/vov1.mp3"]
    await admin.context.close()

    officer = await _login(browser, base, "canbo")
    await officer.goto(base + "/broadcasts/relays")
    await expect(officer.locator("#upstream-form")).to_have_count(0)  # the allow-list is the administrators'
    relay = officer.locator("#relay-form")
    await relay.locator("input[name=title]").fill("Tiếp âm VOV buổi sáng")
    await relay.locator("select[name=upstream_id]").select_option(label="VOV1 thử")
    await relay.locator("input[name=duration_min]").fill("30")
    await relay.locator("button[type=submit]").click()
    await expect(officer.locator("#relay-status")).to_contain_text("Đã tạo")
    await expect(officer.locator("#relay-content li")).to_contain_text("30 phút", timeout=10_000)
    await _fits(officer)
    await officer.screenshot(path=str(ARTIFACTS / "relays-form-360.png"), full_page=True)
    with web.db.session() as s:
        row = s.scalars(select(BroadcastContent).where(BroadcastContent.source == "relay")).one()
        assert (row.district, row.commune, row.duration_s, row.created_by) == (D, C, 1800, "canbo")
    await officer.context.close()
