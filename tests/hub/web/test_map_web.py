"""The map feature without a browser: its config (unknown keys and half-set sources refused), the page's
content-security policy per base map, the features API (scope, kinds per role), commune labels, and the PMTiles
file served with HTTP Range requests (206 and exactly the bytes asked for)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from hub.compose import HubConfig
from hub.core.camera_points import CameraPoint
from hub.core.speaker_models import Speaker
from hub.map.config import MapConfig
from hub.map.layers import commune_labels
from hub.map.web.pages import page_csp
from tests.fixtures_web import WebEnv, sign_in

D, C = "soc-son", "phu-linh"
DEMO_PMTILES = Path(__file__).resolve().parents[3] / "config" / "demo" / "yen-dinh.pmtiles"


def test_config_refuses_unknown_keys_and_half_set_sources() -> None:
    with pytest.raises(ValidationError, match="tile_url"):
        MapConfig.model_validate({"base": "tiles", "tile_url": "https://x/{z}/{x}/{y}.png"})
    for bad, words in (
        ({"base": "tiles"}, "tiles_url"),
        ({"base": "tiles", "tiles_url": "ftp://x/{z}/{x}/{y}.png"}, "http"),
        ({"base": "tiles", "tiles_url": "https://x/{z}/{x}.png"}, "{y}"),
        ({"base": "pmtiles"}, "pmtiles_file"),
        ({"base": "satellite"}, "base"),
        ({"min_zoom": 12, "max_zoom": 10}, "min_zoom"),
    ):
        with pytest.raises(ValidationError, match=words):
            MapConfig.model_validate(bad)
    # the hub's whole config knows the section
    cfg = HubConfig.model_validate({"map": {"base": "pmtiles", "pmtiles_file": "base.pmtiles"}})
    assert cfg.map.pmtiles_file == Path("base.pmtiles")  # type: ignore[attr-defined]


def test_page_policy_lets_in_only_the_configured_tiles() -> None:
    none = page_csp(MapConfig())
    assert "img-src 'self' data:;" in none and "blob:" not in none
    tiles = page_csp(MapConfig(base="tiles", tiles_url="https://bando.thanhhoa.gov.vn:8443/{z}/{x}/{y}.png"))
    assert "img-src 'self' data: https://bando.thanhhoa.gov.vn:8443;" in tiles
    assert "connect-src 'self';" in tiles  # nothing but images leaves the hub
    sub = page_csp(MapConfig(base="tiles", tiles_url="https://{s}.tiles.tinh.vn/{z}/{x}/{y}.png"))
    assert "https://*.tiles.tinh.vn" in sub
    assert "blob:" in page_csp(MapConfig(base="pmtiles", pmtiles_file=Path("x.pmtiles")))


def test_commune_labels_sit_in_the_middle_of_their_things() -> None:
    items = [
        {"district": D, "commune": C, "lat": 21.0, "lon": 105.0},
        {"district": D, "commune": C, "lat": 21.2, "lon": 105.4},
        {"district": D, "commune": "tien-duoc", "lat": 20.0, "lon": 106.0},
    ]
    labels = commune_labels(items, {(D, C): "Xã Phù Linh"})
    assert labels[0]["name"] == "Xã Phù Linh" and labels[0]["lat"] == pytest.approx(21.1)
    assert labels[0]["lon"] == pytest.approx(105.2) and labels[1]["name"] == "tien-duoc"


def _seed(web: WebEnv) -> None:
    web.add_area(D, "tien-duoc", "Xã Tiên Dược")
    with web.db.session() as s, s.begin():
        s.add(
            CameraPoint(
                key=f"{D}/{C}/cho", district=D, commune=C, slug="cho", name="Chợ", lat=21.27, lon=105.85
            )
        )
        s.add(CameraPoint(key=f"{D}/tien-duoc/truong", district=D, commune="tien-duoc", slug="truong",
                          name="Trường", lat=21.25, lon=105.83))  # fmt: skip
        s.add(Speaker(key=f"{D}/{C}/loa-1", district=D, commune=C, slug="loa-1", name="Loa", lat=21.26, lon=105.86,
                      status="online"))  # fmt: skip
        s.add(Speaker(key=f"{D}/{C}/loa-2", district=D, commune=C, slug="loa-2", name="Loa không toạ độ"))
    web.add_camera(D, C, "cong-cho", status="offline", point="cho", purpose="security", name="Cổng chợ")
    web.add_camera(D, C, "ubnd", status="ok")  # no point: not on the map
    web.add_camera(D, "tien-duoc", "cong-truong", point="truong", purpose="traffic")


async def test_features_by_role_and_scope(web: WebEnv) -> None:
    _seed(web)
    web.add_user("quantri", "admin")
    sign_in(web, "quantri")
    data = await (await web.client.get("/api/v1/map/features")).json()
    assert [p["key"] for p in data["points"]] == [f"{D}/{C}/cho", f"{D}/tien-duoc/truong"]
    assert data["points"][0]["cameras"] == [
        {"key": f"{D}/{C}/cong-cho", "id": "cong-cho", "name": "Cổng chợ", "status": "offline",
         "purpose": "security", "owner_kind": None, "owner_name": None}
    ]  # fmt: skip
    assert [s["key"] for s in data["speakers"]] == [f"{D}/{C}/loa-1"]
    assert {c["name"] for c in data["communes"]} == {"Xã Phù Linh", "Xã Tiên Dược"}
    # commune police see their commune's cameras and no speakers; an officer the speakers only
    web.add_user("ca.pl", "police", district=D, commune=C)
    sign_in(web, "ca.pl")
    data = await (await web.client.get("/api/v1/map/features")).json()
    assert [p["key"] for p in data["points"]] == [f"{D}/{C}/cho"] and data["speakers"] == []
    web.add_user("vh.td", "officer", district=D, commune="tien-duoc")
    sign_in(web, "vh.td")
    data = await (await web.client.get("/api/v1/map/features")).json()
    assert data == {"points": [], "speakers": [], "communes": []}
    page = await web.client.get("/map")
    assert page.status == 200 and 'id="f-purpose"' not in await page.text()


async def test_pmtiles_file_is_served_by_ranges(web: WebEnv) -> None:
    web.ctx.config.map = MapConfig(base="pmtiles", pmtiles_file=DEMO_PMTILES)  # type: ignore[attr-defined]
    r = await web.client.get("/map/base.pmtiles", headers={"Range": "bytes=0-126"}, allow_redirects=False)
    assert r.status == 302 and r.headers["Location"].startswith("/login")  # signed-in users only
    web.add_user("quantri", "admin")
    sign_in(web, "quantri")
    whole = DEMO_PMTILES.read_bytes()
    r = await web.client.get("/map/base.pmtiles", headers={"Range": "bytes=0-126"})
    body = await r.read()
    assert r.status == 206 and body == whole[:127] and body[:7] == b"PMTiles"
    assert r.headers["Content-Range"] == f"bytes 0-126/{len(whole)}"
    r = await web.client.get("/map/base.pmtiles", headers={"Range": "bytes=2000-2099"})
    assert r.status == 206 and await r.read() == whole[2000:2100]
    r = await web.client.get("/map/base.pmtiles", headers={"Range": f"bytes={len(whole) + 10}-"})
    assert r.status == 416
    page = await web.client.get("/map")
    assert "blob:" in page.headers["Content-Security-Policy"] and "pmtiles.js" in await page.text()
    web.ctx.config.map = MapConfig()  # type: ignore[attr-defined]
    assert (await web.client.get("/map/base.pmtiles")).status == 404
