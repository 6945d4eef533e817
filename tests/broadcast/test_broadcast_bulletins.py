"""Bulletin intake from the province over a real app and SQLite, with an API token as the province's system
would use: audio bulletin → one programme per commune submitted for approval, receipt; resend → same receipt;
text-only bulletin read out by espeak-ng; refusals naming the bad key; permission."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import aiohttp
from sqlalchemy import select

from broadcast.bulletins.models import Bulletin
from broadcast.config import ScheduleConfig
from broadcast.content.models import BroadcastContent
from broadcast.programmes.models import Programme
from broadcast.scheduling.scheduler import BroadcastScheduler
from broadcast.service import SCHEDULER
from hub.compose import HubConfig
from hub.core import auth
from hub.core.audit import AuditEntry
from hub.core.speaker_models import Speaker
from tests.broadcast.test_broadcast_content_api import clip  # noqa: F401  (fixture)
from tests.broadcast.test_broadcast_programmes import TZ, RecordingDispatcher
from tests.fixtures_web import T0, WebEnv

URL = "/api/v1/broadcasts/bulletins"


def token_of(web: WebEnv, username: str, role: str, district: str | None = None) -> dict[str, str]:
    web.set_clock(lambda: T0)
    web.add_user(username, role, district=district)
    with web.db.session() as s, s.begin():
        _, token = auth.create_token(s, username, "nguồn tin tỉnh", T0)
    return {"Authorization": f"Bearer {token}"}


def bulletin(**over: Any) -> dict[str, Any]:
    doc = {
        "upstream_id": "TN-2026-0001",
        "title": "Thông báo phòng chống bão số 9",
        "level": 2,
        "valid_from": "2026-11-02T15:00:00+07:00",
        "valid_until": "2026-11-03T15:00:00+07:00",
        "communes": ["soc-son/phu-linh", "soc-son/tien-duoc"],
    }
    doc.update(over)
    return doc


def form(doc: Any, audio: bytes | None = None) -> aiohttp.FormData:
    f = aiohttp.FormData(default_to_multipart=True)
    f.add_field("bulletin", doc if isinstance(doc, str) else json.dumps(doc), content_type="application/json")
    if audio is not None:
        f.add_field("audio", audio, filename="ban-tin.m4a", content_type="application/octet-stream")
    return f


async def test_audio_bulletin_lands_for_approval_and_a_resend_gets_the_same_receipt(
    web: WebEnv,
    clip: bytes,  # noqa: F811
) -> None:
    web.add_area("soc-son", "tien-duoc", "Xã Tiên Dược")
    headers = token_of(web, "nguon-tin-tinh", "officer")
    r = await web.client.post(URL, data=form(bulletin(), clip), headers=headers)
    assert r.status == 201, await r.text()
    rec = await r.json()
    assert rec["duplicate"] is False and rec["level"] == 2
    assert {(x["commune"], x["state"]) for x in rec["programmes"]} == {
        ("phu-linh", "pending_approval"),
        ("tien-duoc", "pending_approval"),
    }

    again = await web.client.post(URL, data=form(bulletin(title="gửi lại"), clip), headers=headers)
    assert again.status == 200
    rec2 = await again.json()
    assert rec2["duplicate"] is True and rec2["programmes"] == rec["programmes"]

    with web.db.session() as s:
        progs = list(s.scalars(select(Programme).order_by(Programme.id)))
        assert [(p.commune, p.priority, p.title) for p in progs] == [
            ("phu-linh", "priority", "Thông báo phòng chống bão số 9"),
            ("tien-duoc", "priority", "Thông báo phòng chống bão số 9"),
        ]
        assert progs[0].schedule["date"] == "2026-11-02" and progs[0].schedule["times"] == ["15:00"]
        contents = list(s.scalars(select(BroadcastContent)))
        assert (
            len(contents) == 2 and len({c.sha256 for c in contents}) == 1
        )  # one processed file, two communes
        assert len(list(s.scalars(select(Bulletin)))) == 1
        assert (
            s.scalars(select(AuditEntry).where(AuditEntry.action == "bulletin.receive")).first() is not None
        )
    media = await web.client.get(f"/media/{contents[0].sha256}.mp3")
    assert media.status == 200


async def test_text_bulletin_is_read_out_and_starts_after_now_when_already_valid(web: WebEnv) -> None:
    headers = token_of(web, "nguon-tin-tinh", "officer")
    doc = bulletin(
        upstream_id="TN-2026-0002", level=3, text="Bão số 9 đổ bộ lúc 14 giờ; người dân không ra đồng.",
        valid_from="2026-11-01T00:00:00Z", communes=["soc-son/phu-linh"],
    )  # fmt: skip
    r = await web.client.post(URL, data=form(doc), headers=headers)
    assert r.status == 201, await r.text()
    with web.db.session() as s:
        p = s.scalars(select(Programme)).one()
        c = s.scalars(select(BroadcastContent)).one()
    assert p.priority == "emergency" and c.source == "tts" and c.duration_s > 1
    assert (p.schedule["date"], p.schedule["times"]) == ("2026-11-02", ["14:02"])  # T0 14:00 local + margin


async def test_refusals_name_the_bad_key_and_need_the_permission(web: WebEnv, clip: bytes) -> None:  # noqa: F811
    headers = token_of(web, "nguon-tin-tinh", "officer")
    cases: list[tuple[Any, int, str]] = [
        (bulletin(priority="cao"), 400, "priority"),  # unknown key
        (bulletin(level=4), 400, "level"),
        (bulletin(valid_until="2026-11-01T00:00:00+07:00"), 422, "valid_until"),
        (bulletin(communes=["soc-son/phu-linh", "soc-son/phu-linh"]), 400, "communes"),
        ("{not json", 400, "bulletin"),
        (bulletin(communes=["soc-son/khong-co"]), 422, ""),
        (bulletin(communes=["soc-son/phu-linh"]), 422, ""),  # neither audio nor text
    ]
    for doc, status, field in cases:
        r = await web.client.post(URL, data=form(doc), headers=headers)
        body = await r.json()
        assert r.status == status, (doc, body)
        if field:
            assert body["error"].get("field", "bulletin") == field or field in body["error"]["message"], body
    police = token_of(web, "congan", "police")
    assert (await web.client.post(URL, data=form(bulletin(), clip), headers=police)).status == 403
    with web.db.session() as s:
        assert s.scalars(select(Programme)).first() is None and s.scalars(select(Bulletin)).first() is None


async def test_emergency_policy_air_now_airs_a_level_3_bulletin_at_once(
    web: WebEnv,
    web_config: HubConfig,
    clip: bytes,  # noqa: F811
) -> None:
    web_config.broadcast.bulletins.emergency = "air_now"
    rec_dispatcher = RecordingDispatcher()
    web.ctx.services.provide(SCHEDULER, BroadcastScheduler(web.db, rec_dispatcher, TZ, ScheduleConfig()))
    with web.db.session() as s, s.begin():
        s.add(Speaker(key="soc-son/phu-linh/loa-1", district="soc-son", commune="phu-linh", slug="loa-1",
                      status="online"))  # fmt: skip
    headers = token_of(web, "nguon-tin-tinh", "officer")
    web.set_clock(lambda: datetime.now(UTC).replace(tzinfo=None))  # the scheduler airs on the real clock
    doc = bulletin(upstream_id="TN-KC-1", level=3, communes=["soc-son/phu-linh"],
                   valid_from="2026-01-01T00:00:00Z", valid_until="2099-01-01T00:00:00Z")  # fmt: skip
    r = await web.client.post(URL, data=form(doc, clip), headers=headers)
    assert r.status == 201, await r.text()
    (landed,) = (await r.json())["programmes"]
    (order,) = rec_dispatcher.orders
    assert landed["airing_id"] == order.airing_id and order.priority == "emergency"
    with web.db.session() as s:
        assert s.get(Programme, landed["programme_id"]).needs_review  # type: ignore[union-attr]
    again = await (await web.client.post(URL, data=form(doc, clip), headers=headers)).json()
    assert again["duplicate"] is True and again["programmes"][0]["airing_id"] == order.airing_id
