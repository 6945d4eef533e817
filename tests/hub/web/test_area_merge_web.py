"""Merging communes through the web (issue 16): the API and the admin form, audited; the old name shown as
"trước đây: …"; a report of the new commune over the period spanning the merge counts both; refusals. And a
user scoped to a grouping of the area tree from the admin form."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from hub.core import auth
from hub.core.audit import AuditEntry
from hub.core.db import Camera
from tests.fixtures_web import T0, WebEnv, admin_csrf, sign_in

D = "soc-son"


def _seed(web: WebEnv) -> None:
    web.add_area(D, "", "Huyện Sóc Sơn")
    web.add_area(D, "phu-linh", "Xã Phù Linh")
    web.add_area(D, "hien-ninh", "Xã Hiền Ninh")
    web.add_camera(D, "phu-linh", "cho", name="Chợ Phù Linh")
    web.add_camera(D, "hien-ninh", "cho", name="Chợ Hiền Ninh")
    web.add_transitions(f"{D}/phu-linh/cho", 2)
    web.add_transitions(f"{D}/hien-ninh/cho", 2)


async def _uptime(web: WebEnv, token: str, commune: str) -> dict[str, object]:
    r = await web.client.get(
        "/api/v1/reports/uptime",
        params={"period": "custom", "from": "2026-11-01T00:00:00Z", "to": "2026-11-02T00:00:00Z", "district": D,
                "commune": commune},
        headers={"Authorization": f"Bearer {token}"},
    )  # fmt: skip
    assert r.status == 200, await r.text()
    return await r.json()  # type: ignore[no-any-return]


async def test_merge_by_the_api_audited_and_reported(web: WebEnv) -> None:
    _seed(web)
    web.set_clock(lambda: datetime(2026, 11, 3, 8, 0))
    web.add_user("quantri", "admin")
    web.add_user("lanhdao", "leader", D)
    with web.db.session() as s, s.begin():
        token = auth.create_token(s, "quantri", "t", T0)[1]
        leader = auth.create_token(s, "lanhdao", "t", T0)[1]
    before = [await _uptime(web, token, c) for c in ("phu-linh", "hien-ninh")]
    body = {"from": f"{D}/phu-linh", "into": f"{D}/hien-ninh"}
    r = await web.client.post("/api/v1/areas/merge", json=body, headers={"Authorization": f"Bearer {leader}"})
    assert r.status == 403  # the leader reads, changes nothing
    r = await web.client.post("/api/v1/areas/merge", json=body, headers={"Authorization": f"Bearer {token}"})
    assert r.status == 200, await r.text()
    out = await r.json()
    assert out["renamed_cameras"] == {f"{D}/phu-linh/cho": "phu-linh-cho"} and out["moved"]["cameras"] == 1
    after = await _uptime(web, token, "hien-ninh")
    totals = [x["total"] for x in before]  # type: ignore[index]
    merged = after["total"]  # type: ignore[index]
    assert merged["cameras"] == 2 == sum(t["cameras"] for t in totals)
    assert merged["outages"] == sum(t["outages"] for t in totals)
    for k in ("ok", "problem", "offline", "no_data"):
        assert merged["seconds"][k] == sum(t["seconds"][k] for t in totals)
    assert sum(merged["seconds"].values()) == 2 * 86400  # two cameras, one day: nothing lost, nothing twice
    with web.db.session() as s:
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "area.merge"))
        assert entry is not None and entry.actor == "quantri" and entry.target == f"area:{D}/phu-linh"
        assert s.get(Camera, f"{D}/phu-linh/cho").commune == "hien-ninh"  # type: ignore[union-attr]
    # Merging again: the old commune is gone now.
    r = await web.client.post("/api/v1/areas/merge", json=body, headers={"Authorization": f"Bearer {token}"})
    assert r.status == 409 and "Không có xã" in await r.text()
    r = await web.client.post(
        "/api/v1/areas/merge", json={**body, "extra": 1}, headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status == 400


async def test_merge_on_the_admin_page_shows_the_former_name(web: WebEnv) -> None:
    _seed(web)
    csrf = await admin_csrf(web, "/admin/areas")
    page = await (await web.client.get("/admin/areas")).text()
    assert 'id="merge-form"' in page
    r = await web.client.post(
        "/admin/areas/merge", data={"csrf": csrf, "from": f"{D}/phu-linh", "into": f"{D}/phu-linh"},
        allow_redirects=False,
    )  # fmt: skip
    assert r.status == 409 and "chính nó" in await r.text()
    r = await web.client.post(
        "/admin/areas/merge", data={"csrf": csrf, "from": f"{D}/phu-linh", "into": f"{D}/hien-ninh"},
        allow_redirects=False,
    )  # fmt: skip
    assert r.status == 303 and r.headers["Location"] == "/admin/areas?msg=area_merged"
    page = await (await web.client.get("/admin/areas?msg=area_merged")).text()
    assert "Đã gộp xã" in page and "trước đây: Xã Phù Linh" in page
    web.add_user("lanhdao", "leader", D)
    sign_in(web, "lanhdao")
    assert (await web.client.get("/admin/areas", allow_redirects=False)).status == 403


async def test_the_former_name_is_searchable_and_shown(web: WebEnv) -> None:
    _seed(web)
    web.add_user("quantri", "admin")
    with web.db.session() as s, s.begin():
        token = auth.create_token(s, "quantri", "t", T0)[1]
    hdr = {"Authorization": f"Bearer {token}"}
    body = {"from": f"{D}/phu-linh", "into": f"{D}/hien-ninh"}
    assert (await web.client.post("/api/v1/areas/merge", json=body, headers=hdr)).status == 200
    r = await web.client.get("/api/v1/cameras", params={"q": "phu linh"}, headers=hdr)
    assert {c["key"] for c in (await r.json())["items"]} == {f"{D}/phu-linh/cho", f"{D}/hien-ninh/cho"}
    areas = (await (await web.client.get("/api/v1/areas", headers=hdr)).json())["items"]
    assert {a["commune"]: a["name"] for a in areas if a["commune"]} == {
        "hien-ninh": "Xã Hiền Ninh (trước đây: Xã Phù Linh)"
    }


async def test_a_user_scoped_to_a_grouping_of_the_tree(web: WebEnv) -> None:
    """The admin user form offers the tree's groupings; the user then sees exactly the communes under it."""
    from hub.core.area_tree import COMMUNE, GROUP, PROVINCE, AreaNode

    _seed(web)
    web.add_area(D, "tien-duoc", "Xã Tiên Dược")
    web.add_camera(D, "tien-duoc", "truong", name="Trường Tiên Dược")
    with web.db.session() as s, s.begin():
        root = AreaNode(level=PROVINCE, slug="ha-noi", name="Thành phố Hà Nội")
        s.add(root)
        s.flush()
        cum = AreaNode(parent_id=root.id, level=GROUP, slug="cum-1", name="Cụm công an số 1", district=D)
        s.add(cum)
        s.flush()
        for c, n in (("phu-linh", "Xã Phù Linh"), ("hien-ninh", "Xã Hiền Ninh")):
            s.add(AreaNode(parent_id=cum.id, level=COMMUNE, slug=c, name=n, district=D, commune=c))
        s.add(AreaNode(parent_id=root.id, level=COMMUNE, slug="tien-duoc", name="Xã Tiên Dược", district=D,
                       commune="tien-duoc"))  # fmt: skip
        cum_id = cum.id
    csrf = await admin_csrf(web, "/admin/users")
    page = await (await web.client.get("/admin/users")).text()
    assert f'value="node:{cum_id}"' in page and "Cụm: Thành phố Hà Nội › Cụm công an số 1" in page
    form = {"csrf": csrf, "username": "cum1", "role": "police", "scope": f"node:{cum_id}",
            "password": "mat-khau-ban-dau-1"}  # fmt: skip
    r = await web.client.post("/admin/users", data=form, allow_redirects=False)
    assert r.status == 303, await r.text()
    with web.db.session() as s:
        u = auth.get_user(s, "cum1")
        assert u is not None and (u.area_id, u.district, u.commune) == (cum_id, D, None)
        token = auth.create_token(s, "cum1", "t", T0)[1]
        s.commit()
    r = await web.client.get("/api/v1/cameras", headers={"Authorization": f"Bearer {token}"})
    keys = {c["key"] for c in (await r.json())["items"]}
    assert keys == {f"{D}/phu-linh/cho", f"{D}/hien-ninh/cho"}  # not Tiên Dược, in the same district
    page = await (await web.client.get("/admin/users/cum1")).text()
    assert f'<option value="node:{cum_id}" selected' in page


async def test_a_cluster_across_districts_sees_its_communes_and_no_more(web: WebEnv) -> None:
    """A police cluster whose communes lie in two former districts: no district field, yet not the province."""
    from hub.core.area_tree import COMMUNE, GROUP, PROVINCE, AreaNode, assign_scope

    _seed(web)
    web.add_area("dong-anh", "", "Huyện Đông Anh")
    web.add_area("dong-anh", "xuan-non", "Xã Xuân Nộn")
    web.add_camera("dong-anh", "xuan-non", "cong", name="Cổng Xuân Nộn")
    web.add_user("cum2", "police")
    with web.db.session() as s, s.begin():
        root = AreaNode(level=PROVINCE, slug="ha-noi", name="Thành phố Hà Nội")
        s.add(root)
        s.flush()
        cum = AreaNode(parent_id=root.id, level=GROUP, slug="cum-2", name="Cụm công an số 2")
        s.add(cum)
        s.flush()
        for d, c in ((D, "phu-linh"), ("dong-anh", "xuan-non")):
            s.add(AreaNode(parent_id=cum.id, level=COMMUNE, slug=c, name=c, district=d, commune=c))
        s.flush()
        u = auth.get_user(s, "cum2")
        assert u is not None
        assert assign_scope(s, u.id, cum.id) == (None, None)
        token = auth.create_token(s, "cum2", "t", T0)[1]
    hdr = {"Authorization": f"Bearer {token}"}
    cams = (await (await web.client.get("/api/v1/cameras", headers=hdr)).json())["items"]
    assert {c["key"] for c in cams} == {f"{D}/phu-linh/cho", "dong-anh/xuan-non/cong"}
    areas = (await (await web.client.get("/api/v1/areas", headers=hdr)).json())["items"]
    assert {(a["district"], a["commune"]) for a in areas} == {
        (D, None),
        (D, "phu-linh"),
        ("dong-anh", None),
        ("dong-anh", "xuan-non"),
    }
    assert (await web.client.get(f"/api/v1/cameras/{D}/hien-ninh/cho", headers=hdr)).status == 404
    # no silence for the whole province, nor for a commune outside the cluster
    r = await web.client.post("/api/v1/silences", json={"duration_min": 30, "reason": "bảo trì"}, headers=hdr)
    assert r.status == 422, await r.text()
    r = await web.client.post(
        "/api/v1/silences",
        json={"district": D, "commune": "hien-ninh", "duration_min": 30, "reason": "bảo trì"},
        headers=hdr,
    )
    assert r.status == 403
    r = await web.client.get(
        "/api/v1/reports/uptime", params={"district": D, "commune": "hien-ninh"}, headers=hdr
    )
    assert r.status == 404
    r = await web.client.get("/api/v1/reports/uptime", params={"district": "dong-anh"}, headers=hdr)
    assert r.status == 200 and (await r.json())["total"]["cameras"] == 1
