"""/alerts/outbox and /api/v1/notifications…: scope, permissions, retry (audited), channel status."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select

from hub.core.audit import AuditEntry
from hub.notify import outbox
from hub.notify.models import ChannelToken, OutboxRow
from hub.notify.outbox import NewRow
from tests.fixtures_web import T0, WebEnv


def add_row(
    web: WebEnv, event: str, state: str, district: str = "soc-son", commune: str = "phu-linh", **kw: object
) -> int:
    r = NewRow(
        event_id=event,
        channel=str(kw.get("channel", "oa")),
        target="g-1",
        target_name="Nhóm công an huyện",
        route="district-police",
        kind=str(kw.get("kind", "camera_offline")),
        severity="warning",
        notice_status="firing",
        district=district,
        commune=commune,
        text=f"🟠 [Cảnh báo] Camera mất kết nối — {event}\n• Cổng UBND xã",
        snapshot_camera=None,
        state=state,
        next_try_at=T0,
        last_error=kw.get("error"),  # type: ignore[arg-type]
    )
    with web.db.session() as s, s.begin():
        outbox.store(s, [r], T0)
        return int(s.scalars(select(OutboxRow.id).where(OutboxRow.event_id == event)).one())


async def test_scope_and_permissions(web: WebEnv) -> None:
    mine = add_row(web, "ev-mine", "sent")
    other = add_row(web, "ev-other", "failed", district="dong-anh", commune="xa-khac")
    system = add_row(
        web, "ev-channel", "dry_run", district="", commune="", kind="channel_failing", channel="bot"
    )
    add_row(web, "digest:2026-11-01:*", "sent", district="", commune="", kind="digest")  # every district
    web.add_user("congan", "police", district="soc-son")
    web.add_user("canbo", "officer", district="soc-son", commune="phu-linh")
    assert (await web.login("canbo")).status == 303
    assert (await web.client.get("/api/v1/notifications")).status == 403
    assert (await web.client.get("/alerts/outbox")).status == 403

    web.client.session.cookie_jar.clear()
    assert (await web.login("congan")).status == 303
    body = await (await web.client.get("/api/v1/notifications")).json()
    assert {x["id"] for x in body["items"]} == {
        mine,
        system,
    }  # the channel row is about no area: everyone sees it
    assert body["counts"] == {"sent": 1, "dry_run": 1}
    assert (await web.client.get(f"/api/v1/notifications/{other}")).status == 404
    one = await (await web.client.get(f"/api/v1/notifications/{mine}")).json()
    assert one["state"] == "sent" and "Cổng UBND xã" in one["text"]
    only = await (await web.client.get("/api/v1/notifications?state=dry_run")).json()
    assert [x["id"] for x in only["items"]] == [system]
    bad = await web.client.get("/api/v1/notifications?state=gone")
    assert bad.status == 400 and "state" in (await bad.json())["error"]["message"]

    html = await (await web.client.get("/alerts/outbox")).text()
    assert "Hộp thư thông báo Zalo" in html and "Camera mất kết nối" in html and "ev-other" not in html
    assert "Chạy thử (không gửi)" in html and "Kênh thông báo Zalo gặp sự cố" in html


async def test_retry_is_audited_and_only_for_failed_dead_or_unknown(web: WebEnv) -> None:
    failed = add_row(web, "ev-f", "failed", error="User is not a member of the group (-237)")
    sent = add_row(web, "ev-s", "sent")
    other = add_row(web, "ev-o", "dead", district="dong-anh", commune="xa-khac")
    web.add_user("kythuat", "technician", district="soc-son")
    web.add_user("congan", "police", district="soc-son")
    web.set_clock(lambda: datetime(2026, 11, 2, 8, 0, 0))

    assert (await web.login("kythuat")).status == 303
    html = await (await web.client.get("/alerts/outbox")).text()
    assert "Gửi lại" not in html  # technicians see the outbox but may not resend
    csrf = await web.page_csrf("/alerts/outbox")
    r = await web.client.post(f"/api/v1/notifications/{failed}/retry", headers={"X-CSRF-Token": csrf})
    assert r.status == 403

    web.client.session.cookie_jar.clear()
    assert (await web.login("congan")).status == 303
    html = await (await web.client.get("/alerts/outbox?state=failed")).text()
    assert f'action="/alerts/outbox/{failed}/retry"' in html and "-237" in html
    csrf = await web.page_csrf("/alerts/outbox")
    r = await web.client.post(
        f"/alerts/outbox/{failed}/retry",
        data={"csrf": csrf, "back": "/alerts/outbox?state=failed"},
        allow_redirects=False,
    )
    assert r.status == 303 and r.headers["Location"] == "/alerts/outbox?state=failed"
    with web.db.session() as s:
        row = s.get(OutboxRow, failed)
        assert row is not None and row.state == "pending" and row.attempts == 0
        assert row.next_try_at == datetime(2026, 11, 2, 8, 0, 0)
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "notification.retry")).one()
        assert entry.actor == "congan" and entry.target == f"notification:{failed}"
        assert entry.before is not None and entry.before["state"] == "failed"

    r = await web.client.post(f"/api/v1/notifications/{sent}/retry", headers={"X-CSRF-Token": csrf})
    assert r.status == 409 and (await r.json())["error"]["code"] == "not_retryable"
    r = await web.client.post(f"/api/v1/notifications/{other}/retry", headers={"X-CSRF-Token": csrf})
    assert r.status == 404
    r = await web.client.post(f"/alerts/outbox/{failed}/retry", data={"back": "/"}, allow_redirects=False)
    assert r.status == 403  # no CSRF token


async def test_channels_without_a_running_hub_come_from_the_config(web: WebEnv) -> None:
    web.add_user("admin1", "admin")
    assert (await web.login("admin1")).status == 303
    body = await (await web.client.get("/api/v1/notifications/channels")).json()
    assert [(c["channel"], c["mode"]) for c in body["items"]] == [("oa", "dry_run"), ("bot", "dry_run")]
    html = await (await web.client.get("/alerts/outbox")).text()
    assert "Chạy thử (chưa có khoá)" in html and "Chưa có thông báo nào." in html
    assert re.search(r'href="/alerts/outbox"[^>]*>Hộp thư Zalo', html)


async def test_admin_replaces_the_oa_refresh_token_after_reauthorisation(web: WebEnv) -> None:
    web.add_user("admin1", "admin")
    web.add_user("congan", "police", district="soc-son")
    with web.db.session() as s, s.begin():
        s.add(
            ChannelToken(
                channel="oa", refresh_token="rt-burnt", blocked_reason="Zalo từ chối (-14014)", generation=3
            )
        )
    assert (await web.login("congan")).status == 303
    csrf = await web.page_csrf("/alerts/outbox")
    url = "/api/v1/notifications/channels/oa/refresh-token"
    assert (
        await web.client.post(url, json={"refresh_token": "rt-new"}, headers={"X-CSRF-Token": csrf})
    ).status == 403

    web.client.session.cookie_jar.clear()
    assert (await web.login("admin1")).status == 303
    html = await (await web.client.get("/alerts/outbox")).text()
    assert 'action="/alerts/outbox/oa-token"' in html  # shown while the channel is blocked
    csrf = await web.page_csrf("/alerts/outbox")
    bad = await web.client.post(url, json={"refresh_token": "two words"}, headers={"X-CSRF-Token": csrf})
    assert bad.status == 400 and "refresh_token" in (await bad.json())["error"]["message"]
    r = await web.client.post(
        "/alerts/outbox/oa-token",
        data={"csrf": csrf, "refresh_token": " rt-new-1234 "},
        allow_redirects=False,
    )
    assert r.status == 303
    with web.db.session() as s:
        tok = s.get(ChannelToken, "oa")
        assert tok is not None and tok.refresh_token == "rt-new-1234" and tok.blocked_reason is None
        entry = s.scalars(
            select(AuditEntry).where(AuditEntry.action == "notification.oa_refresh_token")
        ).one()
        assert entry.actor == "admin1" and "rt-new" not in str(entry.after)
