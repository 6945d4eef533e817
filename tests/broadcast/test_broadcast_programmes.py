"""Programmes through the web API and pages: validation, conflicts (409 → play after / replace), approval rules
(no self-approval, scope), editing sends back to pending, emergency air-now with review, audit and steps."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from broadcast.airings.models import Airing
from broadcast.config import ScheduleConfig
from broadcast.content.models import BroadcastContent
from broadcast.orders import AiringOrder, Priority
from broadcast.programmes.models import ApprovalStep, Programme, ProgrammeSkip
from broadcast.scheduling.scheduler import BroadcastScheduler
from broadcast.service import SCHEDULER
from broadcast.web.programmes import schemas
from hub.core import auth
from hub.core.audit import AuditEntry
from hub.core.geo import Village
from hub.core.speaker_models import Speaker
from hub.web.security import SESSION_COOKIE
from tests.fixtures_web import WebEnv

D, C = "soc-son", "phu-linh"
NOW = datetime(2026, 11, 2, 7, 0, 0)  # naive UTC: 14:00 on Monday 2 Nov in Hà Nội
TZ = ZoneInfo("Asia/Ho_Chi_Minh")


class RecordingDispatcher:
    """The Dispatcher protocol's receiving end: keeps what the scheduler sent (the real one is tested with the
    receivers in the dispatch tests)."""

    def __init__(self) -> None:
        self.orders: list[AiringOrder] = []
        self.cancelled: list[tuple[str, str]] = []

    async def dispatch(self, order: AiringOrder) -> None:
        self.orders.append(order)

    async def cancel(self, airing_id: str, reason: str) -> None:
        self.cancelled.append((airing_id, reason))


def seed(env: WebEnv) -> None:
    with env.db.session() as s, s.begin():
        for i, (title, dur) in enumerate((("Tin chiều", 120.0), ("Thông báo tiêm phòng", 60.0)), start=1):
            s.add(
                BroadcastContent(
                    id=i,
                    district=D,
                    commune=C,
                    title=title,
                    source="tts",
                    original_path=f"o{i}",
                    path=f"p{i}.mp3",
                    sha256=f"{i:064d}",
                    size=1000,
                    duration_s=dur,
                    loudness_lufs=-16.0,
                    true_peak_dbtp=-1.5,
                    created_by="canbo",
                )
            )
        s.add(
            BroadcastContent(
                id=9,
                district=D,
                commune="khac",
                title="Xã khác",
                source="tts",
                original_path="o9",
                path="p9.mp3",
                sha256="9" * 64,
                size=1,
                duration_s=5,
                loudness_lufs=-16,
                true_peak_dbtp=-2,
                created_by="x",
            )
        )
        s.add(Village(district=D, commune=C, slug="thon-1", name="Thôn 1"))
        s.add(Village(district=D, commune=C, slug="thon-2", name="Thôn 2"))
        for slug, village in (("loa-1", "thon-1"), ("loa-2", "thon-1"), ("loa-3", "thon-2")):
            s.add(
                Speaker(
                    key=f"{D}/{C}/{slug}", district=D, commune=C, slug=slug, village=village, status="online"
                )
            )
    env.add_user("canbo", "officer", D, C)
    env.add_user("canbo2", "officer", D, C)
    env.add_user("chutich", "approver", D, C)
    env.add_user("duyet-xa-khac", "approver", D, "khac")
    env.set_clock(lambda: NOW)


def programme(**kw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "district": D,
        "commune": C,
        "title": "Tin chiều",
        "items": [1],
        "target_kind": "commune",
        "schedule": {"kind": "daily", "times": ["17:00"]},
        "repeats": 1,
        "gap_s": 0,
        "priority": "normal",
    }
    body.update(kw)
    return body


async def as_user(env: WebEnv, username: str) -> str:
    """Signs the test client in as `username` with a fresh session (the login form itself, argon2 included, is
    tested in test_auth.py); returns the session's CSRF token."""
    env.client.session.cookie_jar.clear()
    with env.db.session() as s, s.begin():
        user = auth.get_user(s, username)
        assert user is not None
        cookie, csrf = auth.create_session(s, user.id, NOW, 12)
    env.client.session.cookie_jar.update_cookies({SESSION_COOKIE: cookie})
    return csrf


async def call(env: WebEnv, csrf: str, method: str, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    r = await env.client.request(method, path, json=body, headers={"X-CSRF-Token": csrf})
    return r.status, await r.json()


async def test_validation_messages_name_the_field(web: WebEnv) -> None:
    seed(web)
    csrf = await as_user(web, "canbo")
    # 400: the body does not match the API document (the field named); 422: it matches, refused on meaning;
    # 403: outside the caller's area
    cases = [
        (programme(title=" "), 422, "title", "Thiếu tên chương trình"),
        (programme(items=[]), 400, "items", "ít nhất 1"),
        (programme(items=[9]), 422, "items", "thuộc xã khác"),
        (programme(items=[77]), 422, "items", "Không tìm thấy nội dung #77"),
        (programme(schedule={"kind": "daily", "times": ["25:00"]}), 400, "schedule.times", "không khớp"),
        (programme(schedule={"kind": "weekly", "times": ["05:00"]}), 422, "schedule.weekdays", "thứ"),
        (
            programme(schedule={"kind": "once", "date": "2026-11-01", "times": ["17:00"]}),
            422,
            "schedule.date",
            "đã qua",
        ),
        (programme(repeats=11), 400, "repeats", "10"),
        (programme(target_kind="villages", target_ids=["thon-9"]), 422, "target_ids", "Không có thôn thon-9"),
        (programme(priority="urgent"), 400, "priority", "cho phép"),
        (programme(commune="khac"), 403, "commune", "ngoài phạm vi"),
    ]
    for body, code, field, words in cases:
        status, data = await call(web, csrf, "POST", "/api/v1/programmes", body)
        assert status == code, (body, data)
        assert data["error"]["field"] == field, data
        assert words in data["error"]["message"], data
    with web.db.session() as s:
        assert s.scalar(select(Programme.id)) is None  # nothing partial stored
    assert web.ctx.counters["programme_rejected_invalid_programme"] >= 6
    assert web.ctx.counters["http_400_bad_body"] >= 4  # refused before the handler, counted all the same


async def test_conflict_then_play_after_or_replace(web: WebEnv) -> None:
    seed(web)
    csrf = await as_user(web, "canbo")
    status, first = await call(web, csrf, "POST", "/api/v1/programmes", programme(submit=True))
    assert status == 201 and first["state"] == "pending_approval"
    # Same time, speakers of thôn 1 ⊂ whole commune: refused with the conflicts and a suggestion.
    clash = programme(title="Tiêm phòng", items=[2], target_kind="villages", target_ids=["thon-1"])
    status, data = await call(web, csrf, "POST", "/api/v1/programmes", clash)
    assert status == 409
    assert data["error"]["code"] == "conflict" and data["suggestion"] == "after"
    c0 = data["conflicts"][0]
    assert c0["other_id"] == first["id"] and c0["speakers"] == ["loa-1", "loa-2"]
    # Play after: shifted past the 120 s programme → 17:02 every day.
    status, after = await call(web, csrf, "POST", "/api/v1/programmes", {**clash, "resolution": "after"})
    assert status == 201, after
    assert after["schedule"]["times"] == ["17:02"] and after["shifted_by_s"] == 120
    # A priority programme at 17:00 suggests replacing; replace records skips for the shared speakers only.
    urgent = programme(
        title="Bão số 5", items=[2], priority="priority", target_kind="speakers", target_ids=["loa-3"]
    )
    status, data = await call(web, csrf, "POST", "/api/v1/programmes", urgent)
    assert status == 409 and data["suggestion"] == "replace"
    status, rep = await call(web, csrf, "POST", "/api/v1/programmes", {**urgent, "resolution": "replace"})
    assert status == 201 and rep["replaced"]
    with web.db.session() as s:
        skips = list(s.scalars(select(ProgrammeSkip)))
        assert skips and all(k.programme_id == first["id"] and k.speakers == ["loa-3"] for k in skips)
        assert {k.by_programme_id for k in skips} == {rep["id"]}
        actions = [
            st.action for st in s.scalars(select(ApprovalStep).where(ApprovalStep.programme_id == rep["id"]))
        ]
        assert actions == ["create", "replace"]


async def test_approval_rules_and_edit_back_to_pending(web: WebEnv) -> None:
    seed(web)
    csrf = await as_user(web, "canbo")
    status, p = await call(web, csrf, "POST", "/api/v1/programmes", programme(submit=True))
    assert status == 201
    pid = p["id"]
    # An officer has no approval permission at all.
    status, data = await call(web, csrf, "POST", f"/api/v1/programmes/{pid}/approve", {})
    assert status == 403
    # An approver of another commune does not even see it.
    csrf = await as_user(web, "duyet-xa-khac")
    status, data = await call(web, csrf, "POST", f"/api/v1/programmes/{pid}/approve", {})
    assert status == 404
    # Rejection needs a reason; approval works for the commune's approver.
    csrf = await as_user(web, "chutich")
    status, data = await call(web, csrf, "POST", f"/api/v1/programmes/{pid}/reject", {})
    assert status == 400 and data["error"]["field"] == "comment"
    status, data = await call(web, csrf, "POST", f"/api/v1/programmes/{pid}/approve", {"comment": "Đồng ý"})
    assert status == 200 and data["state"] == "approved" and data["approved_by"] == "chutich"
    assert set(schemas.PROGRAMME_DETAIL["required"]) <= set(data)  # the OpenAPI schema says what is there
    # Edited by another officer: back to pending; the editor may not approve their own edit.
    csrf = await as_user(web, "canbo2")
    edit = programme(title="Tin chiều (sửa)", version=data["version"])
    status, data = await call(web, csrf, "PUT", f"/api/v1/programmes/{pid}", edit)
    assert status == 200 and data["state"] == "pending_approval" and data["approved_by"] is None
    status, stale = await call(web, csrf, "PUT", f"/api/v1/programmes/{pid}", edit)
    assert status == 409 and stale["error"]["code"] == "stale"
    # A user who is both creator-role and approver-role does not exist; check self-approval with an admin.
    web.add_user("quantri", "admin")
    csrf = await as_user(web, "quantri")
    status, mine = await call(
        web,
        csrf,
        "POST",
        "/api/v1/programmes",
        programme(title="Của admin", submit=True, schedule={"kind": "daily", "times": ["06:00"]}),
    )
    assert status == 201
    status, data = await call(web, csrf, "POST", f"/api/v1/programmes/{mine['id']}/approve", {})
    assert status == 403 and data["error"]["code"] == "self_approval"
    status, data = await call(web, csrf, "POST", f"/api/v1/programmes/{pid}/approve", {})
    assert status == 200 and data["state"] == "approved"
    steps = [(s["action"], s["actor"]) for s in data["steps"]]
    assert steps == [
        ("create", "canbo"),
        ("submit", "canbo"),
        ("approve", "chutich"),
        ("edit", "canbo2"),
        ("approve", "quantri"),
    ]
    with web.db.session() as s:
        audit = [
            a.action for a in s.scalars(select(AuditEntry).where(AuditEntry.target == f"programme:{pid}"))
        ]
    assert audit == [
        "programme.create",
        "programme.submit",
        "programme.approve",
        "programme.edit",
        "programme.approve",
    ]


async def test_emergency_air_now_and_review(web: WebEnv) -> None:
    seed(web)
    rec = RecordingDispatcher()
    sched = BroadcastScheduler(web.db, rec, TZ, ScheduleConfig())
    web.ctx.services.provide(SCHEDULER, sched)
    csrf = await as_user(web, "chutich")  # approver: may air emergencies, cannot compose normal programmes
    status, data = await call(web, csrf, "POST", "/api/v1/programmes", programme())
    assert status == 403
    body = programme(title="Lũ khẩn cấp", items=[2], target_kind="villages", target_ids=["thon-2"])
    status, data = await call(web, csrf, "POST", "/api/v1/programmes/emergency", body)
    assert status == 400 and data["error"]["field"] == "confirm"
    t0 = time.time()
    status, data = await call(web, csrf, "POST", "/api/v1/programmes/emergency", {**body, "confirm": True})
    assert status == 201, data
    assert data["state"] == "approved" and data["needs_review"] and data["priority"] == "emergency"
    (order,) = rec.orders
    assert order.priority == Priority.EMERGENCY and order.speakers == ("loa-3",)
    assert t0 < order.start_at <= time.time() + 3
    with web.db.session() as s:
        airing = s.scalars(select(Airing)).one()
        assert airing.id == data["airing_id"] and airing.priority == "emergency" and airing.targeted == 1
    # Listed for review; reviewing clears it and is recorded.
    html = await (await web.client.get("/broadcasts/approvals")).text()
    assert "Lũ khẩn cấp" in html and "Cần xem lại" in html
    pid = data["id"]
    status, data = await call(
        web, csrf, "POST", f"/api/v1/programmes/{pid}/review", {"comment": "Đúng quy trình"}
    )
    assert status == 200 and not data["needs_review"]
    assert [s["action"] for s in data["steps"]] == ["create", "air_emergency", "review"]
    # A normal programme cannot be aired without approval.
    csrf = await as_user(web, "canbo")
    status, normal = await call(
        web, csrf, "POST", "/api/v1/programmes", programme(schedule={"kind": "daily", "times": ["05:00"]})
    )
    csrf = await as_user(web, "chutich")
    status, data = await call(
        web, csrf, "POST", f"/api/v1/programmes/{normal['id']}/air-now", {"confirm": True}
    )
    assert status == 409 and "khẩn cấp" in data["error"]["message"]
    assert len(rec.orders) == 1
    await asyncio.sleep(0)


async def test_pages_render_in_vietnamese(web: WebEnv) -> None:
    seed(web)
    csrf = await as_user(web, "canbo")
    status, p = await call(
        web,
        csrf,
        "POST",
        "/api/v1/programmes",
        programme(submit=True, schedule={"kind": "weekly", "times": ["05:00", "17:00"], "weekdays": [1, 3]}),
    )
    assert status == 201
    cal = await (await web.client.get("/broadcasts?week=2026-11-02")).text()
    assert "Lịch phát tuần 02/11 – 08/11/2026" in cal
    assert cal.count(f'data-programme="{p["id"]}"') == 4  # Mon + Wed, 05:00 + 17:00
    assert '<a href="/broadcasts" aria-current="page">Phát thanh</a>' in cal or "Phát thanh" in cal
    detail = await (await web.client.get(f"/broadcasts/programmes/{p['id']}")).text()
    assert "Thứ Hai, Thứ Tư lúc 05:00, 17:00" in detail and "Chờ duyệt" in detail
    editor = await (await web.client.get("/broadcasts/programmes/new")).text()
    assert "Soạn chương trình" in editor and "Tin chiều" in editor  # content offered from the library
    assert (await web.client.get("/broadcasts/approvals")).status == 403  # officers do not approve
    listing = await (await web.client.get("/broadcasts/programmes?state=pending_approval")).text()
    assert "Tin chiều" in listing
    edit = await (await web.client.get(f"/broadcasts/programmes/{p['id']}/edit")).text()
    assert "Sửa chương trình" in edit and '"version": 1' in edit  # the editor gets the programme to prefill
    web.add_user("canbo-huyen", "officer", D)  # district-wide: chooses the commune first
    await as_user(web, "canbo-huyen")
    pick = await (await web.client.get("/broadcasts/programmes/new")).text()
    assert "chọn xã" in pick and 'value="phu-linh"' in pick
    assert (
        await web.client.get("/broadcasts/programmes/new?district=soc-son&commune=phu-linh")
    ).status == 200
    assert (await web.client.get("/broadcasts/programmes/new?district=dong-anh&commune=uy-no")).status == 403
    r = await web.client.get("/api/v1/programmes/calendar?week=2026-11-02")
    data = await r.json()
    assert [e["local_time"] for e in data["items"]] == ["05:00", "17:00", "05:00", "17:00"]
