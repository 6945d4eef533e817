"""The reports page and API (role and scope checked, downloads, make again, send again) and the public status
page of a commune (off unless switched on by an admin, no login, counts only, ETag and 304)."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select

from hub.core.db import Transition
from hub.core.speaker_models import Speaker
from hub.scheduled_reports.config import Recipients
from hub.scheduled_reports.models import ReportDelivery, ReportRun
from hub.scheduled_reports.service import REPORTS, ReportService
from tests.fixtures_web import WebEnv, admin_csrf, sign_in
from tests.hub.scheduled_reports.report_times import at

NOW = at("2026-12-07T08:00")


def seed(web: WebEnv) -> ReportService:
    """Two communes of Sóc Sơn with a camera each; the reports of the week and month before 7/12/2026."""
    web.add_area("soc-son", "tien-duoc", "Xã Tiên Dược")
    for commune, status in (("phu-linh", "ok"), ("tien-duoc", "offline")):
        key = web.add_camera("soc-son", commune, "cam1", status=status, name="Cổng chợ")
        with web.db.session() as s, s.begin():
            s.add(
                Transition(
                    subject_kind="camera", subject_key=key, district="soc-son", commune=commune,
                    at=datetime(2026, 11, 1), to_status=status, problems=[],
                )
            )  # fmt: skip
    svc = ReportService(web.ctx.config, web.db, [], lambda: None, clock=lambda: NOW)
    web.ctx.services.provide(REPORTS, svc)
    return svc


async def made(web: WebEnv) -> dict[tuple[str, str], int]:
    svc = web.ctx.services.get(REPORTS)
    await svc.make_due()
    with web.db.session() as s:
        return {(r.kind, r.commune): r.id for r in s.scalars(select(ReportRun))}


async def test_leaders_see_every_report_and_a_commune_only_its_own(web: WebEnv) -> None:
    seed(web)
    ids = await made(web)
    web.add_user("tinh", "police")  # province-wide
    web.add_user("phulinh", "police", "soc-son", "phu-linh")
    sign_in(web, "tinh")
    items = (await (await web.client.get("/api/v1/scheduled-reports")).json())["items"]
    assert {(x["kind"], x["commune"]) for x in items} == set(ids)
    web.client.session.cookie_jar.clear()
    sign_in(web, "phulinh")
    items = (await (await web.client.get("/api/v1/scheduled-reports")).json())["items"]
    assert {(x["kind"], x["commune"]) for x in items} == {("weekly", "phu-linh"), ("monthly", "phu-linh")}
    own = await web.client.get(f"/api/v1/scheduled-reports/{ids[('weekly', 'phu-linh')]}/pdf")
    assert own.status == 200 and own.content_type == "application/pdf"
    assert (await own.read()).startswith(b"%PDF-")
    assert "bao-cao-weekly-soc-son-phu-linh-20261129.pdf" in own.headers["Content-Disposition"]
    for other in (ids[("weekly", "tien-duoc")], ids[("weekly", "")]):  # another commune, the whole province
        assert (await web.client.get(f"/api/v1/scheduled-reports/{other}/pdf")).status == 404
        assert (await web.client.get(f"/reports/scheduled/{other}.csv")).status == 404
    page = await (await web.client.get("/reports/scheduled")).text()
    assert f"/reports/scheduled/{ids[('weekly', 'phu-linh')]}.pdf" in page
    assert f"/reports/scheduled/{ids[('weekly', 'tien-duoc')]}.pdf" not in page
    assert "Tuần 30/11–06/12/2026" in page


async def test_roles_without_reports_are_refused(web: WebEnv) -> None:
    seed(web)
    ids = await made(web)
    web.add_user("vanhoa", "officer", "soc-son", "phu-linh")
    sign_in(web, "vanhoa")
    rid = ids[("weekly", "phu-linh")]
    for path in ("/api/v1/scheduled-reports", f"/api/v1/scheduled-reports/{rid}/csv", "/reports/scheduled"):
        assert (await web.client.get(path)).status == 403, path
    csrf = await web.page_csrf("/account")
    r = await web.client.post(f"/api/v1/scheduled-reports/{rid}/regenerate", headers={"X-CSRF-Token": csrf})
    assert r.status == 403
    web.client.session.cookie_jar.clear()
    assert (await web.client.get("/api/v1/scheduled-reports")).status == 401


async def test_make_again_and_send_again_from_the_page(web: WebEnv) -> None:
    svc = seed(web)
    svc.cfg.recipients.append(Recipients(area="soc-son/phu-linh", zalo_groups=["g-leaders"]))
    ids = await made(web)
    web.add_user("tinh", "police")
    sign_in(web, "tinh")
    rid = ids[("weekly", "phu-linh")]
    svc.path(rid, "pdf").unlink()
    csrf = await web.page_csrf("/reports/scheduled")
    assert (await web.client.get(f"/reports/scheduled/{rid}.pdf")).status == 404
    r = await web.client.post(
        f"/reports/scheduled/{rid}/regenerate", data={"csrf": csrf}, allow_redirects=False
    )
    assert r.status == 303
    assert (await web.client.get(f"/reports/scheduled/{rid}.pdf")).status == 200
    with web.db.session() as s:
        d = s.scalars(select(ReportDelivery).where(ReportDelivery.report_id == rid)).one()
        assert d.state == "skipped"
    page = await (await web.client.get("/reports/scheduled")).text()
    assert "Kênh chưa cấu hình" in page and "kênh gửi chưa được cấu hình" in page
    r = await web.client.post(
        f"/reports/scheduled/deliveries/{d.id}/retry", data={"csrf": csrf}, allow_redirects=False
    )
    assert r.status == 303
    with web.db.session() as s:
        assert s.get(ReportDelivery, d.id).state == "pending"  # type: ignore[union-attr]


async def test_the_public_page_is_off_until_an_admin_switches_it_on(web: WebEnv) -> None:
    seed(web)
    with web.db.session() as s, s.begin():
        s.add(
            Speaker(
                key="soc-son/phu-linh/loa1",
                district="soc-son",
                commune="phu-linh",
                slug="loa1",
                status="online",
            )
        )
        s.add(
            Speaker(
                key="soc-son/phu-linh/loa2",
                district="soc-son",
                commune="phu-linh",
                slug="loa2",
                status="offline",
            )
        )
    web.add_camera("soc-son", "phu-linh", "cam2", status="offline")
    assert (await web.client.get("/cong-khai/soc-son/phu-linh")).status == 404
    csrf = await admin_csrf(web, "/admin/public-status")
    admin_page = await (await web.client.get("/admin/public-status")).text()
    assert "Xã Phù Linh" in admin_page
    r = await web.client.post(
        "/admin/public-status",
        data={"csrf": csrf, "district": "soc-son", "commune": "phu-linh", "enabled": "1"},
        allow_redirects=False,
    )
    assert r.status == 303
    web.client.session.cookie_jar.clear()  # a visitor with no account
    r = await web.client.get("/cong-khai/soc-son/phu-linh")
    assert r.status == 200
    html = await r.text()
    assert "Xã Phù Linh" in html
    assert re.search(r'id="cameras-now"><b>1/2</b><span>camera đang hoạt động', html)
    assert re.search(r'id="speakers-now"><b>1/2</b><span>cụm loa đang hoạt động', html)
    assert "<img" not in html and "<a " not in html and "Cổng chợ" not in html  # counts only, no links out
    etag = r.headers["ETag"]
    again = await web.client.get("/cong-khai/soc-son/phu-linh", headers={"If-None-Match": etag})
    assert again.status == 304
    assert (await web.client.get("/cong-khai/soc-son/tien-duoc")).status == 404  # not switched on
    sign_in(web, "quantri")
    csrf = await web.page_csrf("/admin/public-status")
    r = await web.client.post(
        "/admin/public-status",
        data={"csrf": csrf, "district": "soc-son", "commune": "phu-linh", "enabled": "0"},
        allow_redirects=False,
    )
    assert r.status == 303
    web.client.session.cookie_jar.clear()
    assert (await web.client.get("/cong-khai/soc-son/phu-linh")).status == 404


async def test_only_admins_switch_public_pages(web: WebEnv) -> None:
    web.add_user("phulinh", "police", "soc-son", "phu-linh")
    sign_in(web, "phulinh")
    assert (await web.client.get("/admin/public-status")).status == 403


async def test_guessing_commune_names_cannot_grow_the_public_cache(web: WebEnv) -> None:
    from hub.scheduled_reports.web import public_page

    public_page.MAX_CACHED, before = 5, public_page.MAX_CACHED
    try:
        for i in range(12):
            assert (await web.client.get(f"/cong-khai/soc-son/doan-{i}")).status == 404
        assert len(web.client.server.app[public_page.CACHE_KEY]) <= 5  # type: ignore[union-attr]
    finally:
        public_page.MAX_CACHED = before
