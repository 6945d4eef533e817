"""The recorders page, its API and the camera page's recorder section: scope, Vietnamese words, local times."""

from __future__ import annotations

from typing import Any

from contract import RecorderHealth
from hub.core.recorder_state import RECORDER_STATES, RecorderStates, RecorderView
from hub.recorders.models import RecorderRow
from hub.recorders.service import row_of
from hub.web.recorder_view import epoch
from tests.fixtures_web import T0, WebEnv, sign_in

NOW = epoch(T0)


def health(**kw: Any) -> RecorderHealth:
    doc: dict[str, Any] = {
        "ts": NOW - 60, "seq": 1, "agent": "box1", "api": "isapi", "online": True, "name": "Đầu ghi UBND",
        "disks": [{"id": "1", "state": "failed", "raw": "smartFailed", "capacity_mb": 2048, "free_mb": 1024}],
        "channels": [{"channel": 2, "camera": "cho", "enabled": True, "recording": False, "oldest_ts": NOW - 86400}],
        "oldest_ts": NOW - 86400, "days_kept": 1.0,
    }  # fmt: skip
    return RecorderHealth.model_validate({**doc, **kw})


def seed(web: WebEnv) -> RecorderStates:
    states = RecorderStates()
    with web.db.session() as s, s.begin():
        for d, c, slug in (("soc-son", "phu-linh", "nvr1"), ("dong-anh", "uy-no", "nvr9")):
            v = RecorderView(f"{d}/{c}/{slug}", d, c, slug, health(), NOW - 50)
            states.put(v)
            s.add(RecorderRow(**row_of(v)))
    return states


async def test_recorders_page_and_api_stay_in_scope(web: WebEnv) -> None:
    seed(web)
    web.set_clock(lambda: T0)
    web.add_user("cs", "police", district="soc-son")
    sign_in(web, "cs")
    body = await (await web.client.get("/api/v1/recorders")).json()
    assert [r["key"] for r in body["items"]] == ["soc-son/phu-linh/nvr1"]
    r = body["items"][0]
    assert (
        r["disks"][0]["label"] == "hỏng" and r["channels"][0]["label"] == "không ghi" and r["free_gb"] == 1.0
    )
    html = await (await web.client.get("/recorders")).text()
    assert "Đầu ghi UBND" in html and "nvr9" not in html and "<b>hỏng</b>" in html and "1.0 ngày" in html
    assert (await web.client.get("/api/v1/recorders?district=dong-anh")).status == 200  # filtered to nothing
    assert (await (await web.client.get("/api/v1/recorders?district=dong-anh")).json())["items"] == []


async def test_the_camera_page_shows_the_channel_that_records_it(web: WebEnv) -> None:
    states = seed(web)
    web.add_camera("soc-son", "phu-linh", "cho", "ok", name="Chợ Phù Linh")
    web.add_camera("soc-son", "phu-linh", "cong", "ok", name="Cổng")
    web.add_user("cs", "police", district="soc-son")
    sign_in(web, "cs")
    web.set_clock(lambda: T0)
    html = await (await web.client.get("/cameras/soc-son/phu-linh/cho")).text()
    assert "Không xem được trạng thái đầu ghi" in html  # no running hub behind this web app
    web.ctx.services.provide(RECORDER_STATES, states)
    html = await (await web.client.get("/cameras/soc-son/phu-linh/cho")).text()
    assert "Đầu ghi UBND · kênh 2" in html and "không ghi" in html and "ổ 1: hỏng" in html
    html = await (await web.client.get("/cameras/soc-son/phu-linh/cong")).text()
    assert 'id="no-recorder"' in html
