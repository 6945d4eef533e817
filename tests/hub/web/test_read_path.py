"""The read path at province scale: weak ETags answered with 304, keyset cursors, the per-commune summary and
what the live stream sends to a client that asked only for some event types."""

from __future__ import annotations

import json
from typing import Any

from hub.core import auth
from hub.core.db import Agent, Camera
from hub.core.speaker_models import Speaker
from tests.fixtures_web import T0, WebEnv
from tests.hub.web.test_hub_web_events import read_event


def _token(web: WebEnv, username: str) -> dict[str, str]:
    with web.db.session() as s, s.begin():
        return {"Authorization": f"Bearer {auth.create_token(s, username, 'test', T0)[1]}"}


def _set(web: WebEnv, key: str, **changes: Any) -> None:
    with web.db.session() as s, s.begin():
        cam = s.get(Camera, key)
        assert cam is not None
        for k, v in changes.items():
            setattr(cam, k, v)


async def _get(web: WebEnv, path: str, h: dict[str, str], etag: str | None = None) -> tuple[int, str, Any]:
    headers = {**h, **({"If-None-Match": etag} if etag else {})}
    r = await web.client.get(path, headers=headers)
    body = await r.json() if r.status == 200 else await r.read()
    return r.status, r.headers.get("ETag", ""), body


def _seed(web: WebEnv) -> None:
    web.add_area("soc-son", "", "Huyện Sóc Sơn")
    web.add_area("soc-son", "tien-duoc", "Xã Tiên Dược")
    for slug, st in [("a", "ok"), ("b", "ok"), ("c", "problem")]:
        web.add_camera("soc-son", "phu-linh", slug, st)
    for slug, st in [("a", "offline"), ("b", "offline")]:
        web.add_camera("soc-son", "tien-duoc", slug, st)
    web.add_camera("dong-anh", "uy-no", "a", "stale")


async def test_camera_list_and_detail_etags(web: WebEnv) -> None:
    _seed(web)
    web.add_user("admin1", "admin")
    h = _token(web, "admin1")
    one = "/api/v1/cameras?district=soc-son&commune=phu-linh"
    status, etag, body = await _get(web, one, h)
    assert status == 200 and etag.startswith('W/"') and [c["id"] for c in body["items"]] == ["a", "b", "c"]
    status, again, raw = await _get(web, one, h, etag)
    assert status == 304 and again == etag and raw == b""
    # a change in another commune leaves this commune's ETag alone; one in it changes it
    _set(web, "soc-son/tien-duoc/a", fps=9.0)
    assert (await _get(web, one, h, etag))[0] == 304
    _set(web, "soc-son/phu-linh/b", status="offline")
    status, etag2, body = await _get(web, one, h, etag)
    assert status == 200 and etag2 != etag and body["counts"]["offline"] == 1
    # another query (or another page) of the same version is another ETag
    assert (await _get(web, one + "&status=ok", h, etag2))[0] == 200

    detail = "/api/v1/cameras/soc-son/phu-linh/c"
    status, etag, cam = await _get(web, detail, h)
    assert status == 200 and cam["status"] == "problem"
    assert (await _get(web, detail, h, etag))[0] == 304
    assert (await _get(web, detail, h, "*"))[0] == 304
    _set(web, "soc-son/phu-linh/c", status="ok", problems=[])
    status, _, cam = await _get(web, detail, h, etag)
    assert status == 200 and cam["status"] == "ok"


async def test_camera_cursor_pages_stay_stable_when_cameras_are_added(web: WebEnv) -> None:
    _seed(web)
    web.add_user("admin1", "admin")
    h = _token(web, "admin1")
    _, _, p1 = await _get(web, "/api/v1/cameras?limit=3", h)
    assert [c["key"] for c in p1["items"]] == ["dong-anh/uy-no/a", "soc-son/phu-linh/a", "soc-son/phu-linh/b"]
    web.add_camera("dong-anh", "uy-no", "0-truoc", "ok")  # sorts before the cursor: no shift, no repeat
    web.add_camera("soc-son", "tien-duoc", "z-sau", "ok")  # sorts after it: shows on a later page
    keys: list[str] = []
    cursor = p1["next_cursor"]
    while cursor:
        _, _, page = await _get(web, f"/api/v1/cameras?limit=3&cursor={cursor}", h)
        keys += [c["key"] for c in page["items"]]
        cursor = page["next_cursor"]
    assert keys == [
        "soc-son/phu-linh/c",
        "soc-son/tien-duoc/a",
        "soc-son/tien-duoc/b",
        "soc-son/tien-duoc/z-sau",
    ]
    assert page["total"] == 8


async def test_summary_problems_first_scoped_and_cached(web: WebEnv) -> None:
    _seed(web)
    web.add_user("cs", "police", district="soc-son")
    h = _token(web, "cs")
    status, etag, s = await _get(web, "/api/v1/cameras/summary", h)
    assert status == 200
    assert [(a["commune"], a["name"], a["total"]) for a in s["communes"]] == [
        ("tien-duoc", "Xã Tiên Dược", 2),  # two offline
        ("phu-linh", "Xã Phù Linh", 3),  # one problem
    ]
    assert s["districts"] == [
        {
            "district": "soc-son",
            "name": "Huyện Sóc Sơn",
            "counts": {"ok": 2, "problem": 1, "offline": 2, "stale": 0, "unknown": 0},
            "total": 5,
        }
    ]
    assert s["total"] == 5  # dong-anh is outside the user's district
    assert (await _get(web, "/api/v1/cameras/summary", h, etag))[0] == 304
    _set(web, "soc-son/phu-linh/a", fps=3.0)  # a report that changes no count: still 304
    assert (await _get(web, "/api/v1/cameras/summary", h, etag))[0] == 304
    _set(web, "soc-son/phu-linh/a", status="offline")
    _set(web, "soc-son/phu-linh/b", status="offline")
    status, _, s2 = await _get(web, "/api/v1/cameras/summary", h, etag)
    assert status == 200 and s2["version"] > s["version"] and s2["communes"][0]["commune"] == "phu-linh"
    assert (await _get(web, "/api/v1/cameras/summary?district=bad!", h))[0] == 400


async def test_stream_sends_only_the_types_asked_for_and_summary_deltas_in_scope(web: WebEnv) -> None:
    _seed(web)
    web.add_user("cs", "police", district="soc-son")
    h = _token(web, "cs")
    resp = await web.client.get("/api/v1/events?cameras=false&types=summary", headers=h)
    name, hello = await read_event(resp)
    assert name == "hello" and hello["cameras"] is None
    assert [a["commune"] for a in hello["summary"]["communes"]] == ["tien-duoc", "phu-linh"]
    assert web.events.subscribers == 1  # subscribed before hello was read
    assert web.events.wants("summary") and not web.events.wants("camera", "soc-son", "phu-linh")
    counts = {"ok": 3, "problem": 0, "offline": 0, "stale": 0, "unknown": 0}
    web.events.publish(
        {
            "type": "camera",
            "camera": {"key": "soc-son/phu-linh/a", "district": "soc-son", "commune": "phu-linh"},
        }
    )
    web.events.publish(
        {
            "type": "summary",
            "epoch": hello["summary"]["epoch"],
            "from": 1,
            "version": 9,
            "communes": [
                {"district": "dong-anh", "commune": "uy-no", "counts": counts, "total": 3},
                {"district": "soc-son", "commune": "phu-linh", "counts": counts, "total": 3},
            ],
        }
    )
    name, ev = await read_event(resp)  # the camera event never reached this stream
    assert name == "summary" and [a["commune"] for a in ev["communes"]] == ["phu-linh"]  # dong-anh cut
    resp.close()
    r = await web.client.get("/api/v1/events?types=summary,bogus", headers=h)
    assert r.status == 400 and "'types'" in (await r.json())["error"]["message"]


async def test_agent_and_speaker_lists_page_by_cursor(web: WebEnv) -> None:
    with web.db.session() as s, s.begin():
        for i in range(3):
            s.add(
                Agent(
                    key=f"soc-son/phu-linh/box-{i}", district="soc-son", commune="phu-linh", slug=f"box-{i}"
                )
            )
        for slug, village in [("loa-1", None), ("loa-2", "thon-a"), ("loa-3", "thon-a")]:
            s.add(Speaker(key=f"soc-son/phu-linh/{slug}", district="soc-son", commune="phu-linh", slug=slug,
                          village=village))  # fmt: skip
    web.add_user("admin1", "admin")
    h = _token(web, "admin1")
    _, _, a1 = await _get(web, "/api/v1/agents?limit=2", h)
    _, _, a2 = await _get(web, f"/api/v1/agents?limit=2&cursor={a1['next_cursor']}", h)
    assert [a["id"] for a in a1["items"] + a2["items"]] == ["box-0", "box-1", "box-2"]
    assert a2["next_cursor"] is None
    _, _, s1 = await _get(web, "/api/v1/speakers?limit=2", h)
    _, _, s2 = await _get(web, f"/api/v1/speakers?limit=2&cursor={s1['next_cursor']}", h)
    assert [x["id"] for x in s1["speakers"] + s2["speakers"]] == ["loa-1", "loa-2", "loa-3"]
    assert s1["total"] == 3 and s2["next_cursor"] is None
    assert (await _get(web, f"/api/v1/speakers?cursor={a1['next_cursor']}", h))[0] == 422  # another list's
    assert (await _get(web, "/api/v1/speakers?cursor=no+cursor", h))[0] == 400  # not shaped like one


def test_summary_json_is_summary_dict_encoded() -> None:
    from hub.core.camera_views import CameraViews
    from hub.web.api.cameras import summary_dict, summary_json

    v = CameraViews()
    for key, st in [("d1/a/1", "ok"), ("d1/b/1", "offline"), ("d2/a/1", "problem"), ("d2/a/2", "stale")]:
        d, c, slug = key.split("/")
        v.put({"key": key, "district": d, "commune": c, "id": slug, "name": None, "status": st})
    names = {("d1", ""): "Huyện Một", ("d1", "b"): "Xã Bê"}
    assert json.loads(summary_json(v, lambda d, c: True, names)) == summary_dict(v, lambda d, c: True, names)
    v.put({"key": "d1/a/1", "district": "d1", "commune": "a", "id": "1", "name": None, "status": "offline"})
    assert json.loads(summary_json(v, lambda d, c: True, names)) == summary_dict(v, lambda d, c: True, names)
