"""A stolen box (its broker account and its place in Định Long) against a real Mosquitto and a real hub with the
deployment's defaults: what it tries, that it does no harm, and that each refusal is counted."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

from sqlalchemy import update

from devtools.services import Service
from hub.compose import Hub, open_database
from hub.core.db import Camera
from tests.fixtures_hub import Publisher, make_hub_config, started_hub, wait_for
from tests.hub.core.test_hub_ingest import JPEG
from tests.security.conftest import HOME, NEIGHBOUR, OTHER, STOLEN, D, health, status, topic

CAM_DL, CAM_DT = f"{D}/{HOME}/cam-dl", f"{D}/{OTHER}/cam-dt"


async def test_a_health_report_dated_2099_freezes_nothing(
    strict_hub: Hub, two_boxes: tuple[Publisher, Publisher]
) -> None:
    stolen, _ = two_boxes
    h = strict_hub
    stolen.publish(topic(HOME, "camera", "cam-dl", "health"), health(STOLEN, 1, ts=4_070_908_800.0))  # 2099
    snap_2099 = {"ts": "4070908800", "agent": STOLEN}
    stolen.publish(topic(HOME, "camera", "cam-dl", "snapshot"), JPEG, retain=True, user_props=snap_2099)
    await wait_for(lambda: h.stats.rejected["future_ts"] == 2, what="both refused as from the future")
    # The real box's next report (a problem) is applied: the camera is not frozen at "ok".
    stolen.publish(topic(HOME, "camera", "cam-dl", "health"), health(STOLEN, 2, problems=["black"]))
    await wait_for(lambda: h.store.cameras[CAM_DL].status == "problem", what="the real report applied")
    assert h.store.cameras[CAM_DL].last_ts < time.time() + 5


async def test_a_future_time_stored_by_an_older_hub_is_forgotten_at_start(
    tmp_path: Path, mosquitto: Service
) -> None:
    cfg = make_hub_config(tmp_path, mosquitto.port, None, legacy_reports=False, max_age_s=30 * 86400.0)
    box = Publisher(mosquitto.port)
    base = topic(HOME, "edge", STOLEN, "status")
    async with started_hub(cfg) as h:
        box.publish(base, status(inventory=[{"id": "cam-dl", "commune": HOME}]), retain=True)
        box.publish(topic(HOME, "camera", "cam-dl", "health"), health(STOLEN, 0))
        await wait_for(lambda: h.store.cameras.get(CAM_DL) and h.store.cameras[CAM_DL].status == "ok")
        await h.flush()
    # What the attack left in the database before this hub refused it.
    db = open_database(cfg.database.url)
    with db.session() as s, s.begin():
        s.execute(update(Camera).where(Camera.key == CAM_DL).values(last_ts=datetime(2099, 1, 1)))
    db.close()
    async with started_hub(cfg) as h2:
        assert h2.store.cameras[CAM_DL].last_ts is None
        box.publish(topic(HOME, "camera", "cam-dl", "health"), health(STOLEN, 1, problems=["frozen"]))
        await wait_for(lambda: h2.store.cameras[CAM_DL].status == "problem", what="real reports apply again")
    box.close()


async def test_another_communes_cameras_and_boxes_are_out_of_reach(
    strict_hub: Hub, two_boxes: tuple[Publisher, Publisher]
) -> None:
    stolen, _ = two_boxes
    h = strict_hub
    before = dict(h.stats.rejected)
    # A report about the neighbour's camera, in its own name and in the honest box's name it cannot prove
    # beyond the topic: the first is refused; the camera stays the neighbour's.
    stolen.publish(
        topic(OTHER, "camera", "cam-dt", "health"), health(STOLEN, 5, online=False, problems=["unreachable"])
    )
    # A new camera in the other commune, and one with no box named at all.
    stolen.publish(topic(OTHER, "camera", "ghost", "health"), health(STOLEN, 6))
    stolen.publish(topic(OTHER, "camera", "ghost2", "health"), {"ts": time.time(), "seq": 7, "online": True})
    stolen.publish(topic(OTHER, "camera", "ghost3", "health"), health("invented-box", 8))
    # A snapshot of the neighbour's camera, and the box itself turning up in another district.
    stolen.publish(
        topic(OTHER, "camera", "cam-dt", "snapshot"), JPEG, retain=True, user_props={"agent": STOLEN}
    )
    stolen.publish(
        f"ops/v1/tho_xuan/xuan_lai/edge/{STOLEN}/status",
        status(inventory=[{"id": "x", "commune": "xuan_lai"}]),
    )
    want = {"not_assigned": 2, "outside_area": 1, "no_agent": 1, "unknown_agent": 1, "agent_elsewhere": 1}
    await wait_for(
        lambda: all(h.stats.rejected[k] - before.get(k, 0) == n for k, n in want.items()),
        what=f"refusals {want}",
    )
    assert (
        h.store.cameras[CAM_DT].status == "ok"
        and h.store.cameras[CAM_DT].agent_key == f"{D}/{OTHER}/{NEIGHBOUR}"
    )
    assert not any(k.endswith(("/ghost", "/ghost2", "/ghost3")) for k in h.store.cameras)
    assert f"tho_xuan/xuan_lai/{STOLEN}" not in h.store.agents
    assert h.store.cameras[CAM_DT].snapshot_ts is None


async def test_a_box_renames_and_registers_nothing_outside_its_commune(
    strict_hub: Hub, two_boxes: tuple[Publisher, Publisher]
) -> None:
    stolen, _ = two_boxes
    h = strict_hub
    inventory = [
        {"id": "cam-dl", "commune": HOME, "name": "Cổng UBND (đổi tên)"},  # its own, already named
        {"id": "cam-dt", "commune": OTHER, "name": "‮gnaT hniĐ ợhC"},  # the neighbour's
        {"id": "cam-new", "commune": OTHER, "name": "Camera giả"},  # a new one next door
        {"id": "cam-new-dl", "commune": HOME, "name": "Cổng\u202e trường\x07 học"},  # a new one at home
    ]
    stolen.publish(topic(HOME, "edge", STOLEN, "status"), status(inventory=inventory), retain=True)
    await wait_for(lambda: f"{D}/{HOME}/cam-new-dl" in h.store.cameras, what="its own new camera")
    assert h.stats.rejected["inventory_not_assigned"] == 1 and h.stats.rejected["inventory_outside_area"] == 1
    assert h.store.cameras[CAM_DT].name == "Chợ Định Tân"  # not renamed
    assert h.store.cameras[CAM_DL].name == "Cổng UBND Định Long"  # a name, once set, is an administrator's
    assert f"{D}/{OTHER}/cam-new" not in h.store.cameras
    assert h.store.cameras[f"{D}/{HOME}/cam-new-dl"].name == "Cổng trường học"  # cleaned of bidi and bell


async def test_a_camera_an_administrator_assigns_next_door_reports_through_its_box(
    strict_hub: Hub, two_boxes: tuple[Publisher, Publisher]
) -> None:
    """The legitimate case the rules must leave open: a CSV import assigns a camera of Định Tân to the box of
    Định Long, under the key an import gives a box it has not seen (its slug in the camera's commune)."""
    stolen, _ = two_boxes
    h = strict_hub
    cam = h.store.camera(D, OTHER, "cam-chung")
    cam.agent_key = f"{D}/{OTHER}/{STOLEN}"
    stolen.publish(topic(OTHER, "camera", "cam-chung", "health"), health(STOLEN, 9))
    await wait_for(lambda: h.store.cameras[f"{D}/{OTHER}/cam-chung"].status == "ok", what="accepted")
    assert cam.agent_key == f"{D}/{HOME}/{STOLEN}"  # settled on the real box
    assert f"{D}/{OTHER}/{STOLEN}" not in h.store.agents  # and no second box invented
