"""Registry edits with the hub running: imported, renamed and removed cameras change the hub's in-memory
registry too, so its next SQL flush (after live health arrives) keeps what the administrator did."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from devtools.services import Service
from hub.compose import Hub, create_app
from hub.core import auth
from hub.core.config import DistrictConfig
from hub.core.db import Camera
from tests.fixtures_hub import Publisher, make_hub_config, wait_for
from tests.fixtures_web import T0

HEALTH = "ops/v1/soc-son/phu-linh/camera/cho/health"
CSV = (
    "district,commune,id,name,agent\n"
    "soc-son,phu-linh,cho,Chợ Phù Linh,box-1\n"
    "soc-son,phu-linh,kho,Kho cũ,box-1\n"
).encode()


@pytest.fixture
async def running(tmp_path: Path, mosquitto: Service) -> AsyncIterator[tuple[Hub, TestClient[Any, Any], str]]:
    cfg = make_hub_config(tmp_path, mosquitto.port, None)
    cfg = cfg.model_copy(
        update={
            "districts": {
                "soc-son": DistrictConfig(name="Huyện Sóc Sơn", communes={"phu-linh": "Xã Phù Linh"})
            }
        }
    )
    h = Hub(cfg)
    await h.start()
    with h.db.session() as s, s.begin():
        auth.add_user(s, "quantri", "x", "admin", now=T0)
        _, token = auth.create_token(s, "quantri", "test", T0)
    client: TestClient[Any, Any] = TestClient(
        TestServer(create_app(cfg, h.db, h.events, h.stats.snapshot, hub=h))
    )
    await client.start_server()
    try:
        yield h, client, token
    finally:
        await client.close()
        await h.stop()


async def _camera(h: Hub, key: str) -> Camera | None:
    return await h.db.run(lambda s: s.get(Camera, key))


async def test_import_rename_remove_survive_the_hub_flush(
    running: tuple[Hub, TestClient[Any, Any], str], mosquitto: Service
) -> None:
    h, client, token = running
    auth_h = {"Authorization": f"Bearer {token}"}
    r = await client.post(
        "/api/v1/devices/import?kind=cameras&dry_run=false",
        data=CSV,
        headers={**auth_h, "Content-Type": "text/csv"},
    )
    assert r.status == 200 and (await r.json())["created"] == 2
    cam = h.store.cameras["soc-son/phu-linh/cho"]
    assert cam.name == "Chợ Phù Linh" and cam.agent_key == "soc-son/phu-linh/box-1"

    r = await client.post(
        "/admin/devices/cameras/soc-son/phu-linh/cho", data={"name": "Chợ trung tâm"}, headers=auth_h,
        allow_redirects=False,
    )  # fmt: skip
    assert r.status == 303 and h.store.cameras["soc-son/phu-linh/cho"].name == "Chợ trung tâm"

    # live health arrives: the hub writes the whole row again, with the administrator's name
    pub = Publisher(mosquitto.port)
    try:
        pub.publish(HEALTH, {"ts": time.time(), "seq": 0, "online": True, "agent": "box-1", "boot": "b1"})
        await wait_for(lambda: h.store.cameras["soc-son/phu-linh/cho"].status == "ok", what="health applied")
    finally:
        pub.close()
    await h.flush()
    row = await _camera(h, "soc-son/phu-linh/cho")
    assert row is not None and row.status == "ok" and row.name == "Chợ trung tâm"

    r = await client.post(
        "/admin/devices/cameras/soc-son/phu-linh/kho/remove", headers=auth_h, allow_redirects=False
    )
    assert r.status == 303
    assert "soc-son/phu-linh/kho" not in h.store.cameras
    assert "soc-son/phu-linh/kho" not in h.store.cameras_of("soc-son/phu-linh/box-1")
    await h.flush()
    assert await _camera(h, "soc-son/phu-linh/kho") is None


async def test_removing_a_speaker_clears_its_retained_status(
    running: tuple[Hub, TestClient[Any, Any], str], mosquitto: Service
) -> None:
    """Otherwise the broker hands the removed speaker's status to the next hub start, which registers it again."""
    from datetime import timedelta

    from hub.web.context import CTX

    h, client, token = running
    topic = "ops/v1/soc-son/phu-linh/speaker/loa-cu/status"
    pub = Publisher(mosquitto.port)
    try:
        pub.publish(topic, {"state": "offline", "ts": time.time(), "version": "1"}, retain=True)
        await wait_for(
            lambda: h.broadcast.speakers.get("soc-son/phu-linh/loa-cu") is not None, what="registered"
        )
        await h.broadcast.speakers.flush()
    finally:
        pub.close()
    ctx = client.server.app[CTX]
    ctx.clock = lambda: T0 + timedelta(days=3650)  # long silent, so removal is allowed
    r = await client.post(
        "/admin/devices/speakers/soc-son/phu-linh/loa-cu/remove",
        headers={"Authorization": f"Bearer {token}"},
        allow_redirects=False,
    )
    assert r.status == 303, await r.text()
    await wait_for(lambda: h.stats.retained_cleared >= 1, what="the empty retained message seen by the hub")
    assert sum(h.stats.rejected.values()) == 0  # the clearing message is not a contract violation

    got: list[bytes] = []
    sub = Publisher(mosquitto.port)
    try:
        sub.client.on_message = lambda _c, _u, m: got.append(m.payload)
        sub.client.subscribe(topic, qos=1)
        await asyncio.sleep(1.5)  # a retained message arrives right after SUBACK
    finally:
        sub.close()
    assert got == [], "the broker no longer keeps the removed speaker's status"
