"""Alert, silence and rule-settings API over a real SQLite database: scope, permissions, validation, audit."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from hub.alerts.models import AlertAck, Silence
from hub.alerts.rules import AlertState, alert_id, alert_key
from hub.alerts.store import epoch, write_alert
from hub.core.audit import AuditEntry
from hub.core.facts import FactKind, Severity
from tests.fixtures_web import T0, WebEnv


def _ts() -> float:
    return epoch(T0)


def add_alert(env: WebEnv, district: str, commune: str, device: str, status: str = "firing") -> str:
    key = alert_key(FactKind.CAMERA_OFFLINE, district, commune, device)
    t = _ts()
    a = AlertState(
        id=alert_id(key),
        key=key,
        kind=FactKind.CAMERA_OFFLINE,
        district=district,
        commune=commune,
        device=device,
        status=status,  # type: ignore[arg-type]
        episode=1,
        since=t - 600,
        last_true=t,
        severity=Severity.WARNING,
        name="Cổng UBND",
        summary="Mất tín hiệu",
        fired_at=t - 590,
    )
    with env.db.session() as s, s.begin():
        write_alert(s, a, None, False)
    return a.id


async def as_user(env: WebEnv, name: str, role: str, district: str | None = None) -> str:
    env.add_user(name, role, district=district)
    assert (await env.login(name)).status == 303
    return await env.page_csrf("/alerts" if role in ("police", "technician", "admin") else "/")


async def post(env: WebEnv, path: str, body: dict[str, Any], csrf: str, method: str = "POST") -> Any:
    return await env.client.request(method, path, json=body, headers={"X-CSRF-Token": csrf})


async def test_list_is_scoped_and_needs_the_permission(web: WebEnv) -> None:
    env = web
    env.set_clock(lambda: T0)
    mine = add_alert(env, "soc-son", "phu-linh", "soc-son/phu-linh/cam-1")
    add_alert(env, "dong-anh", "xuan-non", "dong-anh/xuan-non/cam-9")
    await as_user(env, "congan", "police", district="soc-son")
    r = await env.client.get("/api/v1/alerts")
    assert r.status == 200
    body = await r.json()
    assert [a["id"] for a in body["items"]] == [mine]
    assert body["counts"]["firing"] == 1
    assert body["items"][0]["kind_label"] == "Camera mất kết nối"
    assert (await env.client.get("/api/v1/alerts?district=dong-anh")).status == 200
    assert (await (await env.client.get("/api/v1/alerts?district=dong-anh")).json())["items"] == []
    other = alert_id(alert_key("camera_offline", "dong-anh", "xuan-non", "dong-anh/xuan-non/cam-9"))
    assert (await env.client.get(f"/api/v1/alerts/{other}")).status == 404
    assert (await env.client.get("/api/v1/alerts?status=nonsense")).status == 400
    page = await env.client.get("/alerts")
    assert page.status == 200 and "Cảnh báo" in await page.text()


async def test_officer_cannot_see_alerts(web: WebEnv) -> None:
    await as_user(web, "vanhoa", "officer", district="soc-son")
    assert (await web.client.get("/api/v1/alerts")).status == 403
    assert (await web.client.get("/api/v1/silences")).status == 403


async def test_acknowledge_once_with_audit(web: WebEnv) -> None:
    env = web
    env.set_clock(lambda: T0)
    aid = add_alert(env, "soc-son", "phu-linh", "soc-son/phu-linh/cam-1")
    csrf = await as_user(env, "congan", "police", district="soc-son")
    r = await post(env, f"/api/v1/alerts/{aid}/ack", {"note": "Đã cử người kiểm tra"}, csrf)
    assert r.status == 200, await r.text()
    body = await r.json()
    assert body["ack"]["by"] == "congan" and body["ack"]["note"] == "Đã cử người kiểm tra"
    again = await post(env, f"/api/v1/alerts/{aid}/ack", {}, csrf)
    assert again.status == 409
    no_csrf = await env.client.post(f"/api/v1/alerts/{aid}/ack", json={})
    assert no_csrf.status == 403
    with env.db.session() as s:
        assert s.scalars(select(AlertAck)).one().episode == 1
        audit = s.scalars(select(AuditEntry).where(AuditEntry.action == "alert.ack")).one()
        assert audit.actor == "congan" and audit.target == f"alert:{aid}" and audit.district == "soc-son"


async def test_technician_may_view_but_not_ack_or_silence(web: WebEnv) -> None:
    env = web
    aid = add_alert(env, "soc-son", "phu-linh", "soc-son/phu-linh/cam-1")
    csrf = await as_user(env, "kythuat", "technician", district="soc-son")
    assert (await env.client.get("/api/v1/alerts")).status == 200
    assert (await post(env, f"/api/v1/alerts/{aid}/ack", {}, csrf)).status == 403
    body = {"duration_min": 60, "reason": "Bảo trì"}
    assert (await post(env, "/api/v1/silences", body, csrf)).status == 403


async def test_silences_validated_scoped_and_expired(web: WebEnv) -> None:
    env = web
    env.set_clock(lambda: T0)
    csrf = await as_user(env, "congan", "police", district="soc-son")
    bad = await post(env, "/api/v1/silences", {"duration_min": 60}, csrf)
    assert bad.status == 400 and (await bad.json())["error"]["field"] == "reason"  # the document requires it
    blank = await post(env, "/api/v1/silences", {"duration_min": 60, "reason": "   "}, csrf)
    assert blank.status == 422 and "lý do" in (await blank.json())["error"]["message"]
    other = await post(
        env, "/api/v1/silences", {"district": "dong-anh", "duration_min": 60, "reason": "abc"}, csrf
    )
    assert other.status == 403
    past = (T0 - timedelta(hours=1)).isoformat() + "Z"
    assert (await post(env, "/api/v1/silences", {"ends_at": past, "reason": "abc"}, csrf)).status == 422
    assert (
        await post(env, "/api/v1/silences", {"duration_min": 60, "reason": "abc", "kind": "x"}, csrf)
    ).status == 400
    r = await post(
        env,
        "/api/v1/silences",
        {"type": "maintenance", "commune": "phu-linh", "duration_min": 120, "reason": "Thay nguồn điện trạm"},
        csrf,
    )
    assert r.status == 201, await r.text()
    made = await r.json()
    assert made["district"] == "soc-son" and made["state"] == "active" and made["author"] == "congan"
    listed = await (await env.client.get("/api/v1/silences")).json()
    assert [x["id"] for x in listed["items"]] == [made["id"]]
    ended = await post(env, f"/api/v1/silences/{made['id']}/expire", {}, csrf)
    assert ended.status == 200 and (await ended.json())["state"] == "expired"
    assert (await post(env, f"/api/v1/silences/{made['id']}/expire", {}, csrf)).status == 409
    assert (await (await env.client.get("/api/v1/silences")).json())["items"] == []
    assert len((await (await env.client.get("/api/v1/silences?current=false")).json())["items"]) == 1
    with env.db.session() as s:
        assert s.scalars(select(Silence)).one().expired_by == "congan"
        actions = sorted(
            a.action for a in s.scalars(select(AuditEntry).where(AuditEntry.target.like("silence:%")))
        )
        assert actions == ["maintenance.create", "maintenance.expire"]
    page = await env.client.get("/alerts/silences")
    assert page.status == 200 and "bảo trì" in (await page.text()).lower()


async def test_rule_overrides_per_district(web: WebEnv) -> None:
    env = web
    env.set_clock(lambda: T0)
    csrf = await as_user(env, "quantri", "admin")
    path = "/api/v1/alert-rules/soc-son/camera_offline"
    assert (await post(env, path, {"group_wait_s": -1}, csrf, "PUT")).status == 400
    assert (await post(env, path, {"bogus": 1}, csrf, "PUT")).status == 400
    assert (await post(env, "/api/v1/alert-rules/soc-son/nope", {}, csrf, "PUT")).status == 404
    r = await post(env, path, {"group_wait_s": 30, "severity": "critical"}, csrf, "PUT")
    assert r.status == 200, await r.text()
    rule = next(x for x in (await r.json())["rules"] if x["kind"] == "camera_offline")
    assert rule["effective"]["group_wait_s"] == 30 and rule["effective"]["severity"] == "critical"
    assert rule["effective"]["clear_s"] == rule["configured"]["clear_s"] and rule["override"] == {
        "group_wait_s": 30,
        "severity": "critical",
    }
    got = await (await env.client.get("/api/v1/alert-rules?district=soc-son")).json()
    assert next(x for x in got["rules"] if x["kind"] == "camera_offline")["updated_by"] == "quantri"
    page = await env.client.get("/alerts/rules?district=soc-son")
    assert page.status == 200 and "Cài đặt luật" in await page.text()
    r = await post(env, path, {}, csrf, "DELETE")
    rule = next(x for x in (await r.json())["rules"] if x["kind"] == "camera_offline")
    assert rule["override"] is None and rule["effective"] == rule["configured"]
    with env.db.session() as s:
        assert [
            a.action
            for a in s.scalars(
                select(AuditEntry).where(AuditEntry.target.like("alert_rule:%")).order_by(AuditEntry.id)
            )
        ] == [
            "alert_rule.update",
            "alert_rule.reset",
        ]


async def test_police_cannot_edit_rules(web: WebEnv) -> None:
    csrf = await as_user(web, "congan", "police", district="soc-son")
    r = await post(web, "/api/v1/alert-rules/soc-son/camera_offline", {"for_s": 5}, csrf, "PUT")
    assert r.status == 403
    assert (await web.client.get("/alerts/rules")).status == 403
    assert (await web.client.get("/api/v1/alert-rules")).status == 200  # viewing is allowed


async def test_alert_list_pages_by_cursor(web: WebEnv) -> None:
    env = web
    env.set_clock(lambda: T0)
    ids = {add_alert(env, "soc-son", "phu-linh", f"soc-son/phu-linh/cam-{i}") for i in range(3)}
    add_alert(env, "soc-son", "phu-linh", "soc-son/phu-linh/cam-old", status="resolved")
    await as_user(env, "quantri", "admin")
    first = await (await env.client.get("/api/v1/alerts?limit=2")).json()
    assert len(first["items"]) == 2 and first["next_cursor"] and first["counts"]["firing"] == 3
    second = await (await env.client.get(f"/api/v1/alerts?limit=2&cursor={first['next_cursor']}")).json()
    seen = [a["id"] for a in first["items"] + second["items"]]
    assert set(seen[:3]) == ids and len(set(seen)) == 4  # active ones first, none twice
    assert second["items"][-1]["status"] == "resolved" and second["next_cursor"] is None
    assert (await env.client.get("/api/v1/alerts?cursor=abc")).status == 422  # not one this list gave
    assert (await env.client.get("/api/v1/alerts?cursor=a.b")).status == 400  # not shaped like a cursor
