"""Picking a voice and a speed on the text form at 360 px in real Chromium: the preview plays, shows what the
machine read after normalisation, and a long text previews its first sentences; the choice is saved with the
content. Screenshot in test-artifacts/."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect
from sqlalchemy import select

from broadcast.content.models import BroadcastContent
from tests.browser.browser_support import ARTIFACTS
from tests.browser.test_browser_recorder import login
from tests.fixtures_web import WebEnv

pytestmark = pytest.mark.browser


async def test_pick_voice_and_speed_preview_and_save_at_360px(web: WebEnv, browser: Browser) -> None:
    web.add_user("vanhoa", "officer", district="soc-son", commune="phu-linh")
    base = str(web.client.make_url("")).rstrip("/")
    ctx = await browser.new_context(
        viewport={"width": 360, "height": 780}, locale="vi-VN", is_mobile=True, has_touch=True
    )
    page = await ctx.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    ARTIFACTS.mkdir(exist_ok=True)
    await login(page, base, "/broadcasts/content/new")

    form = page.locator("#tts-form")
    await expect(form.locator("select[name=speed] option")).to_have_count(5)
    await expect(form.locator("select[name=speed]")).to_have_value("1")  # the hub's default speed
    await form.locator("input[name=title]").fill("Họp hợp tác xã")
    await form.locator("textarea[name=text]").fill("UBND xã họp HTX lúc 7h30 ngày 15/8.")
    await form.locator("select[name=voice]").select_option("vi-vn-x-south")
    await form.locator("select[name=speed]").select_option("0.8")
    await form.locator(".tts-preview").click()
    await expect(form.locator(".tts-status")).to_contain_text("Bản nghe thử (", timeout=60_000)
    await expect(form.locator(".tts-audio")).to_be_visible()
    spoken = form.locator(".tts-spoken")
    await expect(spoken).to_be_visible()
    await spoken.locator("summary").click()
    await expect(spoken.locator("p")).to_have_text(
        "ủy ban nhân dân xã họp hợp tác xã lúc bảy giờ ba mươi phút ngày mười lăm tháng tám."
    )
    assert await page.evaluate("document.documentElement.scrollWidth") <= 360  # nothing wider than the phone
    await page.screenshot(path=str(ARTIFACTS / "content-tts-voice-360.png"), full_page=True)

    # a long text: the preview reads its first sentences only (the server takes at most 400 characters); the
    # cut falls at the last sentence end before 400 characters, here after the seventh
    long_text = "Thôn 3 họp lúc 14h. " * 7 + "Bà con chú ý" + " và" * 200
    await form.locator("textarea[name=text]").fill(long_text)
    await form.locator(".tts-preview").click()
    await expect(form.locator(".tts-status")).to_contain_text("Bản nghe thử đoạn đầu", timeout=60_000)

    await form.locator("textarea[name=text]").fill("UBND xã họp HTX lúc 7h30 ngày 15/8.")
    await form.locator("button[type=submit]").click()
    await expect(page).to_have_url(f"{base}/broadcasts/content?created=1")
    await expect(page.locator(".tts-text summary")).to_have_text(
        "Văn bản đã đọc (Giọng miền Nam · tốc độ 0,8×)"
    )
    with web.db.session() as s:
        row = s.scalars(select(BroadcastContent)).one()
        assert (row.tts_voice, row.tts_speed, row.text) == (
            "vi-vn-x-south",
            0.8,
            "UBND xã họp HTX lúc 7h30 ngày 15/8.",
        )
    assert problems == [], problems
    await ctx.close()
