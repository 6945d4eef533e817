"""The recording page in real Chromium with its fake microphone: record, pause, resume, stop, listen back,
upload with progress, and the processed recording appears in the library, levelled. Screenshots at 360 px
go to test-artifacts/."""

from __future__ import annotations

import asyncio

import pytest
from playwright.async_api import Browser, FilePayload, Page, expect
from sqlalchemy import select

from broadcast.content.models import BroadcastContent
from tests.browser.browser_support import ARTIFACTS, CHROMIUM_ARGS, MEDIA_ARGS
from tests.fixtures_web import PASSWORD, WebEnv

pytestmark = pytest.mark.browser


@pytest.fixture
def chromium_args() -> list[str]:
    return CHROMIUM_ARGS + MEDIA_ARGS  # a beeping microphone, its prompt answered yes


async def login(page: Page, base: str, next_path: str) -> None:
    await page.goto(f"{base}/login?next={next_path}")
    await page.fill("#username", "vanhoa")
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await expect(page).to_have_url(base + next_path)


async def test_record_listen_back_upload_and_see_it_processed(web: WebEnv, browser: Browser) -> None:
    web.add_user("vanhoa", "officer", district="soc-son", commune="phu-linh")
    base = str(web.client.make_url("")).rstrip("/")
    ctx = await browser.new_context(
        viewport={"width": 360, "height": 780}, locale="vi-VN", is_mobile=True, has_touch=True
    )
    await ctx.grant_permissions(["microphone"], origin=base)
    page = await ctx.new_page()
    problems: list[str] = []
    # a refused upload (422: well-formed, not usable audio) is logged by Chromium as a failed resource load:
    # expected, not a page error
    page.on(
        "console",
        lambda m: problems.append(m.text) if m.type == "error" and "status of 422" not in m.text else None,
    )
    page.on("pageerror", lambda e: problems.append(str(e)))
    ARTIFACTS.mkdir(exist_ok=True)

    await login(page, base, "/broadcasts/content/record")
    await expect(page.locator("#rec-state")).to_have_text("Sẵn sàng ghi âm")
    await page.screenshot(path=str(ARTIFACTS / "content-record-360.png"), full_page=True)

    await page.click("#rec-start")
    await expect(page.locator("#rec-state")).to_have_text("Đang ghi âm…")
    await expect(page.locator("#rec-pause")).to_be_visible()
    await asyncio.sleep(1.2)
    await page.click("#rec-pause")
    await expect(page.locator("#rec-resume")).to_be_visible()
    await expect(page.locator("#rec-state")).to_have_text("Tạm dừng")
    paused_at = await page.locator("#rec-time").text_content()
    await page.screenshot(path=str(ARTIFACTS / "content-record-paused-360.png"), full_page=True)
    await asyncio.sleep(0.6)
    assert await page.locator("#rec-time").text_content() == paused_at  # the clock stops with the recording
    await page.click("#rec-resume")
    await asyncio.sleep(1.5)
    await page.click("#rec-stop")

    # listen back from the browser's own copy, then name it and upload
    await expect(page.locator("#rec-review")).to_be_visible()
    assert (await page.locator("#rec-playback").get_attribute("src") or "").startswith("blob:")
    await expect(page.locator("#rec-state")).to_contain_text("Đã ghi")
    await page.fill("#rec-title", "Thông báo họp thôn Đông")
    await page.screenshot(path=str(ARTIFACTS / "content-record-review-360.png"), full_page=True)
    await page.click("#rec-upload")
    await expect(page.locator("#rec-done")).to_be_visible(timeout=60_000)
    await expect(page.locator("#rec-result")).to_contain_text("«Thông báo họp thôn Đông»")
    await expect(page.locator("#rec-result")).to_contain_text("LUFS")
    await page.screenshot(path=str(ARTIFACTS / "content-record-done-360.png"), full_page=True)

    with web.db.session() as s:
        row = s.scalars(select(BroadcastContent)).one()
        assert row.source == "recording" and row.created_by == "vanhoa"
        assert row.original_path.endswith(".webm")  # Chromium records WebM/Opus, kept as it came
        # the fake microphone beeps at full scale between silences: its peaks, not its loudness, set how loud
        # it may get, so it is levelled as loud as the true-peak ceiling allows (and flagged in the library)
        assert row.true_peak_dbtp <= -1.0 and -25 <= row.loudness_lufs <= -15
        assert 2.0 <= row.duration_s <= 4.5, row.duration_s

    await page.click("#rec-library")
    await expect(page).to_have_url(base + "/broadcasts/content")
    item = page.locator(".content-item").first
    await expect(item.locator(".content-title")).to_have_text("Thông báo họp thôn Đông")
    await expect(item.locator(".src")).to_have_text("Ghi âm")
    await expect(item.locator(".loudness")).to_contain_text("LUFS")
    await expect(page.locator('.nav a[aria-current="page"]')).to_have_text("Nội dung")
    # the player can fetch the processed file (public by hash, Range-capable)
    src = await item.locator("audio").get_attribute("src")
    assert src and src.startswith("/media/")
    resp = await page.request.get(base + src, headers={"Range": "bytes=0-1023"})
    assert resp.status == 206 and resp.headers["content-type"] == "audio/mpeg"
    await page.screenshot(path=str(ARTIFACTS / "content-library-360.png"), full_page=True)

    # the upload form shows the server's refusal of a file that is not audio
    await page.goto(base + "/broadcasts/content/new")
    await page.screenshot(path=str(ARTIFACTS / "content-new-360.png"), full_page=True)
    note: FilePayload = {
        "name": "ghi-chu.txt",
        "mimeType": "text/plain",
        "buffer": "Không phải âm thanh".encode(),
    }
    await page.set_input_files("#upload-form input[type=file]", files=[note])
    await page.fill("#upload-form input[name=title]", "Tệp sai")
    await page.click("#upload-form button[type=submit]")
    await expect(page.locator("#upload-form .upload-status")).to_contain_text("không phải âm thanh")
    # text to speech: the preview plays in the page (a blob: URL the page's policy allows)
    await page.fill("#tts-form input[name=title]", "Lịch tiêm phòng")
    await page.fill("#tts-form textarea[name=text]", "Sáng mai tiêm phòng cho trâu bò.")
    await expect(page.locator("#tts-form .tts-count")).to_have_text("32")
    await page.click("#tts-form .tts-preview")
    await expect(page.locator("#tts-form .tts-status")).to_contain_text("Bản nghe thử", timeout=60_000)
    await expect(page.locator("#tts-form .tts-audio")).to_be_visible()
    assert (await page.locator("#tts-form .tts-audio").get_attribute("src") or "").startswith("blob:")
    await page.screenshot(path=str(ARTIFACTS / "content-tts-preview-360.png"), full_page=True)
    assert problems == [], problems
    await ctx.close()
