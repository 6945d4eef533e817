"""Each role's journey in real Chromium against a real running hub (runtime + web app on a loopback port, real
Mosquitto, SQLite; no InfluxDB):

1. district police watch a camera fail on the wall (contract health messages over MQTT), find the alert, acknowledge
   it and see who acknowledged it and when; the would-be Zalo message waits in the (dry run) outbox;
2. a commune culture officer records an announcement with the fake microphone, makes it a programme for the whole
   commune, the commune approver approves it, two real receiver processes play it and the officer's airing report
   shows 2/2 speakers with their start skew.

Each role is refused what is not theirs (403). Screenshots at 360 px and 1920 px go to test-artifacts/journey-*.png."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, expect
from sqlalchemy import select, update

from broadcast.airings.models import Airing
from devtools.services import Service
from hub.alerts.models import AlertAck
from hub.core.speaker_models import Speaker
from tests.browser.browser_support import CHROMIUM_ARGS, MEDIA_ARGS
from tests.browser.journey_support import (
    COMMAND_ROOM,
    PHONE,
    PageErrors,
    add_user,
    journey_config,
    no_sideways_scroll,
    phone_copy,
    reload_until,
    running_hub,
    shot,
    signed_in,
)
from tests.fixtures_hub import Publisher, wait_for
from tests.receiver_support import COMMUNE, DISTRICT, ReceiverProcess, write_config

pytestmark = pytest.mark.browser
BASE_TOPIC = "ops/v1/soc-son/phu-linh"
CAMERAS = ("cong-ubnd", "cho")


@pytest.fixture
def chromium_args() -> list[str]:
    return CHROMIUM_ARGS + MEDIA_ARGS  # the recording page needs a microphone


def _health(online: bool, seq: int) -> dict[str, Any]:
    return {
        "ts": time.time(),
        "seq": seq,
        "online": online,
        "agent": "box-1",
        "fps": 25.0 if online else None,
        "problems": [] if online else ["unreachable"],
        "reason": None if online else "Kết nối bị từ chối",
    }


async def test_police_watch_a_camera_fail_and_acknowledge_the_alert(
    tmp_path: Path, mosquitto: Service, publisher: Publisher, browser: Browser, password_hash: str
) -> None:
    fast = {"for_s": 0, "group_wait_s": 1, "group_interval_s": 1}
    config = journey_config(
        tmp_path,
        mosquitto.port,
        districts={"soc-son": {"name": "Huyện Sóc Sơn", "communes": {"phu-linh": "Xã Phù Linh"}}},
        alerts={"eval_interval_s": 0.2, "startup_grace_s": 0, "rules": {"camera_offline": fast}},
        # no Zalo keys: the notifier runs dry and the outbox shows what it would have sent to this group
        notify={"groups": {"police": {"soc-son": "nhom-cong-an-soc-son"}}},
    )
    errors = PageErrors()
    async with running_hub(config) as hub:
        add_user(hub, password_hash, "cs.socson", "police", "soc-son")
        base = config.http.public_url
        publisher.publish(
            f"{BASE_TOPIC}/edge/box-1/status",
            {"state": "online", "ts": time.time(), "version": "1", "disk_free_mb": 20000},
            retain=True,
        )
        for i, cam in enumerate(CAMERAS):
            publisher.publish(f"{BASE_TOPIC}/camera/{cam}/health", _health(True, i))
        await wait_for(lambda: len(hub.store.cameras) == len(CAMERAS), 20, "both cameras known to the hub")

        # the officer on duty opens the wall on the command-room screen and on a phone
        ctx, page = await signed_in(browser, base, "cs.socson", "/", COMMAND_ROOM)
        errors.watch(page)
        cho = page.locator('.tile[data-key="soc-son/phu-linh/cho"]')
        await expect(cho.locator(".badge")).to_have_text("Hoạt động", timeout=20_000)
        await expect(page.locator('[data-count="ok"]')).to_have_text("2")
        phone = await phone_copy(browser, ctx)
        mobile = errors.watch(await phone.new_page())
        await mobile.goto(base + "/")
        await expect(mobile.locator('.tile[data-key="soc-son/phu-linh/cho"] .badge')).to_have_text(
            "Hoạt động"
        )
        await no_sideways_scroll(mobile)
        await shot(page, "police-wall-1920")
        await shot(mobile, "police-wall-360")

        # the camera at the market goes dark: its agent reports it; both screens follow without a reload
        await page.evaluate("window.__noReload = true")
        publisher.publish(f"{BASE_TOPIC}/camera/cho/health", _health(False, 10))
        await expect(cho.locator(".badge")).to_have_text("Mất kết nối", timeout=20_000)
        await expect(cho).to_have_class(re.compile(r"\bst-offline\b"))
        await expect(page.locator('[data-count="ok"]')).to_have_text("1")
        await expect(mobile.locator('.tile[data-key="soc-son/phu-linh/cho"] .badge')).to_have_text(
            "Mất kết nối"
        )
        assert await page.evaluate("window.__noReload") is True
        await shot(page, "police-camera-offline-1920")
        await shot(mobile, "police-camera-offline-360")

        # the alert is on /alerts; the officer acknowledges it with a note
        await page.goto(base + "/alerts")
        row = page.locator("tr[data-id]", has_text="Camera mất kết nối")
        await expect(row).to_contain_text("Đang báo", timeout=30_000)
        await expect(row).to_contain_text("cho")
        page.once("dialog", lambda d: asyncio.ensure_future(d.accept("Đã cử tổ tuần tra tới chợ")))
        await row.locator("button.ack").click()
        await expect(row).to_contain_text("cs.socson")
        await expect(row).to_contain_text("Đã cử tổ tuần tra tới chợ")
        await expect(row).to_contain_text(re.compile(r"cs\.socson · \S*\d{1,2}:\d{2}"))  # who, then when
        await expect(row.locator("button.ack")).to_have_count(0)
        await shot(page, "police-alert-acknowledged-1920")
        with hub.db.session() as s:
            ack = s.scalars(select(AlertAck)).one()
            assert ack.by == "cs.socson" and ack.note == "Đã cử tổ tuần tra tới chợ"
        await mobile.goto(base + "/alerts")
        await expect(mobile.locator("tr[data-id]", has_text="Camera mất kết nối")).to_contain_text(
            "cs.socson"
        )
        await no_sideways_scroll(mobile)
        await shot(mobile, "police-alert-acknowledged-360")

        # the Zalo message the police group would have got (dry run: no keys)
        await page.goto(base + "/alerts/outbox")
        await reload_until(page, "#outbox tbody tr", has_text="Camera mất kết nối")
        out = page.locator("#outbox tbody tr", has_text="Camera mất kết nối").first
        await expect(out).to_contain_text("Chạy thử (không gửi)")
        await out.locator("summary").click()  # the message as the group would read it
        await expect(out.locator("pre.outbox-text")).to_be_visible()
        await expect(out.locator("pre.outbox-text")).to_contain_text("cho")
        await shot(page, "police-outbox-1920")

        # police have no business with broadcasts
        refused = await page.goto(base + "/broadcasts")
        assert refused is not None and refused.status == 403
        await phone.close()
        await ctx.close()
    assert errors.errors == []


async def test_officer_records_approver_approves_two_speakers_play_it(
    tmp_path: Path, mosquitto: Service, browser: Browser, password_hash: str
) -> None:
    config = journey_config(
        tmp_path,
        mosquitto.port,
        districts={DISTRICT: {"name": "Huyện Yên Định", "communes": {COMMUNE: "Xã Định Long"}}},
        broadcast={
            "schedule": {"prepare_lead_s": 5, "late_start_lead_s": 2},
            "dispatch": {"answer_margin_s": 3, "finish_margin_s": 2},
        },
    )
    errors = PageErrors()
    receivers: list[ReceiverProcess] = []
    async with running_hub(config) as hub:
        add_user(hub, password_hash, "vanhoa.dl", "officer", DISTRICT, COMMUNE)
        add_user(hub, password_hash, "chutich.dl", "approver", DISTRICT, COMMUNE)
        add_user(hub, password_hash, "cs.yendinh", "police", DISTRICT)
        base = config.http.public_url
        try:
            # two speaker clusters of the commune, each a real receiver process (null sink), register themselves
            for name in ("loa-1", "loa-2"):
                d = tmp_path / name
                d.mkdir()
                conf = write_config(
                    d / "receiver.yaml", name, mosquitto.port, [f"{base}/media/"], {"type": "null"},
                    hub_public_key=hub.signer.public_pem(),
                )  # fmt: skip
                receivers.append(ReceiverProcess(conf, d / "receiver.log"))
            reg = hub.broadcast.speakers
            online = lambda: sum(1 for sp in reg.speakers.values() if sp.online) == 2  # noqa: E731

            # the culture officer records the announcement on a phone
            ctx, page = await signed_in(
                browser,
                base,
                "vanhoa.dl",
                "/broadcasts/content/record",
                PHONE,
                is_mobile=True,
                has_touch=True,
            )
            errors.watch(page)
            await ctx.grant_permissions(["microphone"], origin=base)
            await expect(page.locator("#rec-state")).to_have_text("Sẵn sàng ghi âm")
            await page.click("#rec-start")
            await expect(page.locator("#rec-state")).to_have_text("Đang ghi âm…")
            await asyncio.sleep(2.5)
            await page.click("#rec-stop")
            await expect(page.locator("#rec-review")).to_be_visible()
            await page.fill("#rec-title", "Thông báo họp dân thôn Đông")
            await shot(page, "officer-recorded-360")
            await page.click("#rec-upload")
            await expect(page.locator("#rec-done")).to_be_visible(timeout=60_000)
            await expect(page.locator("#rec-result")).to_contain_text("«Thông báo họp dân thôn Đông»")
            await shot(page, "officer-uploaded-360")

            # …makes it a programme for the whole commune, aired as soon as it is approved, and submits it
            await page.goto(base + "/broadcasts/programmes/new")
            await page.fill("#title", "Họp dân thôn Đông")
            await page.select_option("#library", index=1)
            await page.click("#add-item")
            await expect(page.locator("#chosen li")).to_contain_text("Thông báo họp dân thôn Đông")
            await expect(page.locator("input[name=target_kind][value=commune]")).to_be_checked()
            await page.select_option("#kind", "now")
            await page.fill("#repeats", "1")
            await no_sideways_scroll(page)
            await shot(page, "officer-programme-360")
            await page.click("#save-submit")
            await expect(page.locator("#state")).to_have_text("Chờ duyệt")
            programme_url = page.url
            assert re.search(r"/broadcasts/programmes/\d+$", programme_url), programme_url

            # the chairman approves it from the queue, in a browser of his own
            await wait_for(online, 40, "both receivers online")
            # They registered themselves, so they wait for approval; the administrator approves them
            # (tests/security covers the approve button itself).
            await reg.flush()
            with hub.db.session() as s, s.begin():
                s.execute(update(Speaker).values(pending=False))
            actx, apage = await signed_in(browser, base, "chutich.dl", "/broadcasts/approvals", PHONE)
            errors.watch(apage)
            pending = apage.locator("#pending li", has_text="Họp dân thôn Đông")
            await expect(pending).to_have_count(1)
            await no_sideways_scroll(apage)
            await shot(apage, "approver-queue-360")
            await pending.get_by_role("link", name="Xem và duyệt").click()
            await apage.fill("#comment", "Đồng ý phát")
            await apage.click("button[data-action=approve]")
            await expect(apage.locator("#state")).to_have_text("Đã duyệt")
            await shot(apage, "approver-approved-360")
            await actx.close()

            # both speakers play it; the airing is totalled after its planned end
            def aired() -> Airing | None:
                with hub.db.session() as s:
                    return s.scalars(
                        select(Airing).where(Airing.status.in_(("aired", "partial", "failed")))
                    ).first()

            airing = await wait_for(aired, 60, "the airing totalled")
            assert (airing.status, airing.played, airing.targeted) == ("aired", 2, 2)

            # the officer follows it from the programme page to the airing report
            await page.goto(programme_url)
            await reload_until(page, "#airings tbody tr", has_text="2/2")
            await page.locator("#airings tbody tr a").first.click()
            await expect(page).to_have_url(re.compile(r"/broadcasts/airings/"))
            await expect(page.locator("#played")).to_have_text("2")
            await expect(page.locator("#targeted")).to_have_text("2")
            await expect(page.locator("#skew")).to_have_text(re.compile(r"^\d+\.\d ms$"))
            await expect(page.locator("#receipts tbody tr")).to_have_count(2)
            await no_sideways_scroll(page)
            await shot(page, "officer-airing-report-360")
            desk = await browser.new_context(viewport=COMMAND_ROOM, locale="vi-VN")
            await desk.add_cookies(await ctx.cookies())  # type: ignore[arg-type]
            dpage = errors.watch(await desk.new_page())
            await dpage.goto(page.url)
            await expect(dpage.locator("#airing-result")).to_contain_text("2 / 2 loa đã phát")
            await shot(dpage, "officer-airing-report-1920")
            await desk.close()

            # the camera wall is not the officer's: `/` takes her home; broadcasts are not the police's
            home = await page.goto(base + "/")
            assert home is not None and home.status == 200
            await expect(page).to_have_url(base + "/broadcasts/programmes")
            pctx, ppage = await signed_in(browser, base, "cs.yendinh", "/", COMMAND_ROOM)
            refused = await ppage.goto(base + "/broadcasts")
            assert refused is not None and refused.status == 403
            await pctx.close()
            await ctx.close()
        finally:
            for r in receivers:
                r.stop()
    assert errors.errors == []
