"""Report API, CSV and page over the real web app and SQLite: numbers, local times, scope, bad parameters."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from hub.core import auth
from hub.core.db import Transition
from tests.fixtures_web import T0, WebEnv
from tests.hub.core.test_reports import AFTER, sample_log

AREAS = {"d1": "soc-son", "c1": "phu-linh", "c2": "tien-duoc", "d2": "dong-anh", "c3": "uy-no"}
DAY_Q = "period=day&date=2026-11-05"


def _seed(web: WebEnv) -> None:
    cams, log = sample_log(**AREAS)
    for c in cams:
        web.add_camera(c.district, c.commune, c.key.rsplit("/", 1)[1], name=c.name)
    with web.db.session() as s, s.begin():
        prev: dict[str, str] = {}
        for ch in log:
            s.add(
                Transition(
                    subject_kind="camera",
                    subject_key=ch.camera,
                    district=ch.district,
                    commune=ch.commune,
                    at=ch.at,
                    from_status=prev.get(ch.camera),
                    to_status=ch.status,
                    problems=list(ch.problems),
                    reason=ch.reason,
                )
            )
            prev[ch.camera] = ch.status
        # an edge agent's transition is not a camera's
        s.add(
            Transition(
                subject_kind="edge", subject_key="soc-son/phu-linh/a", district="soc-son", commune="phu-linh",
                at=AFTER.replace(day=5, hour=1), from_status="online", to_status="offline", problems=[],
            )
        )  # fmt: skip
    web.add_area("dong-anh", "uy-no", "Xã Uy Nỗ")
    web.set_clock(lambda: AFTER)


async def _token(
    web: WebEnv, username: str, role: str = "admin", district: str | None = None
) -> dict[str, str]:
    web.add_user(username, role, district=district)
    with web.db.session() as s, s.begin():
        _row, token = auth.create_token(s, username, "test", T0)
    return {"Authorization": f"Bearer {token}"}


async def _json(web: WebEnv, path: str, h: dict[str, str]) -> tuple[int, Any]:
    r = await web.client.get(path, headers=h)
    return r.status, await r.json()


async def test_uptime_json_matches_the_hand_computed_log(web: WebEnv) -> None:
    _seed(web)
    h = await _token(web, "admin1")
    status, body = await _json(web, f"/api/v1/reports/uptime?{DAY_Q}&worst=2", h)
    assert status == 200, body
    assert body["period"] == {
        "kind": "day", "start": "2026-11-04T17:00:00Z", "end": "2026-11-05T17:00:00Z",
        "label": "05/11/2026", "timezone": "Asia/Ho_Chi_Minh",
    }  # fmt: skip
    cams = {c["key"]: c for c in body["cameras"]}
    assert cams["soc-son/phu-linh/a"]["availability_pct"] == pytest.approx(91.667, abs=1e-3)
    assert cams["soc-son/phu-linh/a"]["healthy_pct"] == 87.5
    assert cams["soc-son/phu-linh/b"]["seconds"] == {
        "ok": 64800,
        "problem": 0,
        "offline": 14400,
        "no_data": 7200,
        "maintenance": 0,  # no maintenance window in this log
    }
    assert cams["soc-son/tien-duoc/c"]["availability_pct"] == 50
    assert cams["dong-anh/uy-no/f"]["availability_pct"] is None
    communes = {(a["district"], a["commune"]): a for a in body["communes"]}
    pl = communes[("soc-son", "phu-linh")]
    assert pl["name"] == "Xã Phù Linh" and pl["cameras"] == 2 and pl["outages"] == 3
    assert pl["availability_pct"] == pytest.approx(40 / 46 * 100, abs=1e-3)
    assert communes[("dong-anh", "uy-no")]["availability_pct"] == 100
    districts = {a["district"]: a for a in body["districts"]}
    assert districts["soc-son"]["name"] == "Huyện Sóc Sơn" and districts["soc-son"]["commune"] is None
    assert districts["soc-son"]["availability_pct"] == pytest.approx(43 / 52 * 100, abs=1e-3)
    assert [w["id"] for w in body["worst"]] == ["c", "b"]
    assert body["total"]["cameras"] == 5

    # a week is read a day at a time; the outage across local midnight is whole again
    _, week = await _json(web, "/api/v1/reports/uptime?period=week&date=2026-11-05", h)
    assert (
        week["period"]["start"] == "2026-11-01T17:00:00Z" and week["period"]["end"] == "2026-11-06T03:00:00Z"
    )
    b = {c["key"]: c for c in week["cameras"]}["soc-son/phu-linh/b"]
    assert b["seconds"]["offline"] == 5 * 3600 and b["outages"] == 2

    status, body = await _json(web, f"/api/v1/reports/uptime?{DAY_Q}&commune=tien-duoc", h)
    assert [c["id"] for c in body["cameras"]] == ["c"] and body["total"]["availability_pct"] == 50


async def test_outages_json_and_both_csvs(web: WebEnv) -> None:
    _seed(web)
    h = await _token(web, "admin1")
    status, body = await _json(web, f"/api/v1/reports/outages?{DAY_Q}&district=soc-son", h)
    assert status == 200 and body["total"] == 4
    first = body["items"][0]
    assert (
        first["camera"] == "soc-son/tien-duoc/c" and first["ongoing"] and first["problems"] == ["auth_failed"]
    )
    assert first["start"] == "2026-11-05T14:00:00Z" and first["duration_s"] == 3 * 3600
    assert body["items"][-1]["started_before"] is True
    _, one = await _json(web, f"/api/v1/reports/outages?{DAY_Q}&camera=a&kind=all", h)
    assert [(o["status"], o["start"]) for o in one["items"]] == [
        ("problem", "2026-11-05T05:00:00Z"),
        ("offline", "2026-11-05T01:00:00Z"),
    ]

    for path in (f"/api/v1/reports/outages.csv?{DAY_Q}", f"/api/v1/reports/outages?{DAY_Q}&format=csv"):
        r = await web.client.get(path, headers=h)
        assert (
            r.status == 200
            and r.content_type == "text/csv"
            and "attachment" in r.headers["Content-Disposition"]
        )
        raw = await r.read()
        assert raw.startswith(b"\xef\xbb\xbf")
        rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
        assert rows[0][:6] == ["Huyện", "Xã", "Camera", "Tên", "Loại", "Bắt đầu"]
        crossing = rows[-1]  # b's outage begun at 23:00 on the 4th, clipped to the local day
        assert crossing[:8] == [
            "Huyện Sóc Sơn", "Xã Phù Linh", "b", "B", "Mất kết nối",
            "2026-11-05 00:00:00", "2026-11-05 02:00:00", "120.0",
        ]  # fmt: skip
        assert crossing[8:10] == ["Có", "Không"]
        assert rows[2][10] == "Không kết nối được, Không có khung hình"

    r = await web.client.get(f"/api/v1/reports/uptime.csv?{DAY_Q}", headers=h)
    rows = list(csv.reader(io.StringIO((await r.read()).decode("utf-8-sig"))))
    assert rows[0][4] == "Khả dụng (%)" and len(rows) == 6
    by_id = {row[2]: row for row in rows[1:]}
    assert by_id["a"][4:10] == ["91.67", "87.50", "120.0", "60.0", "0.0", "1"]
    assert by_id["e"][1] == "Xã Uy Nỗ" and by_id["f"][4] == ""


async def test_a_district_user_sees_only_its_district(web: WebEnv) -> None:
    _seed(web)
    h = await _token(web, "cs-socson", "police", "soc-son")
    _, body = await _json(web, f"/api/v1/reports/uptime?{DAY_Q}", h)
    assert {c["district"] for c in body["cameras"]} == {"soc-son"} and body["total"]["cameras"] == 3
    for path in (
        f"/api/v1/reports/uptime?{DAY_Q}&district=dong-anh",
        f"/api/v1/reports/outages.csv?{DAY_Q}&district=dong-anh",
    ):
        r = await web.client.get(path, headers=h)
        assert r.status == 404 and (await r.json())["error"]["code"] == "not_found"
    _, body = await _json(web, f"/api/v1/reports/outages?{DAY_Q}", h)
    assert body["total"] == 4  # all in soc-son
    r = await web.client.get("/api/v1/reports/uptime")
    assert r.status == 401


async def test_bad_parameters_are_named(web: WebEnv) -> None:
    _seed(web)
    h = await _token(web, "admin1")
    # 400: not what the API document allows; 422: allowed one by one, refused together or for what they mean
    cases = {
        "/api/v1/reports/uptime?period=year": ("period", 400),
        "/api/v1/reports/uptime?date=2026-13-01": ("date", 400),
        "/api/v1/reports/uptime?date=2027-01-01": ("date", 422),  # after now
        "/api/v1/reports/uptime?from=2026-11-01T00:00:00Z": ("from", 422),
        "/api/v1/reports/uptime?period=custom&to=2026-11-02T00:00:00Z": ("from", 422),
        "/api/v1/reports/uptime?period=custom&from=2026-11-01T00:00:00Z": ("to", 422),
        "/api/v1/reports/uptime?period=custom&from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z": ("to", 422),
        "/api/v1/reports/uptime?period=custom&from=2026-11-01T00:00:00&to=2026-11-02T00:00:00Z": (
            "from",
            400,
        ),
        "/api/v1/reports/uptime?worst=999": ("worst", 400),
        "/api/v1/reports/uptime?format=xml": ("format", 400),
        "/api/v1/reports/uptime?district=Sóc%20Sơn": ("district", 400),
        "/api/v1/reports/uptime.csv?format=csv": ("format", 400),
        "/api/v1/reports/outages?kind=frozen": ("kind", 400),
        "/api/v1/reports/outages?limit=0": ("limit", 400),
        "/api/v1/reports/outages?camera=A/B": ("camera", 400),
    }
    for path, (name, code) in cases.items():
        status, body = await _json(web, path, h)
        assert status == code, (path, body)
        assert f"'{name}'" in body["error"]["message"], (path, body)
        assert body["error"]["field"] == name, (path, body)
    status, body = await _json(
        web, "/api/v1/reports/uptime?period=custom&from=2026-11-05T00:00:00%2B07:00&to=1794000000", h
    )
    assert status == 200 and body["period"]["start"] == "2026-11-04T17:00:00Z"


async def test_report_page_in_vietnamese_with_csv_links(web: WebEnv) -> None:
    _seed(web)
    web.add_user("cs-socson", "police", district="soc-son")
    await web.login("cs-socson")
    r = await web.client.get(f"/reports?{DAY_Q}")
    html = await r.text()
    assert r.status == 200, html
    assert "Báo cáo khả dụng camera" in html and 'href="/reports"' in html
    assert f'href="/api/v1/reports/uptime.csv?{DAY_Q.replace("&", "&amp;")}"' in html
    assert "Xã Phù Linh" in html and "Xã Uy Nỗ" not in html  # another district's commune is not shown
    assert "86.96 %" in html  # Phù Linh: 40 of 46 hours
    assert "<td>Tất cả</td>" in html and "<td>Xã Phù Linh</td><td>81.82 %" in html  # total row; worst b
    assert "chưa kết thúc" in html and "Sai mật khẩu" in html
    r = await web.client.get("/reports?period=year")
    assert r.status == 400 and "period" in await r.text()
    r = await web.client.get(f"/reports?{DAY_Q}&district=dong-anh")
    assert r.status == 404
