"""Every role at home, and no dead end from there (issue 16): real Chromium at phone width (360 px) against a
real running hub (runtime + web app, real Mosquitto, SQLite) with cameras, an edge box, speakers, an alert,
content, programmes and airings in one commune.

For each role (tests/fixtures_web.py ROLE_USERS) a fresh browser signs in with no page asked for and must land
on the role's home with the role's menu, both as docs/ADMIN.md's table "What each role sees and can do" says
(and the table's permissions must be the roles matrix). From there the crawler (crawl_support.py) follows every
same-origin link: no page answers 401/403 (or any 4xx/5xx), logs a console error or an uncaught error, or is
wider than the phone; links it does not follow (downloads, data) and every form must be ones the role may use.
Each role's home is screenshotted to test-artifacts/home-{role}-360.png."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, expect
from sqlalchemy import update

from broadcast.airings.models import Airing, AiringReceipt
from broadcast.content.models import BroadcastContent
from broadcast.programmes.models import ApprovalStep, Programme, ProgrammeItem
from devtools.services import Service
from hub.compose import Hub
from hub.core import auth
from hub.core.access import ROLE_PERMS, Perm
from hub.core.camera_points import CameraPoint
from hub.core.db import Camera
from hub.core.geo import Village
from hub.core.speaker_models import Speaker
from hub.web.home import home_for_role
from tests.browser.browser_support import ARTIFACTS
from tests.browser.crawl_support import crawl
from tests.browser.journey_support import PHONE, add_user, journey_config, running_hub_app
from tests.fixtures_hub import Publisher, wait_for
from tests.fixtures_web import PASSWORD, ROLE_USERS

pytestmark = pytest.mark.browser
D, C = "soc-son", "phu-linh"
AREA = f"ops/v1/{D}/{C}"
DOC = Path(__file__).resolve().parents[2] / "docs" / "ADMIN.md"
TABLE_TITLE = "## What each role sees and can do"


def role_table() -> dict[str, dict[str, Any]]:
    """docs/ADMIN.md's table: role → home path, menu labels, permission codes."""
    text = DOC.read_text(encoding="utf-8").split(TABLE_TITLE, 1)[1].split("\n## ", 1)[0]
    rows: dict[str, dict[str, Any]] = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        m = re.match(r"`(\w+)`", cells[0]) if len(cells) == 4 else None
        if m is None or m.group(1) not in ROLE_PERMS:
            continue
        home = re.search(r"`(/[^`]*)`", cells[1])
        codes = set(re.findall(r"`([a-z_]+\.[a-z_]+)`", cells[3]))
        rows[m.group(1)] = {
            "home": home.group(1) if home else None,
            "menu": [x.strip() for x in cells[2].split("·") if x.strip()],
            "perms": {str(p) for p in Perm} if "every permission" in cells[3] else codes,
        }
    return rows


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


def seed_broadcasts(hub: Hub) -> None:
    """Content, a programme waiting for approval and an approved one that has aired, with its receipts."""
    now = datetime.now(UTC).replace(tzinfo=None)
    with hub.db.session() as s, s.begin():
        s.add(Village(district=D, commune=C, slug="thon-dong", name="Thôn Đông"))
        for i, title in ((1, "Thông báo họp dân"), (2, "Tin chiều")):
            s.add(BroadcastContent(
                id=i, district=D, commune=C, title=title, source="tts", text=title, original_path=f"o{i}",
                path=f"p{i}.mp3", sha256=f"{i:064d}", size=48000, duration_s=60.0, loudness_lufs=-16.0,
                true_peak_dbtp=-1.5, created_by="vanhoa.pl", created_at=now,
            ))  # fmt: skip
        once = {"kind": "once", "times": ["17:00"], "date": (now + timedelta(days=400)).date().isoformat(),
                "weekdays": [], "start_date": None, "end_date": None}  # fmt: skip
        for pid, state, title in ((1, "pending_approval", "Họp dân thôn Đông"), (2, "approved", "Tin chiều")):
            s.add(Programme(
                id=pid, district=D, commune=C, title=title, schedule=once, state=state, created_by="vanhoa.pl",
                created_at=now, submitted_at=now, approved_by="chutich.pl" if pid == 2 else None,
                approved_at=now if pid == 2 else None,
            ))  # fmt: skip
            s.flush()  # the programme row before the rows that refer to it
            s.add(ProgrammeItem(programme_id=pid, position=0, content_id=pid))
            s.add(ApprovalStep(programme_id=pid, at=now, actor="vanhoa.pl", action="submit", from_state="draft",
                               to_state="pending_approval"))  # fmt: skip
        start = now - timedelta(hours=2)
        s.add(Airing(
            id="tin-chieu-1", programme_id=2, occurrence_at=start, start_at=start, district=D, commune=C,
            title="Tin chiều", priority="normal", status="partial", targeted=2, played=1, skew_ms=1.5,
            created_at=start - timedelta(minutes=2), finished_at=start + timedelta(minutes=1),
        ))  # fmt: skip
        for sp, ok in (("loa-cho", True), ("loa-dinh", False)):
            s.add(AiringReceipt(
                airing_id="tin-chieu-1", speaker_key=f"{D}/{C}/{sp}", state="finished" if ok else "no_answer",
                started_at=start if ok else None, started_offset_ms=0.7 if ok else None,
                played_s=60.0 if ok else None, finished_at=start + timedelta(seconds=60) if ok else None,
                error=None if ok else "loa không trả lời",
            ))  # fmt: skip


def seed_accounts(hub: Hub) -> None:
    """Each user's account as after some use: a second open session (another device) and an API token."""
    now = datetime.now(UTC).replace(tzinfo=None)
    with hub.db.session() as s, s.begin():
        for username in ROLE_USERS:
            user = auth.get_user(s, username)
            assert user is not None
            auth.create_session(s, user.id, now, 8)
            auth.create_token(s, username, "Grafana phòng chỉ huy huyện Sóc Sơn", now)


async def seed_devices(hub: Hub, publisher: Publisher) -> None:
    """An edge box with two cameras (one goes offline and raises an alert) and two speaker clusters, as their
    agents report them."""
    now = time.time()
    publisher.publish(
        f"{AREA}/edge/box-1/status", {"state": "online", "ts": now, "version": "1"}, retain=True
    )
    for i, (cam, online) in enumerate((("cong-ubnd", True), ("cho", False))):
        publisher.publish(f"{AREA}/camera/{cam}/health", _health(online, i))
    for i, sp in enumerate(("loa-cho", "loa-dinh")):
        publisher.publish(
            f"{AREA}/speaker/{sp}/status",
            {
                "state": "online",
                "ts": now,
                "version": "1",
                "name": f"Cụm loa {i + 1}",
                "village": "thon-dong",
            },
            retain=True,
        )
        publisher.publish(
            f"{AREA}/speaker/{sp}/health",
            {
                "ts": now,
                "seq": 1,
                "volume": 70,
                "amplifier": "on",
                "signal_dbm": -70.0,
                "disk_free_mb": 900.0,
            },
        )
    await wait_for(lambda: len(hub.store.cameras) == 2, 20, "both cameras known to the hub")
    await wait_for(lambda: len(hub.broadcast.speakers.speakers) == 2, 20, "both speakers known to the hub")


def seed_map(hub: Hub) -> None:
    """A camera point holding the market camera, and a position for one speaker: every role's map has a marker
    of what it may see."""
    with hub.db.session() as s, s.begin():
        s.add(CameraPoint(key=f"{D}/{C}/cho", district=D, commune=C, slug="cho", name="Chợ Phù Linh",
                          lat=21.27, lon=105.85))  # fmt: skip
        s.execute(update(Camera).where(Camera.key == f"{D}/{C}/cho").values(point="cho", purpose="security"))
        s.execute(update(Speaker).where(Speaker.key == f"{D}/{C}/loa-cho").values(lat=21.271, lon=105.852))


async def test_every_role_lands_home_and_reaches_no_refusal(
    tmp_path: Path, mosquitto: Service, publisher: Publisher, browser: Browser, password_hash: str
) -> None:
    table = role_table()
    assert set(table) == set(ROLE_PERMS), f"docs/ADMIN.md's role table lists {sorted(table)}"
    for role, row in table.items():
        assert row["perms"] == {str(p) for p in ROLE_PERMS[role]}, f"{role}: the table's permissions"
        assert row["home"] == home_for_role(role), f"{role}: the table's home"
    fast = {"for_s": 0, "group_wait_s": 1, "group_interval_s": 1}
    config = journey_config(
        tmp_path,
        mosquitto.port,
        districts={D: {"name": "Huyện Sóc Sơn", "communes": {C: "Xã Phù Linh"}}},
        alerts={"eval_interval_s": 0.2, "startup_grace_s": 0, "rules": {"camera_offline": fast}},
        notify={"groups": {"police": {D: "nhom-cong-an-soc-son"}}},  # dry run: the outbox shows the message
    )
    ARTIFACTS.mkdir(exist_ok=True)
    problems: list[str] = []
    async with running_hub_app(config) as (hub, app):
        for username, (role, district, commune) in ROLE_USERS.items():
            add_user(hub, password_hash, username, role, district, commune)
        seed_accounts(hub)
        await seed_devices(hub, publisher)
        seed_broadcasts(hub)
        seed_map(hub)
        origin = config.http.public_url
        for username, (role, _, _) in ROLE_USERS.items():
            ctx = await browser.new_context(viewport=PHONE, locale="vi-VN", is_mobile=True, has_touch=True)
            page = await ctx.new_page()
            await page.goto(origin + "/login")
            await page.fill("#username", username)
            await page.fill("#password", PASSWORD)
            await page.click("button[type=submit]")
            home = table[role]["home"]
            await expect(page).to_have_url(origin + home)
            menu = await page.locator("header nav.nav a").all_inner_texts()
            assert menu == table[role]["menu"], f"{role}'s menu"
            assert await page.locator("header a.brand").get_attribute("href") == home
            await page.screenshot(path=str(ARTIFACTS / f"home-{role}-360.png"))
            result = await crawl(page, app, origin, role, home)
            assert len(result.visited) > len(menu), f"{role}: the crawl went somewhere ({result.visited})"
            assert "/map" in {urlsplit(v).path for v in result.visited}, f"{role}: the map is in reach"
            problems += result.problems
            await ctx.close()
    assert not problems, "\n".join(problems)
