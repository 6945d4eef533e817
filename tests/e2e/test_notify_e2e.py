"""End to end with the real broker and hub: the alert engine's notices reach the fake Zalo group once."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from devtools.fakezalo import FakeZalo
from hub.alerts.config import AlertsConfig
from hub.compose import Hub, HubConfig
from tests.fixtures_hub import Publisher, started_hub, wait_for
from tests.notify_support import fake, notify_config

__all__ = ["fake"]
D, C = "yen_dinh", "dinh_long"
CAMS = [f"cam-{i:02d}" for i in range(1, 13)]


def jpeg() -> bytes:
    import cv2
    import numpy as np

    ok, buf = cv2.imencode(".jpg", np.full((36, 64, 3), 90, np.uint8))
    assert ok
    return bytes(buf)


def health(seq: int, online: bool) -> dict[str, Any]:
    extra: dict[str, Any] = {} if online else {"problems": ["unreachable"], "reason": "kết nối bị từ chối"}
    return {"ts": time.time(), "seq": seq, "online": online, "agent": "box-1", "boot": "b1", **extra}


@pytest.fixture
async def zalo_hub(hub_config: HubConfig, fake: FakeZalo) -> AsyncIterator[Hub]:
    alerts = AlertsConfig.model_validate(
        {
            "eval_interval_s": 0.2,
            "startup_grace_s": 0,
            "rules": {"camera_offline": {"group_wait_s": 1, "group_interval_s": 0, "clear_s": 0}},
        }
    )
    cfg = hub_config.model_copy(update={"notify": notify_config(fake), "alerts": alerts})
    async with started_hub(cfg) as h:
        yield h


async def test_twelve_cameras_down_is_one_message_with_snapshot_and_one_resolved(
    zalo_hub: Hub, publisher: Publisher, fake: FakeZalo
) -> None:
    publisher.publish(
        f"ops/v1/{D}/{C}/edge/box-1/status", {"state": "online", "ts": time.time(), "boot": "b1"}, retain=True
    )
    for cam in CAMS:
        publisher.publish(f"ops/v1/{D}/{C}/camera/{cam}/health", health(0, True))
    publisher.publish(
        f"ops/v1/{D}/{C}/camera/cam-01/snapshot", jpeg(), retain=True, user_props={"ts": str(time.time())}
    )
    await wait_for(lambda: len(zalo_hub.store.cameras) == 12, what="cameras known")
    await zalo_hub.flush()  # the snapshot is in SQL before the alert needs it

    for cam in CAMS:
        publisher.publish(f"ops/v1/{D}/{C}/camera/{cam}/health", health(1, False))
    await wait_for(lambda: fake.messages("oa"), within=20, what="the grouped message")
    [msg] = fake.messages("oa")
    assert msg.target == "g-police" and msg.attachment_id is not None
    assert "12 camera, từ " in msg.text and all(f"• {cam}" in msg.text for cam in CAMS)
    print(msg.text)

    for cam in CAMS:
        publisher.publish(f"ops/v1/{D}/{C}/camera/{cam}/health", health(2, True))
    await wait_for(lambda: len(fake.messages("oa")) == 2, within=20, what="the resolved message")
    resolved = fake.messages("oa")[1]
    assert resolved.text.startswith("✅ [Đã khắc phục] Camera đã kết nối lại")
    print(resolved.text)
    await zalo_hub.flush()
    assert len(fake.messages()) == 2
