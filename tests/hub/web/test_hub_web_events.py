"""Server-sent events: hello with the current state, then live events from the bus, filtered by scope."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import ClientResponse

from hub.core import auth
from hub.web.api.events import event_area, visible
from tests.fixtures_web import T0, WebEnv


async def read_block(resp: ClientResponse) -> list[str]:
    lines: list[str] = []
    while True:
        raw = await asyncio.wait_for(resp.content.readline(), timeout=5)
        assert raw, "stream ended"
        line = raw.decode().rstrip("\n")
        if line == "":
            if lines:
                return lines
            continue
        lines.append(line)


async def read_event(resp: ClientResponse) -> tuple[str, Any]:
    """Next named event, skipping retry: and comment (heartbeat) blocks."""
    while True:
        block = await read_block(resp)
        fields = dict(line.split(": ", 1) for line in block if not line.startswith(":") and ": " in line)
        if "event" in fields:
            return fields["event"], json.loads(fields["data"])


def _token(web: WebEnv, username: str) -> str:
    with web.db.session() as s, s.begin():
        return auth.create_token(s, username, "sse", T0)[1]


def cam_event(key: str, status: str) -> dict[str, Any]:
    d, c, slug = key.split("/")
    return {
        "type": "camera",
        "camera": {"key": key, "district": d, "commune": c, "id": slug, "status": status},
    }


async def test_hello_then_live_events_in_scope_only(web: WebEnv) -> None:
    web.add_camera("soc-son", "phu-linh", "cho", "ok")
    web.add_camera("dong-anh", "uy-no", "nga-tu", "ok")
    web.add_user("cs", "police", district="soc-son")
    h = {"Authorization": f"Bearer {_token(web, 'cs')}"}
    resp = await web.client.get("/api/v1/events", headers=h)
    assert resp.status == 200 and resp.content_type == "text/event-stream"
    name, hello = await read_event(resp)
    assert name == "hello"
    assert [c["key"] for c in hello["cameras"]] == ["soc-son/phu-linh/cho"]
    assert hello["counts"]["ok"] == 1 and hello["user"]["username"] == "cs"

    web.events.publish(cam_event("dong-anh/uy-no/nga-tu", "offline"))  # not in scope: must not arrive
    web.events.publish({"type": "snapshot", "key": "dong-anh/uy-no/nga-tu", "ts": "2026-11-02T07:00:00Z"})
    web.events.publish({"type": "mystery", "district": "soc-son", "commune": "phu-linh"})  # unknown type
    web.events.publish(cam_event("soc-son/phu-linh/cho", "problem"))
    web.events.publish({"type": "snapshot", "key": "soc-son/phu-linh/cho", "ts": "2026-11-02T07:00:01Z"})
    name, ev = await read_event(resp)
    assert name == "camera" and ev["camera"]["key"] == "soc-son/phu-linh/cho"
    assert ev["camera"]["status"] == "problem"
    name, ev = await read_event(resp)
    assert name == "snapshot" and ev["key"] == "soc-son/phu-linh/cho"
    # police may see agents; their events arrive too
    web.events.publish(
        {
            "type": "agent",
            "agent": {"key": "soc-son/phu-linh/box1", "district": "soc-son", "commune": "phu-linh"},
        }
    )
    name, ev = await read_event(resp)
    assert name == "agent"
    resp.close()


async def test_heartbeat_and_stream_end_on_shutdown(web: WebEnv) -> None:
    web.add_user("admin1", "admin")
    web.ctx.heartbeat_s = 0.05
    resp = await web.client.get(
        "/api/v1/events?cameras=false", headers={"Authorization": f"Bearer {_token(web, 'admin1')}"}
    )
    name, hello = await read_event(resp)
    assert name == "hello" and hello["cameras"] is None
    assert await read_block(resp) == [": ping"]
    assert web.ctx.sse_clients == 1 and web.events.subscribers == 1
    web.ctx.closing.set()  # what on_shutdown does
    assert await asyncio.wait_for(resp.content.read(), timeout=5) == b""
    for _ in range(100):
        if web.events.subscribers == 0:
            break
        await asyncio.sleep(0.01)
    assert web.ctx.sse_clients == 0 and web.events.subscribers == 0


async def test_slow_client_dropped_by_bus_sees_stream_end(web: WebEnv) -> None:
    web.add_user("admin1", "admin")
    resp = await web.client.get(
        "/api/v1/events", headers={"Authorization": f"Bearer {_token(web, 'admin1')}"}
    )
    assert (await read_event(resp))[0] == "hello"
    web.events.close()  # the bus ends every subscription, as it does for a subscriber that fell behind
    assert await asyncio.wait_for(resp.content.read(), timeout=5) == b""
    assert web.ctx.counters["sse_dropped"] == 1


async def test_event_filter_params_are_validated(web: WebEnv) -> None:
    web.add_user("admin1", "admin")
    h = {"Authorization": f"Bearer {_token(web, 'admin1')}"}
    for q in ("district=Bad!", "cameras=maybe", "foo=1"):
        r = await web.client.get(f"/api/v1/events?{q}", headers=h)
        assert r.status == 400 and (await r.json())["error"]["code"] == "bad_parameter"


def test_event_scope_rules() -> None:
    officer = auth.Principal(1, "x", None, "officer", "soc-son", "phu-linh", "session")
    police = auth.Principal(2, "y", None, "police", "soc-son", "phu-linh", "session")
    assert event_area({"type": "snapshot", "key": "a/b/c"}) == ("a", "b")
    assert event_area({"type": "camera", "camera": {"district": "a", "commune": "b"}}) == ("a", "b")
    assert event_area({"type": "camera"}) is None
    assert visible(cam_event("soc-son/phu-linh/c1", "ok"), police)
    assert not visible(cam_event("soc-son/other/c1", "ok"), police)
    assert not visible(cam_event("soc-son/phu-linh/c1", "ok"), officer)  # no cameras.view
    agent = {"type": "agent", "agent": {"district": "soc-son", "commune": "phu-linh"}}
    assert not visible(agent, officer)  # officers have no agents.view permission
    assert not visible(cam_event("soc-son/phu-linh/c1", "ok"), police, district="soc-son", commune="x")


def test_each_event_is_encoded_once() -> None:
    from hub.web.sse import EncodedEvents

    cache = EncodedEvents(size=2)
    ev = {"type": "camera", "camera": {"key": "a/b/c", "name": "Chợ"}}
    first = cache.get(ev)
    assert first.startswith(b"event: camera\ndata: ") and "Chợ".encode() in first and first.endswith(b"\n\n")
    assert cache.get(ev) is first and cache.hits == 1
    twin = dict(ev)  # equal but another event: encoded on its own
    assert cache.get(twin) == first and cache.hits == 1
    cache.get({"type": "snapshot", "key": "a/b/c"})
    assert len(cache._cache) == 2  # bounded
