"""Proof of airing on the web over a real SQLite database: airing report (JSON and page), playout history with
CSV and PDF exports, speakers list and commands (scope, roles), the daily-digest summary."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

import pypdf
import pytest

from broadcast.airings.models import Airing, AiringReceipt
from broadcast.airings.reports import airing_summary
from hub.core.geo import Village
from hub.core.speaker_models import Speaker
from tests.fixtures_web import WebEnv

D, C, OTHER = "dinh-hoa", "dinh-long", "phuc-thinh"
T = datetime(2026, 11, 12, 10, 0, 0)  # naive UTC = 17:00 in Hà Nội


def seed(env: WebEnv) -> None:
    env.add_area(D, "", "Huyện Định Hoá")
    env.add_area(D, C, "Xã Định Long")
    with env.db.session() as s, s.begin():
        s.add(Village(district=D, commune=C, slug="thon-1", name="Thôn Đồng Tâm"))
        for sp, name, village, status in (
            ("loa-1", "Cụm loa chợ", "thon-1", "online"),
            ("loa-2", "Cụm loa trường học", "thon-1", "online"),
            ("loa-3", "Cụm loa đình", None, "offline"),
        ):
            s.add(Speaker(key=f"{D}/{C}/{sp}", district=D, commune=C, slug=sp, name=name, village=village,
                          status=status, volume=70, amplifier="on", signal_dbm=-70.0, disk_free_mb=800.0))  # fmt: skip
        s.add(Speaker(key=f"{D}/{OTHER}/loa-x", district=D, commune=OTHER, slug="loa-x", status="online"))
        for i, (status, played, skew) in enumerate((("partial", 2, 2.3), ("aired", 3, 0.9))):
            aid = f"tb-{i}"
            start = T + timedelta(days=i)
            s.add(Airing(id=aid, programme_id=1, occurrence_at=start, start_at=start, district=D, commune=C,
                         title="Thông báo tiêm phòng dại", priority="normal", status=status, targeted=3,
                         played=played, skew_ms=skew, created_at=start - timedelta(minutes=2),
                         finished_at=start + timedelta(minutes=1)))  # fmt: skip
            for j, sp in enumerate(("loa-1", "loa-2", "loa-3")):
                ok = j < played
                s.add(AiringReceipt(
                    airing_id=aid, speaker_key=f"{D}/{C}/{sp}", state="finished" if ok else "no_answer",
                    ready_at=start - timedelta(seconds=60) if ok else None,
                    started_at=start + timedelta(milliseconds=j) if ok else None,
                    started_offset_ms=[0.4, 2.7, 1.3][j] if ok else None, played_s=31.0 if ok else None,
                    finished_at=start + timedelta(seconds=31) if ok else None,
                    error=None if ok else "loa mất kết nối",
                ))  # fmt: skip
        s.add(Airing(id="tb-other", programme_id=2, occurrence_at=T, start_at=T, district=D, commune=OTHER,
                     title="Xã khác", priority="emergency", status="aired", targeted=1, played=1))  # fmt: skip
        # next month: not in November's history
        s.add(Airing(id="tb-dec", programme_id=1, occurrence_at=T + timedelta(days=30), start_at=T + timedelta(days=30),
                     district=D, commune=C, title="Tháng sau", priority="normal", status="scheduled"))  # fmt: skip


@pytest.fixture
async def env(web: WebEnv) -> WebEnv:
    seed(web)
    web.set_clock(lambda: T + timedelta(days=3))
    web.add_user("canbo", role="officer", district=D, commune=C)
    web.add_user("canbo-khac", role="officer", district=D, commune=OTHER)
    web.add_user("congan", role="police", district=D)
    web.add_user("kythuat", role="technician", district=D)
    web.add_user("duyet", role="approver", district=D, commune=C)
    return web


async def test_airing_report_json_and_page(env: WebEnv) -> None:
    await env.login("canbo")
    r = await env.client.get("/api/v1/airings/tb-0")
    assert r.status == 200
    body = await r.json()
    assert (body["status"], body["played"], body["targeted"], body["skew_ms"]) == ("partial", 2, 3, 2.3)
    by_id = {x["id"]: x for x in body["speakers"]}
    assert by_id["loa-3"]["played"] is False and by_id["loa-3"]["reason"] == "loa mất kết nối"
    assert by_id["loa-2"]["offset_ms"] == 2.7 and by_id["loa-1"]["village"] == "Thôn Đồng Tâm"
    assert [t["what"] for t in body["timeline"]][0] == "Tạo lượt phát"

    page = await (await env.client.get("/broadcasts/airings/tb-0")).text()
    assert "Phát một phần" in page and 'id="played">2<' in page and 'id="targeted">3<' in page
    assert "Cụm loa đình</b>: loa mất kết nối" in page
    assert "17:00:00 12/11/2026" in page  # local time
    assert (await env.client.get("/api/v1/airings/tb-other")).status == 404  # another commune
    assert (await env.client.get("/broadcasts/airings/khong-co")).status == 404


async def test_roles_and_scope(env: WebEnv) -> None:
    await env.login("congan")  # police: no broadcasts, no speakers
    assert (await env.client.get("/api/v1/airings/tb-0")).status == 403
    assert (await env.client.get("/api/v1/speakers")).status == 403
    env.client.session.cookie_jar.clear()  # a fresh browser per user
    await env.login("canbo-khac")
    assert (await env.client.get("/api/v1/airings/tb-0")).status == 404
    assert (await env.client.get(f"/api/v1/airings?district={D}&commune={C}")).status == 404
    mine = await (await env.client.get("/api/v1/speakers")).json()
    assert [s["id"] for s in mine["speakers"]] == ["loa-x"]
    # an officer may look at speakers but not command them
    csrf = await env.page_csrf("/speakers")
    r = await env.client.post(f"/api/v1/speakers/{D}/{OTHER}/loa-x/volume", json={"volume": 10},
                              headers={"X-CSRF-Token": csrf})  # fmt: skip
    assert r.status == 403


async def test_speaker_commands_checked_before_the_hub(env: WebEnv) -> None:
    await env.login("kythuat")
    csrf = await env.page_csrf("/speakers")
    h = {"X-CSRF-Token": csrf}
    listing = await (await env.client.get(f"/api/v1/speakers?commune={C}")).json()
    by_id = {s["id"]: s for s in listing["speakers"]}
    assert sorted(by_id) == ["loa-1", "loa-2", "loa-3"]
    assert by_id["loa-1"]["village_name"] == "Thôn Đồng Tâm" and by_id["loa-3"]["status"] == "offline"
    r = await env.client.post(f"/api/v1/speakers/{D}/{C}/loa-1/volume", json={"volume": 101}, headers=h)
    assert r.status == 400 and (await r.json())["error"]["field"] == "volume"  # 0–100 in the API document
    r = await env.client.post(
        f"/api/v1/speakers/{D}/{C}/loa-1/volume", json={"volume": 50, "x": 1}, headers=h
    )
    assert r.status == 400
    r = await env.client.post(f"/api/v1/speakers/{D}/{C}/khong-co/stop", json={}, headers=h)
    assert r.status == 404
    r = await env.client.post(f"/api/v1/speakers/{D}/{C}/loa-1/stop", json={}, headers=h)
    assert r.status == 503  # a web app over a bare database has no hub to send through
    page = await (await env.client.get("/speakers")).text()
    assert "Cụm loa trường học" in page and "Mất kết nối" in page and "Dừng phát" in page


async def test_history_csv_and_pdf(env: WebEnv) -> None:
    await env.login("canbo")
    body = await (await env.client.get("/api/v1/airings?month=2026-11")).json()
    assert [a["id"] for a in body["airings"]] == ["tb-0", "tb-1"]
    assert body["airings"][0]["not_played"] == [
        {"id": "loa-3", "name": "Cụm loa đình", "reason": "loa mất kết nối"}
    ]

    r = await env.client.get("/api/v1/airings.csv?month=2026-11")
    assert (
        r.status == 200 and "lich-su-phat-dinh-hoa-dinh-long-2026-11.csv" in r.headers["Content-Disposition"]
    )
    raw = await r.read()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0][:3] == ["Mã lượt phát", "Giờ phát (giờ Việt Nam)", "Chương trình"]
    assert rows[1][:2] == ["tb-0", "2026-11-12 17:00:00"]
    assert (
        rows[1][4:8] == ["Phát một phần", "2", "3", "2.3"] and rows[1][8] == "Cụm loa đình: loa mất kết nối"
    )
    assert len(rows) == 3
    with env.db.session() as s, s.begin():
        a = s.get(Airing, "tb-1")
        assert a is not None
        a.title = '=HYPERLINK("http://x")'  # a title typed as a spreadsheet formula stays text
    raw = await (await env.client.get("/api/v1/airings.csv?month=2026-11")).read()
    assert list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))[2][2] == '\'=HYPERLINK("http://x")'

    r = await env.client.get("/api/v1/airings.pdf?month=2026-11")
    assert r.status == 200 and r.content_type == "application/pdf"
    pdf = pypdf.PdfReader(io.BytesIO(await r.read()))
    assert len(pdf.pages) == 1
    text = pdf.pages[0].extract_text()
    assert "Lịch sử phát thanh tháng 11/2026" in text and "Xã Định Long" in text
    assert "Cụm loa trường học" in text and "loa mất kết nối" in text
    fonts = pdf.pages[0]["/Resources"]["/Font"]
    # only DejaVu Sans (no base-14 font without Vietnamese glyphs), embedded as TrueType subsets
    assert fonts and all("DejaVuSans" in str(f.get_object()["/BaseFont"]) for f in fonts.values())
    descs = [f.get_object()["/FontDescriptor"] for f in fonts.values()]
    assert all("/FontFile2" in d for d in descs)

    page = await (await env.client.get(f"/broadcasts/history?commune={C}&month=2026-11")).text()
    assert page.count('href="/broadcasts/airings/tb-') == 2 and "Tải PDF" in page


async def test_pdf_grows_pages_and_empty_month(env: WebEnv) -> None:
    with env.db.session() as s, s.begin():
        for i in range(30):
            start = T + timedelta(days=5, hours=i)
            s.add(Airing(id=f"n-{i}", programme_id=3, occurrence_at=start, start_at=start, district=D, commune=C,
                         title=f"Bản tin số {i}", priority="priority", status="failed", targeted=3, played=0))  # fmt: skip
            for sp in ("loa-1", "loa-2", "loa-3"):
                s.add(AiringReceipt(airing_id=f"n-{i}", speaker_key=f"{D}/{C}/{sp}", state="failed", error="không tải được âm thanh"))  # fmt: skip
    await env.login("duyet")
    r = await env.client.get("/api/v1/airings.pdf?month=2026-11")
    pdf = pypdf.PdfReader(io.BytesIO(await r.read()))
    assert len(pdf.pages) > 3
    assert "Trang 2" in pdf.pages[1].extract_text()
    empty = pypdf.PdfReader(
        io.BytesIO(await (await env.client.get("/api/v1/airings.pdf?month=2026-01")).read())
    )
    assert len(empty.pages) == 1 and "Không có lượt phát nào" in empty.pages[0].extract_text()
    assert (await env.client.get("/api/v1/airings.csv?month=2026-13")).status == 400


async def test_airing_summary_for_the_digest(env: WebEnv) -> None:
    with env.db.session() as s:
        items = airing_summary(s, T - timedelta(hours=1), T + timedelta(hours=1), D)
        assert [(x.airing_id, x.commune, x.status, x.played, x.targeted) for x in items] == [
            ("tb-0", C, "partial", 2, 3),
            ("tb-other", OTHER, "aired", 1, 1),
        ]
        assert airing_summary(s, T - timedelta(hours=1), T + timedelta(hours=1), "khac") == []
