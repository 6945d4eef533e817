"""Camera points through the API and the admin forms (validated, scoped, audited), and the device CSV export
that the import reads back unchanged, new columns included."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select

from hub.core.audit import AuditEntry
from hub.core.camera_points import CameraPoint
from hub.core.db import Camera
from hub.core.geo import Village
from hub.core.speaker_models import Speaker
from tests.fixtures_web import WebEnv, admin_csrf, sign_in

D, C = "soc-son", "phu-linh"
PT = f"/api/v1/points/{D}/{C}/cho"


def _actions(web: WebEnv) -> list[str]:
    with web.db.session() as s:
        return [e.action for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]


async def test_points_api_validates_scopes_and_audits(web: WebEnv) -> None:
    csrf = await admin_csrf(web, "/admin/points")
    h = {"X-CSRF-Token": csrf}
    with web.db.session() as s, s.begin():
        s.add(Village(district=D, commune=C, slug="thon-dong", name="Thôn Đông"))
    body = {"name": "Chợ Phù Linh", "lat": 21.27, "lon": 105.85, "village": "thon-dong"}
    r = await web.client.put(PT, json=body, headers=h)
    assert r.status == 200, await r.text()
    assert (await r.json())["village"] == "thon-dong"
    # the document refuses unknown keys and positions outside Vietnam (400, field named) …
    r = await web.client.put(PT, json={**body, "colour": "red"}, headers=h)
    assert r.status == 400 and "colour" in (await r.json())["error"]["message"]
    r = await web.client.put(PT, json={**body, "lat": 105.85, "lon": 21.27}, headers=h)
    assert r.status == 400 and (await r.json())["error"]["field"] in ("lat", "lon")
    # … the handler refuses what does not exist (422)
    r = await web.client.put(PT, json={**body, "village": "thon-tay"}, headers=h)
    assert r.status == 422 and (await r.json())["error"]["field"] == "village"
    r = await web.client.put(f"/api/v1/points/{D}/khong-co/cho", json=body, headers=h)
    assert r.status == 422
    # a camera joins it, with purpose, owner and maintainer
    web.add_camera(D, C, "cong-cho")
    details = {"point": "cho", "purpose": "security", "owner_kind": "household", "owner_name": "Hộ bà Hoa",
               "maintainer_name": "Anh Tuấn", "maintainer_phone": "+84 912 345 678"}  # fmt: skip
    r = await web.client.put(f"/api/v1/cameras/{D}/{C}/cong-cho/details", json=details, headers=h)
    got = await r.json()
    assert r.status == 200 and got["maintainer_phone"] == "0912345678" and got["purpose"] == "security"
    r = await web.client.put(
        f"/api/v1/cameras/{D}/{C}/cong-cho/details", json={**details, "point": "khong-co"}, headers=h
    )
    assert r.status == 422 and (await r.json())["error"]["field"] == "point"
    r = await web.client.put(
        f"/api/v1/cameras/{D}/{C}/cong-cho/details", json={**details, "maintainer_phone": "123"}, headers=h
    )
    assert r.status == 422 and (await r.json())["error"]["field"] == "maintainer_phone"
    # the camera's page says where it hangs and whom to call
    page = await (await web.client.get(f"/cameras/{D}/{C}/cong-cho")).text()
    assert "Chợ Phù Linh" in page and "An ninh trật tự" in page and "Hộ gia đình · Hộ bà Hoa" in page
    assert "Anh Tuấn · 0912345678" in page
    listing = await (await web.client.get("/api/v1/points")).json()
    assert [(p["key"], p["cameras"]) for p in listing["items"]] == [(f"{D}/{C}/cho", ["cong-cho"])]
    # a point that still holds cameras is not removed by the API
    r = await web.client.delete(PT, headers=h)
    assert r.status == 409
    assert _actions(web) == ["point.create", "camera.details"]
    # police of another commune see no point of this one; they may not write
    web.add_user("ca-td", "police", district=D, commune="tien-duoc")
    sign_in(web, "ca-td")
    assert (await (await web.client.get("/api/v1/points")).json())["items"] == []
    h2 = {"X-CSRF-Token": await web.page_csrf("/")}
    assert (await web.client.put(PT, json=body, headers=h2)).status == 403


async def test_speaker_location_api(web: WebEnv) -> None:
    csrf = await admin_csrf(web, "/admin/points")
    with web.db.session() as s, s.begin():
        s.add(Speaker(key=f"{D}/{C}/loa-1", district=D, commune=C, slug="loa-1", name="Loa 1"))
    url = f"/api/v1/speakers/{D}/{C}/loa-1/location"
    r = await web.client.put(url, json={"lat": 21.27, "lon": 105.85}, headers={"X-CSRF-Token": csrf})
    assert r.status == 200 and await r.json() == {"lat": 21.27, "lon": 105.85}
    r = await web.client.put(url, json={"lat": 21.27}, headers={"X-CSRF-Token": csrf})
    assert r.status == 422
    r = await web.client.put(
        f"/api/v1/speakers/{D}/{C}/loa-9/location", json={}, headers={"X-CSRF-Token": csrf}
    )
    assert r.status == 404


async def test_admin_point_forms_and_camera_details_form(web: WebEnv) -> None:
    csrf = await admin_csrf(web, "/admin/points")
    r = await web.client.post(
        "/admin/points",
        data={"csrf": csrf, "area": f"{D}/{C}", "id": "cho", "name": "Chợ", "lat": "105.85", "lon": "21.27"},
    )
    assert r.status == 400 and "lat:" in await r.text()  # swapped: outside Vietnam, the field named
    r = await web.client.post(  # a pair pasted into the latitude box, decimal commas: taken
        "/admin/points",
        data={
            "csrf": csrf,
            "area": f"{D}/{C}",
            "id": "cho",
            "name": "Chợ",
            "lat": "21,27; 105,85",
            "lon": "",
        },
        allow_redirects=False,
    )
    assert r.status == 303 and r.headers["Location"] == f"/admin/points/{D}/{C}/cho?msg=point_saved"
    with web.db.session() as s:
        pt = s.get(CameraPoint, f"{D}/{C}/cho")
        assert pt is not None and (pt.lat, pt.lon) == (21.27, 105.85)
    web.add_camera(D, C, "cong-cho")
    page = await (await web.client.get(f"/admin/devices/cameras/{D}/{C}/cong-cho")).text()
    assert 'id="details-form"' in page and '<option value="cho">Chợ</option>' in page
    form = {"csrf": csrf, "point": "cho", "purpose": "traffic", "owner_kind": "business",
            "owner_name": "Cửa hàng Minh", "maintainer_name": "", "maintainer_phone": "0912 345 678"}  # fmt: skip
    r = await web.client.post(
        f"/admin/devices/cameras/{D}/{C}/cong-cho/details", data=form, allow_redirects=False
    )
    assert r.status == 303
    r = await web.client.post(
        f"/admin/devices/cameras/{D}/{C}/cong-cho/details", data={**form, "purpose": "spying"}
    )
    assert r.status == 400 and "purpose" in await r.text()
    with web.db.session() as s:
        cam = s.get(Camera, f"{D}/{C}/cong-cho")
        assert cam is not None
        assert (cam.point, cam.purpose, cam.owner_kind, cam.maintainer_phone) == (
            "cho",
            "traffic",
            "business",
            "0912345678",
        )
    page = await (await web.client.get(f"/admin/points/{D}/{C}/cho")).text()
    assert "cong-cho" in page
    r = await web.client.post(f"/admin/points/{D}/{C}/cho/remove", data={"csrf": csrf}, allow_redirects=False)
    assert r.status == 303
    with web.db.session() as s:
        assert s.get(CameraPoint, f"{D}/{C}/cho") is None
        cam = s.get(Camera, f"{D}/{C}/cong-cho")
        assert cam is not None and cam.point is None and cam.purpose == "traffic"


def _rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


async def test_csv_export_then_import_round_trip(web: WebEnv) -> None:
    csrf = await admin_csrf(web, "/admin/import")
    h = {"X-CSRF-Token": csrf, "Content-Type": "text/csv"}
    points = (
        "district,commune,id,name,lat,lon,address,village\n"
        f'{D},{C},cho,Chợ Phù Linh,21.2701,105.8512,"Ngã ba chợ, thôn Đông",\n'
        f"{D},tien-duoc,truong,Trường Tiên Dược,21.25,105.83,,\n"
    )
    cameras = (
        "district,commune,id,name,agent,point,purpose,owner_kind,owner_name,maintainer_name,maintainer_phone\n"
        f"{D},{C},cong-cho,Cổng chợ,,cho,security,household,=Hộ bà Hoa,Anh Tuấn,0912345678\n"
        f"{D},tien-duoc,cong-truong,Cổng trường,,truong,traffic,commune,,,\n"
        f"{D},{C},ubnd,UBND xã,,,other,other,,,\n"
    )
    speakers = f"district,commune,id,name,village,lat,lon\n{D},{C},loa-1,Loa chợ,,21.271,105.852\n"
    for kind, text in (("points", points), ("cameras", cameras), ("speakers", speakers)):
        r = await web.client.post(
            f"/api/v1/devices/import?kind={kind}&dry_run=false", data=text.encode(), headers=h
        )
        assert r.status == 200, await r.text()
    # cameras naming a point nobody imported: every bad row with its line, nothing applied
    bad = cameras.replace(",truong,", ",khong-co,").replace(",other,other,", ",other,nha-nuoc,")
    r = await web.client.post("/api/v1/devices/import?kind=cameras", data=bad.encode(), headers=h)
    report = await r.json()
    assert [
        (e["line"], "khong-co" in e["message"] or "owner_kind" in e["message"]) for e in report["errors"]
    ] == [
        (3, True),
        (4, True),
    ]
    exported = {}
    for kind in ("points", "cameras", "speakers"):
        r = await web.client.get(f"/api/v1/devices/export?kind={kind}")
        assert r.status == 200 and r.content_type == "text/csv"
        exported[kind] = await r.read()
    cams = {row["id"]: row for row in _rows(exported["cameras"])}
    assert cams["cong-cho"]["owner_name"] == "'=Hộ bà Hoa"  # a spreadsheet shows it as text, not a formula
    assert cams["cong-cho"]["point"] == "cho" and cams["cong-truong"]["purpose"] == "traffic"
    assert _rows(exported["points"])[0]["address"] == "Ngã ba chợ, thôn Đông"
    assert _rows(exported["speakers"])[0]["lat"] == "21.271"
    # importing the exports changes nothing
    for kind in ("points", "cameras", "speakers"):
        r = await web.client.post(f"/api/v1/devices/import?kind={kind}", data=exported[kind], headers=h)
        report = await r.json()
        assert r.status == 200 and report["errors"] == [] and report["created"] == report["updated"] == 0, (
            report
        )
    with web.db.session() as s:
        cam = s.get(Camera, f"{D}/{C}/cong-cho")
        assert cam is not None and cam.owner_name == "=Hộ bà Hoa"
    # an older file without the new columns keeps them
    r = await web.client.post(
        "/api/v1/devices/import?kind=cameras&dry_run=false",
        data=f"district,commune,id,name\n{D},{C},cong-cho,Cổng chợ mới\n".encode(),
        headers=h,
    )
    assert r.status == 200
    with web.db.session() as s:
        cam = s.get(Camera, f"{D}/{C}/cong-cho")
        assert cam is not None and (cam.name, cam.point, cam.purpose) == ("Cổng chợ mới", "cho", "security")
