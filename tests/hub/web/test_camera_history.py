"""Camera history API on a real InfluxDB holding points written exactly as the hub's ingest writes them:
values per bucket, status and share online, validated parameters, scope, escaping, and InfluxDB down/off."""

from __future__ import annotations

import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from contract import CameraHealth
from devtools.services import Service, free_port, influx_query
from hub.compose import HubConfig
from hub.core.config import DistrictConfig, HttpConfig, InfluxConfig
from hub.core.influx_read import string_literal
from hub.core.influx_retention import RetentionV1
from hub.core.ingest import Ingest
from hub.core.state import StateStore
from hub.core.stats import HubStats
from hub.web.api.history import build_query
from tests.fixtures_web import WebEnv

D, C = "soc-son", "phu-linh"
KEY = f"{D}/{C}/cong-ubnd"
BASE = f"/api/v1/cameras/{KEY}/history"


@pytest.fixture
def web_config(tmp_path: Path, influxd: Service, influx_db: str) -> HubConfig:
    return HubConfig(
        data_dir=tmp_path / "hub",
        http=HttpConfig(public_url="http://127.0.0.1:8080", secure_cookies=False),
        influx=InfluxConfig(url=influxd.url, database=influx_db),
        districts={D: DistrictConfig(name="Huyện Sóc Sơn", communes={C: "Xã Phù Linh"})},
    )


def write_health(influxd: Service, db: str, probes: list[dict[str, Any]], camera: str = "cong-ubnd") -> None:
    """Through the hub's own line builder (hub/core/ingest.py), so the API reads what production writes."""
    store = StateStore(180)
    ingest = Ingest(store, HubStats(), None)
    cam = store.camera(D, C, camera)
    body = "\n".join(ingest.health_line(cam, CameraHealth.model_validate(p)) for p in probes).encode()
    url = f"http://127.0.0.1:{influxd.port}/write?db={db}&precision=ms"
    with urllib.request.urlopen(urllib.request.Request(url, data=body), timeout=10) as r:
        assert r.status == 204


def probes(now: float) -> list[dict[str, Any]]:
    """Two 10-minute buckets an hour ago (fps 8 and 12, then offline), and a recent one with fps 10."""
    bucket = (int(now) // 600) * 600
    old = bucket - 3600
    return [
        {"ts": old + 10, "seq": 1, "online": True, "fps": 8.0, "brightness": 100.0},
        {"ts": old + 70, "seq": 2, "online": True, "fps": 12.0, "brightness": 110.0},
        {"ts": old + 610, "seq": 3, "online": False, "problems": ["unreachable"]},
        {"ts": old + 790, "seq": 4, "online": True, "fps": 5.0, "problems": ["low_fps"]},
        {"ts": bucket - 590, "seq": 5, "online": True, "fps": 10.0, "brightness": 120.0},
    ]


@pytest.fixture
async def seeded(web: WebEnv, influxd: Service, influx_db: str) -> WebEnv:
    # the layout the hub creates at start: raw points go to (and are read from) the "raw" policy
    await RetentionV1(web.ctx.config.influx, dict).apply(int(time.time() * 1000))
    web.add_camera(D, C, "cong-ubnd", name="Cổng UBND xã")
    web.add_camera("dong-anh", "uy-no", "ngoai-pham-vi")
    write_health(influxd, influx_db, probes(time.time()))
    web.add_user("cs", "police", district=D)
    assert (await web.login("cs")).status == 303
    return web


async def test_numeric_history_per_bucket(seeded: WebEnv) -> None:
    r = await seeded.client.get(BASE, params={"metric": "fps", "range": "24h"})
    assert r.status == 200, await r.text()
    body = await r.json()
    assert body["metric"] == "fps" and body["unit"] == "fps" and body["step_s"] == 600
    assert body["source"] == "raw"
    pts = body["points"]
    assert [(p["mean"], p["min"], p["max"]) for p in pts] == [
        (10.0, 8.0, 12.0),
        (5.0, 5.0, 5.0),
        (10.0, 10.0, 10.0),
    ]
    assert datetime.fromisoformat(pts[0]["t"]).timestamp() % 600 == 0
    assert body["from"] < pts[0]["t"] < body["to"]


async def test_status_history_share_online(seeded: WebEnv) -> None:
    body = await (await seeded.client.get(BASE, params={"metric": "status", "range": "6h"})).json()
    pts = body["points"]
    # 6 h buckets are 2 minutes: [ok, ok] then [offline] then [problem] then [ok].
    assert [(p["status"], p["probes"], p["online_ratio"]) for p in pts] == [
        ("ok", 2, 1.0),
        ("offline", 1, 0.0),
        ("problem", 1, 1.0),
        ("ok", 1, 1.0),
    ]
    assert pts[1]["problems"] == ["unreachable"] and pts[2]["problems"] == ["low_fps"]


async def test_parameters_are_validated(seeded: WebEnv) -> None:
    for q, name in (
        ({"metric": "fps;DROP"}, "metric"),
        ({"range": "1y"}, "range"),
        ({"since": "x"}, "since"),
    ):
        r = await seeded.client.get(BASE, params=q)
        assert r.status == 400, q
        assert f"'{name}'" in (await r.json())["error"]["message"]
    assert (await seeded.client.get("/api/v1/cameras/dong-anh/uy-no/ngoai-pham-vi/history")).status == 404
    assert (await seeded.client.get(f"/api/v1/cameras/{D}/{C}/khong-co/history")).status == 404
    # an empty range answers with no points, not an error
    body = await (await seeded.client.get(BASE, params={"metric": "motion"})).json()
    assert body["points"] == [] and body["label"]


async def test_technician_and_officer(seeded: WebEnv) -> None:
    seeded.add_user("kt", "technician", district=D)
    seeded.add_user("vh", "officer", district=D, commune=C)
    seeded.client.session.cookie_jar.clear()
    assert (await seeded.login("vh")).status == 303
    assert (await seeded.client.get(BASE)).status == 403  # officers do not see cameras
    seeded.client.session.cookie_jar.clear()
    assert (await seeded.login("kt")).status == 303
    assert (await seeded.client.get(BASE)).status == 200


def test_tag_values_cannot_break_out_of_the_literal(influxd: Service, influx_db: str) -> None:
    write_health(influxd, influx_db, probes(time.time()))
    evil = "x' OR \"camera\" =~ /.*/ OR camera='y"
    q = build_query("fps", "24h", {"district": D, "commune": C, "camera": evil}, datetime.now(UTC))
    assert q.text.count(string_literal(evil)) == 1
    res = influx_query(influxd.port, influx_db, q.text)["results"][0]  # type: ignore[index]
    assert "error" not in res and not res.get("series"), res  # one odd camera name, matching nothing
    with pytest.raises(ValueError):
        string_literal("a\nb")
    ok = build_query("fps", "24h", {"district": D, "commune": C, "camera": "cong-ubnd"}, datetime.now(UTC))
    res = influx_query(influxd.port, influx_db, ok.text)["results"][0]  # type: ignore[index]
    assert len(res["series"][0]["values"]) == 3


async def test_influx_down_or_disabled_is_a_clear_503(seeded: WebEnv) -> None:
    cfg = seeded.ctx.config
    seeded.ctx.config = cfg.model_copy(
        update={"influx": cfg.influx.model_copy(update={"url": f"http://127.0.0.1:{free_port()}"})}
    )
    r = await seeded.client.get(BASE)
    assert r.status == 503
    err = (await r.json())["error"]
    assert err["code"] == "history_unavailable" and "Không kết nối được InfluxDB" in err["message"]
    # the camera page itself still renders, with the chart area waiting for the script
    page = await seeded.client.get(f"/cameras/{KEY}")
    assert page.status == 200 and 'data-metric="fps"' in await page.text()
    seeded.ctx.config = cfg.model_copy(update={"influx": cfg.influx.model_copy(update={"enabled": False})})
    r = await seeded.client.get(BASE)
    assert r.status == 503 and "chưa bật InfluxDB" in (await r.json())["error"]["message"]
    # without InfluxDB the page says so instead of drawing empty charts
    text = await (await seeded.client.get(f"/cameras/{KEY}")).text()
    assert "Hub chưa bật InfluxDB" in text and 'data-metric="fps"' not in text


async def test_long_ranges_read_the_downsampled_series(
    seeded: WebEnv, influxd: Service, influx_db: str
) -> None:
    """Three days of probes every 10 minutes (fps 8/12 by turns, every sixth offline), downsampled as the
    continuous queries do it: 7 days reads the 5-minute series, 30 days the hourly one; both agree with the
    raw points."""
    now = time.time()
    start = int(now // 3600) * 3600 - 3 * 86400
    hist = []
    for i in range(6 * 24 * 3):
        p: dict[str, Any] = {"ts": start + 600 * i + 30, "seq": 100 + i, "online": i % 6 != 5}
        if p["online"]:
            p["fps"] = 8.0 if i % 2 else 12.0
        else:
            p["problems"] = ["unreachable"]
        hist.append(p)
    write_health(influxd, influx_db, hist, camera="kho-lua")
    seeded.add_camera(D, C, "kho-lua")
    layout = RetentionV1(seeded.ctx.config.influx, dict)
    await layout.backfill(datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(now, UTC))
    base = f"/api/v1/cameras/{D}/{C}/kho-lua/history"

    week = await (await seeded.client.get(base, params={"metric": "fps", "range": "7d"})).json()
    assert week["source"] == "m5" and week["step_s"] == 3600
    assert len(week["points"]) == 72
    # an hour holds 6 probes: 12, 8, 12, 8, 12 and one offline (no fps)
    for pt in week["points"]:
        assert (pt["min"], pt["max"]) == (8.0, 12.0) and pt["mean"] == pytest.approx(10.4)
    status = await (await seeded.client.get(base, params={"metric": "status", "range": "7d"})).json()
    assert {(p["probes"], p["online_ratio"], p["status"]) for p in status["points"]} == {
        (6, 0.8333, "offline")
    }

    month = await (await seeded.client.get(base, params={"metric": "fps", "range": "30d"})).json()
    assert month["source"] == "h1" and month["step_s"] == 6 * 3600
    assert len(month["points"]) in (12, 13)  # 6-hour buckets need not start on the data's first hour
    assert all((p["min"], p["max"]) == (8.0, 12.0) for p in month["points"])
    status = await (await seeded.client.get(base, params={"metric": "status", "range": "30d"})).json()
    assert sum(p["probes"] for p in status["points"]) == len(hist)
    assert sum(round(p["probes"] * p["online_ratio"]) for p in status["points"]) == sum(
        1 for p in hist if p["online"]
    )
