"""The contract as a vendor meets it: messages sent with the real `mosquitto_pub` CLI, good and bad."""

from __future__ import annotations

import json
import logging
import subprocess
import time
from pathlib import Path

import pytest

from devtools.services import Service, require
from hub.compose import Hub
from tests.fixtures_hub import Publisher, wait_for
from tests.hub.core.test_hub_ingest import JPEG

D, C = "yen_dinh", "dinh_long"


def mosquitto_pub(port: int, topic: str, *args: str) -> None:
    cmd = [require("mosquitto_pub"), "-h", "127.0.0.1", "-p", str(port), "-q", "1", "-t", topic, *args]
    subprocess.run(cmd, check=True, timeout=30, capture_output=True)


async def test_mosquitto_pub_as_in_the_protocol_doc(hub: Hub, mosquitto: Service, tmp_path: Path) -> None:
    now = int(time.time())
    mosquitto_pub(
        mosquitto.port,
        f"ops/v1/{D}/{C}/edge/box-9/status",
        "-r",
        "-m",
        json.dumps({"state": "online", "ts": now, "version": "vendor-1.2"}),
    )
    mosquitto_pub(
        mosquitto.port,
        f"ops/v1/{D}/{C}/camera/cam-77/health",
        "-m",
        json.dumps({"ts": now, "seq": 0, "online": True, "agent": "box-9", "fps": 12.0, "problems": []}),
    )
    picture = tmp_path / "picture.jpg"
    picture.write_bytes(JPEG)
    mosquitto_pub(
        mosquitto.port,
        f"ops/v1/{D}/{C}/camera/cam-77/snapshot",
        "-r",
        "-V",
        "mqttv5",
        "-D",
        "publish",
        "user-property",
        "ts",
        str(now),
        "-f",
        str(picture),
    )
    await wait_for(lambda: hub.stats.accepted == 3, what="3 accepted messages")
    assert hub.stats.snapshot()["rejected_total"] == 0
    cam = hub.store.cameras[f"{D}/{C}/cam-77"]
    assert cam.status == "ok" and cam.agent_key == f"{D}/{C}/box-9" and cam.snapshot_ts == now
    assert hub.store.agents[f"{D}/{C}/box-9"].state == "online"


BAD: list[tuple[str, str, bytes, str]] = [
    ("not json", f"ops/v1/{D}/{C}/camera/c1/health", b"online=1", "not_json"),
    ("json array", f"ops/v1/{D}/{C}/camera/c1/health", b"[1, 2]", "not_object"),
    (
        "wrong type",
        f"ops/v1/{D}/{C}/camera/c1/health",
        b'{"ts": 1763880000, "seq": "first", "online": true}',
        "invalid",
    ),
    (
        "unknown field",
        f"ops/v1/{D}/{C}/camera/c1/health",
        b'{"ts": 1763880000, "seq": 1, "online": true, "temp": 40}',
        "invalid",
    ),
    ("clock at 1970", f"ops/v1/{D}/{C}/camera/c1/health", b'{"ts": 0, "seq": 1, "online": true}', "invalid"),
    ("upper-case slug", f"ops/v1/{D}/Dinh_Long/camera/c1/health", b'{"ts": 1763880000}', "bad_topic"),
    ("empty level", f"ops/v1/{D}//camera/c1/health", b'{"ts": 1763880000}', "bad_topic"),
    ("not a jpeg", f"ops/v1/{D}/{C}/camera/c1/snapshot", b"GIF89a....", "not_jpeg"),
    ("cut-off jpeg", f"ops/v1/{D}/{C}/camera/c1/snapshot", JPEG[: len(JPEG) // 2], "bad_jpeg"),
    (
        "bad status",
        f"ops/v1/{D}/{C}/edge/box-1/status",
        b'{"state": "sleeping", "ts": 1763880000}',
        "invalid",
    ),
]


async def test_malformed_messages_rejected_by_reason_good_traffic_flows(
    hub: Hub, publisher: Publisher, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="hub.ingest")
    good = f"ops/v1/{D}/{C}/camera/good/health"
    expected: dict[str, int] = {}
    for i, (_what, topic, payload, reason) in enumerate(BAD):
        publisher.publish(topic, payload)
        publisher.publish(good, {"ts": time.time(), "seq": i, "online": True})
        expected[reason] = expected.get(reason, 0) + 1
    publisher.publish(f"ops/v1/{D}/{C}/camera/c1/health", b"x" * (10 * 1024 * 1024))  # 10 MB
    expected["too_large"] = 1
    publisher.publish(
        f"ops/v1/{D}/{C}/camera/c1/snapshot", JPEG, user_props={"ts": "yesterday"}
    )  # metadata that is not a number
    expected["invalid_meta"] = 1
    publisher.publish(good, {"ts": time.time(), "seq": 99, "online": True})

    await wait_for(lambda: hub.stats.received == 2 * len(BAD) + 3, what="all messages received")
    await wait_for(lambda: hub.stats.accepted == len(BAD) + 1, what="good traffic accepted")
    assert dict(hub.stats.rejected) == expected
    assert hub.store.cameras[f"{D}/{C}/good"].last_seq == 99
    assert f"{D}/{C}/c1" not in hub.store.cameras  # nothing registered from bad messages
    # Logged with the topic, one line per reason within the rate-limit window.
    lines = [r.getMessage() for r in caplog.records if r.name == "hub.ingest"]
    assert any(f"ops/v1/{D}/Dinh_Long/camera/c1/health" in m and "bad_topic" in m for m in lines)
    assert len([m for m in lines if "invalid:" in m]) == 1


async def test_flood_of_bad_messages_logs_little(
    hub: Hub, publisher: Publisher, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="hub.ingest")
    for _ in range(300):
        publisher.client.publish(f"ops/v1/{D}/{C}/camera/c1/health", b"garbage", qos=1)
    publisher.publish(f"ops/v1/{D}/{C}/camera/c2/health", {"ts": time.time(), "seq": 0, "online": True})
    await wait_for(lambda: hub.stats.accepted == 1 and hub.stats.rejected["not_json"] == 300)
    assert len([r for r in caplog.records if r.name == "hub.ingest"]) == 1
