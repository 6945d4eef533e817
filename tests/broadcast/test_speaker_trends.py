"""Speaker health trends: the history API on a real InfluxDB holding points written by the registry's own line
builder, scope, and the chart section on /speakers."""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path

import pytest

from broadcast.speakers.live import SpeakerLive
from broadcast.speakers.registry import health_line
from devtools.services import Service
from hub.compose import HubConfig
from hub.core.config import DistrictConfig, HttpConfig, InfluxConfig
from hub.core.influx_retention import RetentionV1
from hub.core.speaker_models import Speaker
from tests.fixtures_web import WebEnv

D, C = "soc-son", "phu-linh"
KEY = f"{D}/{C}/loa-cho"
BASE = f"/api/v1/speakers/{KEY}/history"


@pytest.fixture
def web_config(tmp_path: Path, influxd: Service, influx_db: str) -> HubConfig:
    return HubConfig(
        data_dir=tmp_path / "hub",
        http=HttpConfig(public_url="http://127.0.0.1:8080", secure_cookies=False),
        influx=InfluxConfig(url=influxd.url, database=influx_db),
        districts={D: DistrictConfig(name="Huyện Sóc Sơn", communes={C: "Xã Phù Linh"})},
    )


def write(influxd: Service, db: str, now: float) -> None:
    bucket = (int(now) // 600) * 600 - 3600
    lines = []
    for i, (signal, level, offset) in enumerate(
        ((-90.0, -24.0, 2.0), (-100.0, -30.0, 4.0), (-95.0, None, 3.0))
    ):
        sp = SpeakerLive(KEY, D, C, "loa-cho", status="online", volume=80, signal_dbm=signal, disk_free_mb=500.0,
                         clock_offset_ms=offset, level_dbfs=level, level_at=bucket + 10 + i * 30)  # fmt: skip
        point = health_line(sp, bucket + 10 + i * 30)
        assert point is not None
        lines.append(point)
    url = f"http://127.0.0.1:{influxd.port}/write?db={db}&precision=ms"
    req = urllib.request.Request(url, data="\n".join(lines).encode())
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 204


@pytest.fixture
async def seeded(web: WebEnv, influxd: Service, influx_db: str) -> WebEnv:
    await RetentionV1(web.ctx.config.influx, dict).apply(int(time.time() * 1000))
    with web.db.session() as s, s.begin():
        s.add(Speaker(key=KEY, district=D, commune=C, slug="loa-cho", name="Cụm loa chợ", status="online"))
        s.add(Speaker(key="dong-anh/uy-no/loa-x", district="dong-anh", commune="uy-no", slug="loa-x"))
    write(influxd, influx_db, time.time())
    web.add_user("canbo", "officer", district=D, commune=C)
    assert (await web.login("canbo")).status == 303
    return web


async def test_history_of_each_metric(seeded: WebEnv) -> None:
    r = await seeded.client.get(BASE, params={"metric": "signal_dbm", "range": "24h"})
    assert r.status == 200, await r.text()
    body = await r.json()
    assert body["speaker"] == KEY and body["unit"] == "dBm" and body["source"] == "raw"
    [p] = body["points"]
    assert (p["mean"], p["min"], p["max"]) == (-95.0, -100.0, -90.0)
    level = await (await seeded.client.get(BASE, params={"metric": "level_dbfs"})).json()
    assert [(x["min"], x["max"]) for x in level["points"]] == [(-30.0, -24.0)]  # only while it played
    clock = await (await seeded.client.get(BASE, params={"metric": "clock_offset_ms", "range": "6h"})).json()
    assert clock["points"][0]["mean"] == 3.0 and clock["unit"] == "ms"


async def test_scope_and_bad_parameters(seeded: WebEnv) -> None:
    assert (await seeded.client.get("/api/v1/speakers/dong-anh/uy-no/loa-x/history")).status == 404
    assert (await seeded.client.get(f"/api/v1/speakers/{D}/{C}/khong-co/history")).status == 404
    assert (await seeded.client.get(BASE, params={"metric": "fps"})).status == 400
    assert (await seeded.client.get(BASE, params={"range": "1y"})).status == 400


async def test_page_offers_the_trend_chart(seeded: WebEnv) -> None:
    html = await (await seeded.client.get("/speakers")).text()
    assert 'id="trend-chart"' in html and "speaker_trends.js" in html and "chart.js" in html
    assert f'value="{KEY}"' in html and "Mức âm thanh ra loa" in html
