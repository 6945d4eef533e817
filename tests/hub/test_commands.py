"""Command buttons end to end on real parts: the web API of a running hub → Mosquitto → a real edge agent
probing a GStreamer RTSP camera → its reply back to the waiting request; audit rows, refusals, and the
bounded wait when nobody answers."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from contract import CommandReply, encode, topics
from devtools.services import Service
from hub.compose import Hub, create_app
from hub.core.audit import AuditEntry
from tests.edge_support import AgentProcess
from tests.fixtures_camsim import CamSimFactory
from tests.fixtures_hub import Publisher, make_hub_config, wait_for
from tests.fixtures_web import WebEnv

D, C, AGENT = "soc-son", "phu-linh", "pl-edge"
URL = f"/api/v1/cameras/{D}/{C}/gate/commands"


def agent_config(path: Path, mqtt_port: int, camera_url: str, hub_key: str) -> Path:
    doc = {
        "agent": {"id": AGENT, "district": D, "commune": C, "name": "Hộp UBND xã"},
        "hub_public_key": hub_key,  # the hub's order-signing key: the box runs only what the hub signed
        "mqtt": {"host": "127.0.0.1", "port": mqtt_port, "backoff_min_s": 0.5, "backoff_max_s": 2},
        "probe": {
            "interval_s": 30,
            "open_timeout_s": 4,
            "read_timeout_s": 4,
            "frames": 8,
            "analysed_frames": 3,
            "concurrency": 2,
        },
        "cameras": [{"id": "gate", "name": "Cổng UBND", "url": camera_url, "expected_fps": 25}],
    }
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture
async def env(
    tmp_path: Path, mosquitto: Service, camsim_factory: CamSimFactory, password_hash: str
) -> AsyncIterator[tuple[WebEnv, Hub, AgentProcess]]:
    sim = camsim_factory({"gate": "normal"}, fps=25)
    hub = Hub(make_hub_config(tmp_path, mosquitto.port, None))
    await hub.start()
    app = create_app(hub.config, hub.db, hub.events, hub.stats.snapshot, hub=hub)
    client: TestClient[Any, Any] = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    agent = AgentProcess(
        agent_config(tmp_path / "edge.yaml", mosquitto.port, sim.url("gate"), hub.signer.public_pem()),
        tmp_path / "a.log",
    )
    try:
        web = WebEnv(client, hub.db, hub.events, password_hash)
        web.add_user("kt", "technician", district=D)
        web.add_user("kt-khac", "technician", district="dong-anh")
        web.add_user("ca", "police", district=D)
        key = f"{D}/{C}/gate"
        # a first probe done: the stream is known good before the commands probe it again
        await wait_for(lambda: (c := hub.store.cameras.get(key)) is not None and c.last_ts, 40, "first probe")
        await hub.flush()
        yield web, hub, agent
    finally:
        agent.stop()
        await client.close()
        await hub.stop()


async def post(web: WebEnv, body: Any, csrf: str | None) -> tuple[int, dict[str, Any]]:
    headers = {"X-CSRF-Token": csrf} if csrf else {}
    r = await web.client.post(URL, json=body, headers=headers)
    return r.status, await r.json()


async def test_buttons_reach_the_agent_and_are_audited(env: tuple[WebEnv, Hub, AgentProcess]) -> None:
    web, hub, agent = env
    assert (await web.login("kt")).status == 303
    csrf = await web.page_csrf(f"/cameras/{D}/{C}/gate")
    page = await (await web.client.get(f"/cameras/{D}/{C}/gate")).text()
    assert 'data-action="snapshot"' in page and "Học lại ảnh tham chiếu" in page

    snaps_before = hub.stats.snapshots
    status, body = await post(web, {"action": "snapshot"}, csrf)
    assert status == 200, body
    assert body["result"] == "ok" and body["agent"] == f"{D}/{C}/{AGENT}"
    assert body["data"]["cameras"]["gate"]["snapshot"] is True and body["data"]["cameras"]["gate"]["online"]
    await wait_for(lambda: hub.stats.snapshots > snaps_before, 15, "the commanded snapshot at the hub")

    status, body = await post(web, {"action": "probe"}, csrf)
    assert status == 200 and body["result"] == "ok" and body["data"]["cameras"]["gate"]["problems"] == []
    status, body = await post(web, {"action": "relearn"}, csrf)
    assert status == 200 and body["result"] == "ok" and "học lại" in body["data"]["message"]

    mine = AuditEntry.action.like("camera.command.%")
    rows = await hub.db.run(lambda s: list(s.scalars(select(AuditEntry).where(mine).order_by(AuditEntry.id))))
    assert [(r.actor, r.action, r.target, (r.after or {}).get("result")) for r in rows] == [
        ("kt", "camera.command.snapshot", f"camera:{D}/{C}/gate", "ok"),
        ("kt", "camera.command.probe", f"camera:{D}/{C}/gate", "ok"),
        ("kt", "camera.command.relearn", f"camera:{D}/{C}/gate", "ok"),
    ]
    assert all(r.district == D and r.commune == C for r in rows)

    # Refusals: bad action, unknown field, no CSRF token; nothing is sent for them.
    sent = hub.commands.sent
    status, body = await post(web, {"action": "reload"}, csrf)
    assert status == 400 and "'action'" in body["error"]["message"]
    status, body = await post(web, {"action": "probe", "camera": "other"}, csrf)
    assert status == 400 and "'camera'" in body["error"]["message"]
    status, body = await post(web, {"action": "probe"}, None)
    assert status == 403 and body["error"]["code"] == "csrf_failed"
    assert hub.commands.sent == sent

    # Police see the camera, not the buttons, and may not command; a technician of another district does
    # not see the camera at all.
    web.client.session.cookie_jar.clear()
    assert (await web.login("ca")).status == 303
    page = await (await web.client.get(f"/cameras/{D}/{C}/gate")).text()
    assert "data-action=" not in page
    status, body = await post(web, {"action": "probe"}, await web.page_csrf("/"))
    assert status == 403 and body["error"]["code"] == "forbidden"
    web.client.session.cookie_jar.clear()
    assert (await web.login("kt-khac")).status == 303
    status, body = await post(web, {"action": "probe"}, await web.page_csrf("/"))
    assert status == 404
    assert hub.commands.sent == sent

    # The agent goes away: its Last Will marks it offline and the button says so instead of waiting.
    web.client.session.cookie_jar.clear()
    assert (await web.login("kt")).status == 303
    csrf = await web.page_csrf("/")
    agent.stop()
    await wait_for(lambda: hub.store.agents[f"{D}/{C}/{AGENT}"].reported == "offline", 15, "agent offline")
    status, body = await post(web, {"action": "probe"}, csrf)
    assert status == 409 and body["error"]["code"] == "agent_offline"


async def test_bounded_wait_and_stray_replies(tmp_path: Path, mosquitto: Service) -> None:
    hub = Hub(make_hub_config(tmp_path, mosquitto.port, None))
    await hub.start()
    try:
        await bounded_wait_and_stray_replies(hub, mosquitto)
    finally:
        await hub.stop()


async def bounded_wait_and_stray_replies(hub: Hub, mosquitto: Service) -> None:
    outcome = await hub.commands.send(f"{D}/{C}/no-such-box", "probe", "gate", wait_s=0.5)
    assert outcome.result == "timeout" and outcome.reply is None and hub.commands.pending == 0
    pub = Publisher(mosquitto.port)
    try:
        reply = CommandReply(transaction="hub-not-ours", status="ok", ts=time.time())
        pub.publish(str(topics.build(D, C, "edge", AGENT, "reply")), encode(reply))
        await wait_for(lambda: hub.commands.unmatched >= 1, 10, "stray reply counted")
    finally:
        pub.close()
    assert hub.stats.snapshot()["commands_pending"] == 0
