"""Device registry: CSV parsing (pure), import with preview then apply (idempotent, audited), the JSON import
route, device edit and removal, areas and villages."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from sqlalchemy import select

from hub.core import devices_import as di
from hub.core.audit import AuditEntry
from hub.core.db import Agent, Camera
from hub.core.geo import Village
from hub.core.snapshots import SnapshotStore
from hub.core.speaker_models import Speaker
from tests.fixtures_web import WebEnv, admin_csrf

AREAS = {("soc-son", "phu-linh"), ("soc-son", "tien-duoc")}
CAMERAS_CSV = (
    "district,commune,id,name,agent\n"
    "soc-son,phu-linh,cho,Chợ Phù Linh,edge-pl\n"
    "soc-son,phu-linh,ubnd,Cổng UBND xã,edge-pl\n"
    "soc-son,tien-duoc,truong,Trường THCS Tiên Dược,\n"
)


def test_parse_accepts_bom_semicolons_and_vietnamese() -> None:
    text = di.decode_csv(("\ufeff" + CAMERAS_CSV.replace(",", ";")).encode("utf-8"))
    parsed = di.parse_devices("cameras", text, AREAS)
    assert parsed.errors == []
    assert [(r.line, r.key, r.name, r.agent) for r in parsed.rows] == [
        (2, "soc-son/phu-linh/cho", "Chợ Phù Linh", "edge-pl"),
        (3, "soc-son/phu-linh/ubnd", "Cổng UBND xã", "edge-pl"),
        (4, "soc-son/tien-duoc/truong", "Trường THCS Tiên Dược", None),
    ]


def test_parse_reports_every_bad_row_with_its_line() -> None:
    text = (
        "District, Commune ,id,name\n"
        "soc-son,phu-linh,cho,Chợ\n"
        "\n"
        "soc-son,phu-linh,Cho Lon,Chợ lớn\n"  # line 4: id with capitals and a space
        "soc-son,ha-noi,x1,Ở đâu\n"  # line 5: commune not in the registry
        "soc-son,phu-linh,cho,Trùng\n"  # line 6: duplicate of line 2
        "soc-son,phu-linh,y1\n"  # line 7: missing cell
        "soc-son,phu-linh,z1,\n"  # line 8: empty name
    )
    parsed = di.parse_devices("cameras", text, AREAS)
    assert [r.slug for r in parsed.rows] == ["cho"]
    by_line = {e.line: e.message for e in parsed.errors}
    assert sorted(by_line) == [4, 5, 6, 7, 8]
    assert "id 'Cho Lon' không hợp lệ" in by_line[4]
    assert "chưa có trong danh mục" in by_line[5]
    assert "trùng với dòng 2" in by_line[6]
    assert "có 3 ô, cần 4" in by_line[7]
    assert "name" in by_line[8]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"district,commune,id,name,url\n", "RTSP"),
        (b"district,commune,id\n", "thiếu cột name"),
        (b"district,commune,id,name,mau\n", "'mau'"),
        (b"district,commune,id,name\nsoc-son,phu-linh,a,Ch\xe9\n", "UTF-8 (dòng 2)"),
        (b"\n\n", "rỗng"),
        (b"district,commune,id,name\n", "không có thiết bị"),
    ],
)
def test_unusable_files_are_refused_whole(data: bytes, message: str) -> None:
    with pytest.raises(di.CsvFileError, match=re.escape(message)):
        di.parse_devices("cameras", di.decode_csv(data), AREAS)


def test_speaker_village_must_exist_in_that_commune() -> None:
    text = "district,commune,id,name,village\nsoc-son,phu-linh,loa1,Loa đầu làng,thon-dong\nsoc-son,tien-duoc,loa2,Loa chợ,thon-dong\n"
    parsed = di.parse_devices("speakers", text, AREAS, [("soc-son", "phu-linh", "thon-dong")])
    assert [r.slug for r in parsed.rows] == ["loa1"]
    assert parsed.errors[0].line == 3 and "thon-dong" in parsed.errors[0].message


async def _admin(web: WebEnv) -> str:
    return await admin_csrf(web, "/admin/import")


def _audit(web: WebEnv, prefix: str) -> list[AuditEntry]:
    with web.db.session() as s:
        return list(
            s.scalars(select(AuditEntry).where(AuditEntry.action.startswith(prefix)).order_by(AuditEntry.id))
        )


async def test_import_preview_apply_and_again_changes_nothing(web: WebEnv) -> None:
    csrf = await _admin(web)
    web.add_camera("soc-son", "phu-linh", "cho", name="Chợ cũ")
    with web.db.session() as s, s.begin():
        s.add(
            Agent(
                key="soc-son/phu-linh/edge-pl",
                district="soc-son",
                commune="phu-linh",
                slug="edge-pl",
                state="online",
            )
        )
    upload = {
        "csrf": csrf,
        "kind": "cameras",
        "file": ("cameras.csv", ("\ufeff" + CAMERAS_CSV).encode(), "text/csv"),
    }
    r = await web.client.post("/admin/import", data=_multipart(upload))
    html = await r.text()
    assert r.status == 200, html
    assert "2 thêm mới · 1 cập nhật · 0 không đổi" in html
    assert "Chợ cũ" in html and "Chợ Phù Linh" in html  # the update shows before → after
    with web.db.session() as s:  # a preview writes nothing
        assert s.get(Camera, "soc-son/phu-linh/ubnd") is None
    hidden = re.search(r'<textarea name="csv" hidden>(.*?)</textarea>', html, re.S)
    assert hidden
    text = hidden.group(1).replace("&amp;", "&")
    r = await web.client.post(
        "/admin/import/apply",
        data=_multipart({"csrf": csrf, "kind": "cameras", "csv": text}),
        allow_redirects=False,
    )
    assert r.status == 303 and "created=2&updated=1&unchanged=0" in r.headers["Location"]
    page = await (await web.client.get(r.headers["Location"])).text()
    assert "2 thêm mới, 1 cập nhật, 0 không đổi" in page
    with web.db.session() as s:
        cam = s.get(Camera, "soc-son/phu-linh/ubnd")
        assert cam is not None and cam.name == "Cổng UBND xã" and cam.agent_key == "soc-son/phu-linh/edge-pl"
        old = s.get(Camera, "soc-son/phu-linh/cho")
        assert old is not None and old.name == "Chợ Phù Linh"
    entries = _audit(web, "camera.import")
    assert len(entries) == 3 and {e.actor for e in entries} == {"quantri"}
    upd = next(e for e in entries if e.target == "camera:soc-son/phu-linh/cho")
    assert upd.before and upd.after and upd.before["name"] == "Chợ cũ" and upd.after["name"] == "Chợ Phù Linh"
    # the same file again: nothing changes, nothing audited
    r = await web.client.post(
        "/admin/import/apply",
        data=_multipart({"csrf": csrf, "kind": "cameras", "csv": text}),
        allow_redirects=False,
    )
    assert "created=0&updated=0&unchanged=3" in r.headers["Location"]
    assert len(_audit(web, "camera.import")) == 3


async def test_import_with_errors_shows_lines_and_applies_nothing(web: WebEnv) -> None:
    csrf = await _admin(web)
    bad = CAMERAS_CSV + "soc-son,khong-co,x,Không có xã\n"
    r = await web.client.post(
        "/admin/import",
        data=_multipart({"csrf": csrf, "kind": "cameras", "file": ("c.csv", bad.encode(), "text/csv")}),
    )
    html = await r.text()
    assert r.status == 400, html
    assert "<td>5</td>" in html, html
    assert "khong-co" in html and 'id="apply-form"' not in html
    r = await web.client.post(
        "/admin/import/apply", data=_multipart({"csrf": csrf, "kind": "cameras", "csv": bad})
    )
    assert r.status == 400
    with web.db.session() as s:
        assert s.scalars(select(Camera)).all() == []
    assert web.ctx.counters["admin_import_rows_rejected"] == 2


async def test_api_import_dry_run_then_apply(web: WebEnv) -> None:
    csrf = await _admin(web)
    with web.db.session() as s, s.begin():
        s.add(Village(district="soc-son", commune="phu-linh", slug="thon-dong", name="Thôn Đông"))
    body = "district,commune,id,name,village\nsoc-son,phu-linh,loa1,Loa đầu làng,thon-dong\n".encode()
    headers = {"X-CSRF-Token": csrf, "Content-Type": "text/csv"}
    r = await web.client.post("/api/v1/devices/import?kind=speakers", data=body, headers=headers)
    report = await r.json()
    assert r.status == 200 and report["applied"] is False and report["created"] == 1
    with web.db.session() as s:
        assert s.get(Speaker, "soc-son/phu-linh/loa1") is None
    r = await web.client.post(
        "/api/v1/devices/import?kind=speakers&dry_run=false", data=body, headers=headers
    )
    report = await r.json()
    assert r.status == 200 and report["applied"] is True and report["created"] == 1
    with web.db.session() as s:
        sp = s.get(Speaker, "soc-son/phu-linh/loa1")
        assert sp is not None and sp.village == "thon-dong" and sp.name == "Loa đầu làng"
    r = await web.client.post(
        "/api/v1/devices/import?kind=speakers&dry_run=false",
        data=b"district,commune,id,name\nsoc-son,x,y,z\n",
        headers=headers,
    )
    err = await r.json()
    assert r.status == 422 and "dòng 2" in err["error"]["message"]
    r = await web.client.post("/api/v1/devices/import?kind=nha", data=body, headers=headers)
    assert r.status == 400


async def test_device_edit_and_remove(web: WebEnv) -> None:
    csrf = await _admin(web)
    web.set_clock(lambda: datetime(2026, 11, 2, 9, 0))
    web.add_camera("soc-son", "phu-linh", "cho", name="Chợ", last_seen=datetime(2026, 11, 2, 8, 55))
    web.add_camera("soc-son", "phu-linh", "cu", name="Camera cũ", last_seen=datetime(2026, 10, 1))
    web.add_snapshot("soc-son/phu-linh/cu", b"\xff\xd8\xff\xd9")
    listing = await (await web.client.get("/admin/devices?kind=cameras&area=soc-son/phu-linh&q=cu")).text()
    assert "Camera cũ" in listing and ">cho<" not in listing
    base = "/admin/devices/cameras/soc-son/phu-linh/cu"
    r = await web.client.post(base, data={"csrf": csrf, "name": "Camera kho xã"}, allow_redirects=False)
    assert r.status == 303
    [upd] = _audit(web, "camera.update")
    assert (
        upd.before and upd.after and (upd.before["name"], upd.after["name"]) == ("Camera cũ", "Camera kho xã")
    )
    # a camera still reporting would come straight back: refused
    r = await web.client.post("/admin/devices/cameras/soc-son/phu-linh/cho/remove", data={"csrf": csrf})
    assert r.status == 409 and "vẫn đang gửi dữ liệu" in await r.text()
    store = SnapshotStore.for_config(web.ctx.config)
    assert store.stamps("soc-son/phu-linh/cu")
    r = await web.client.post(base + "/remove", data={"csrf": csrf}, allow_redirects=False)
    assert r.status == 303
    assert store.stamps("soc-son/phu-linh/cu") == []  # its snapshot files went with it
    with web.db.session() as s:
        assert (
            s.get(Camera, "soc-son/phu-linh/cu") is None and s.get(Camera, "soc-son/phu-linh/cho") is not None
        )
    [rm] = _audit(web, "camera.remove")
    assert rm.before and rm.before["name"] == "Camera kho xã" and rm.after is None
    assert (await web.client.get(base)).status == 404


async def test_areas_and_villages(web: WebEnv) -> None:
    csrf = await _admin(web)
    r = await web.client.post(
        "/admin/areas", data={"csrf": csrf, "district": "dong-anh", "commune": "uy-no", "name": "Xã Uy Nỗ"}
    )
    assert r.status == 400 and "tạo huyện trước" in await r.text()
    for form in (
        {"district": "dong-anh", "name": "Huyện Đông Anh"},
        {"district": "dong-anh", "commune": "uy-no", "name": "Xã Uy Nỗ"},
    ):
        r = await web.client.post("/admin/areas", data={"csrf": csrf, **form}, allow_redirects=False)
        assert r.status == 303
    # areas from the config file are read-only here
    r = await web.client.post(
        "/admin/areas", data={"csrf": csrf, "district": "soc-son", "commune": "phu-linh", "name": "Khác"}
    )
    assert r.status == 400 and "tệp cấu hình" in await r.text()
    r = await web.client.post(
        "/admin/villages",
        data={"csrf": csrf, "area": "dong-anh/uy-no", "slug": "thon-1", "name": "Thôn Nhất"},
        allow_redirects=False,
    )
    assert r.status == 303
    page = await (await web.client.get("/admin/areas")).text()
    assert "Xã Uy Nỗ" in page and "Thôn Nhất" in page
    # a commune still holding a village is not deleted; after the village goes, it is
    r = await web.client.post(
        "/admin/areas/delete", data={"csrf": csrf, "district": "dong-anh", "commune": "uy-no"}
    )
    assert r.status == 400 and "1 thôn/xóm" in await r.text()
    r = await web.client.post(
        "/admin/villages/delete",
        data={"csrf": csrf, "district": "dong-anh", "commune": "uy-no", "slug": "thon-1"},
        allow_redirects=False,
    )
    assert r.status == 303
    r = await web.client.post(
        "/admin/areas/delete",
        data={"csrf": csrf, "district": "dong-anh", "commune": "uy-no"},
        allow_redirects=False,
    )
    assert r.status == 303
    actions = [e.action for e in _audit(web, "area.") + _audit(web, "village.")]
    assert sorted(actions) == [
        "area.create",
        "area.create",
        "area.delete",
        "village.create",
        "village.delete",
    ]


def _multipart(fields: dict[str, object]) -> object:
    from aiohttp import FormData

    fd = FormData()
    for k, v in fields.items():
        if isinstance(v, tuple):
            name, data, ctype = v
            fd.add_field(k, data, filename=name, content_type=ctype)
        else:
            fd.add_field(k, str(v))
    return fd
