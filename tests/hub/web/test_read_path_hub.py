"""The read path with the hub running: the web answers from the runtime's camera views (kept as of each SQL
flush), summary deltas go out only when a commune's counts change, and camera events are not even built when
no open page asked for them."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from devtools.services import Service
from hub.compose import Hub, create_app
from hub.core import auth
from hub.core.db import Camera
from tests.fixtures_hub import Publisher, make_hub_config, wait_for
from tests.fixtures_web import T0

D = "soc-son"


def health(seq: int, online: bool = True, agent: str = "box-pl", **kw: Any) -> dict[str, Any]:
    """A camera's report from the box of its commune (a box reports only for its own commune)."""
    return {"ts": time.time(), "seq": seq, "online": online, "agent": agent, "boot": "b1", **kw}


@pytest.fixture
async def running(tmp_path: Path, mosquitto: Service) -> AsyncIterator[tuple[Hub, TestClient[Any, Any], str]]:
    h = Hub(make_hub_config(tmp_path, mosquitto.port, None))
    await h.start()
    with h.db.session() as s, s.begin():
        auth.add_user(s, "quantri", "x", "admin", now=T0)
        _, token = auth.create_token(s, "quantri", "test", T0)
    client: TestClient[Any, Any] = TestClient(
        TestServer(create_app(h.config, h.db, h.events, h.stats.snapshot, hub=h))
    )
    await client.start_server()
    try:
        yield h, client, token
    finally:
        await client.close()
        await h.stop()


async def test_views_follow_flushes_and_summary_deltas_follow_counts(
    running: tuple[Hub, TestClient[Any, Any], str], publisher: Publisher
) -> None:
    hub, client, token = running
    auth_h = {"Authorization": f"Bearer {token}"}
    got: list[dict[str, Any]] = []

    async def listen() -> None:  # what a province wall's stream subscribes to
        async for ev in hub.events.subscribe(types=("summary",)):
            got.append(ev)

    task = asyncio.create_task(listen())
    await wait_for(lambda: hub.events.subscribers == 1)
    events_before = hub.stats.events
    publisher.publish(f"ops/v1/{D}/phu-linh/camera/cong/health", health(0, fps=12.0))
    publisher.publish(
        f"ops/v1/{D}/tien-duoc/camera/cho/health",
        health(1, online=False, agent="box-td", problems=["unreachable"]),
    )
    await wait_for(lambda: len(hub.views.cameras) == 2, what="both cameras in the views")
    await wait_for(lambda: got, what="a summary delta")
    assert {(a["commune"], a["total"]) for e in got for a in e["communes"]} == {
        ("phu-linh", 1),
        ("tien-duoc", 1),
    }
    assert got[-1]["epoch"] == hub.views.epoch and got[-1]["version"] == hub.views.summary_version

    # the API answers from the views: the same JSON SQL holds, built once
    r = await client.get(f"/api/v1/cameras/{D}/phu-linh/cong", headers=auth_h)
    cam, etag = await r.json(), r.headers["ETag"]
    row = await hub.db.run(lambda s: s.get(Camera, f"{D}/phu-linh/cong"))
    assert row is not None and cam["fps"] == 12.0 and cam["last_seen"] is not None
    view = hub.views.get(f"{D}/phu-linh/cong")
    assert view is not None and json.loads(view.json) == cam

    # a report that changes only metrics: a new detail ETag, no summary delta, no camera event built
    n = len(got)
    publisher.publish(f"ops/v1/{D}/phu-linh/camera/cong/health", health(2, fps=7.0))
    await wait_for(lambda: json.loads(hub.views.get(f"{D}/phu-linh/cong").json)["fps"] == 7.0)  # type: ignore[union-attr]
    r = await client.get(f"/api/v1/cameras/{D}/phu-linh/cong", headers={**auth_h, "If-None-Match": etag})
    assert r.status == 200 and r.headers["ETag"] != etag
    summary = await (await client.get("/api/v1/cameras/summary", headers=auth_h)).json()
    assert summary["communes"][0]["commune"] == "tien-duoc" and summary["counts"]["offline"] == 1
    # a status change: one delta naming that commune only
    publisher.publish(f"ops/v1/{D}/tien-duoc/camera/cho/health", health(3, fps=10.0, agent="box-td"))
    await wait_for(lambda: len(got) > n, what="the delta of the recovery")
    assert [(a["commune"], a["counts"]["ok"]) for a in got[-1]["communes"]] == [("tien-duoc", 1)]
    assert got[-1]["from"] == summary["version"]
    assert hub.stats.events - events_before == len(got)  # only summaries: no camera or agent event was built
    task.cancel()

    # an administrator removes a camera: it leaves the views (and the list) at once
    hub.forget_camera(f"{D}/phu-linh/cong")
    page = await (await client.get("/api/v1/cameras", headers=auth_h)).json()
    assert [c["key"] for c in page["items"]] == [f"{D}/tien-duoc/cho"]
