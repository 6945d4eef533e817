"""Snapshots on disk: which ones a camera keeps (pure, fixed times), atomic files and pruning, and the whole
path from MQTT through the hub to the files, the SQL index and the API."""

from __future__ import annotations

import hashlib
import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from devtools.services import Service
from hub.compose import Hub, HubConfig
from hub.core.db import Snapshot
from hub.core.snapshots import SnapshotStore, keep_set
from tests.fixtures_hub import Publisher, wait_for
from tests.hub.core.test_hub_ingest import JPEG

H = 3_600_000
NOW = int(datetime(2026, 11, 20, 12, 30, tzinfo=UTC).timestamp() * 1000)


def test_keeps_the_newest_and_one_an_hour() -> None:
    every_5_min = [NOW - i * 300_000 for i in range(12 * 30)]  # 30 hours of snapshots
    keep = keep_set(every_5_min, NOW, keep_last=5, hourly_hours=24)
    newest = set(every_5_min[:5])
    assert newest <= keep
    hourly = keep - newest
    # the newest of each clock hour within the last 24 h: 12:30 (already among the newest), 11:55, …
    assert len(keep) == 5 + 24 and all((t + 300_000) % H == 0 for t in hourly)
    assert min(keep) >= NOW - 24 * H
    assert keep_set(every_5_min, NOW, keep_last=3, hourly_hours=0) == set(every_5_min[:3])
    # a camera that stopped sending long ago keeps its last ones
    old = [NOW - 100 * H - i * 300_000 for i in range(20)]
    assert keep_set(old, NOW, 5, 24) == set(old[:5])
    assert keep_set([], NOW, 5, 24) == set()


def test_store_writes_atomically_and_prunes(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path / "snaps", keep_last=2, hourly_hours=2)
    key = "yen_dinh/dinh_long/cam-1"
    now = NOW / 1000
    stored = [store.put(key, JPEG + bytes([i]), now - 3600 * 3 + i * 1200, 16, 8, now) for i in range(10)]
    last = stored[-1]
    assert last.path == f"{key}/{round(last.ts * 1000)}.jpg" and last.size == len(JPEG) + 1
    assert last.sha256 == hashlib.sha256(JPEG + bytes([9])).hexdigest()
    assert store.read(last.path) == JPEG + bytes([9])
    stamps = store.stamps(key)
    assert stamps == sorted(keep_set([round(s.ts * 1000) for s in stored], NOW, 2, 2), reverse=True)
    assert len(stamps) < 10 and stamps[0] == round(last.ts * 1000)
    assert store.read(stored[0].path) is None  # pruned
    assert store.read_at(key, stamps[-1]) is not None
    # nothing but the files: no temporary left behind; a crash's old temporary goes at the next write
    folder = store.folder(key)
    assert not [n for n in os.listdir(folder) if not n.endswith(".jpg")]
    crash = folder / ".123.jpg.abc.tmp"
    crash.write_bytes(b"half")
    os.utime(crash, (now - 7200, now - 7200))
    store.put(key, JPEG, now + 1, None, None, now + 1)
    assert not crash.exists()
    # keys never leave the store's folder
    for bad in ("../../etc/x", "a/b", "A/b/c", "a/b/../c"):
        with pytest.raises(ValueError):
            store.folder(bad)
    assert store.read("../../../etc/passwd") is None
    store.remove_camera(key)
    assert store.stamps(key) == []


async def test_snapshots_from_mqtt_to_files_index_and_api(
    hub_config: HubConfig, mosquitto: Service, tmp_path: Path
) -> None:
    cfg = hub_config.model_copy(
        update={"snapshots": hub_config.snapshots.model_copy(update={"keep_last": 2, "hourly_hours": 3})}
    )
    hub = Hub(cfg)
    await hub.start()
    pub = Publisher(mosquitto.port)
    topic = "ops/v1/yen_dinh/dinh_long/camera/cam-1/snapshot"
    key = "yen_dinh/dinh_long/cam-1"
    t0 = time.time() - 5 * 3600
    sent = []
    try:
        for i in range(11):  # every 30 minutes of device time over five hours
            ts = t0 + i * 1800
            data = JPEG[:-2] + bytes([i]) + JPEG[-2:]
            pub.publish(topic, data, user_props={"ts": f"{ts:.3f}"})
            sent.append((round(ts * 1000), data))
            await wait_for(lambda n=i + 1: hub.stats.snapshots == n)
            await hub.flush()
        store = SnapshotStore.for_config(cfg)
        kept = store.stamps(key)
        assert kept == sorted(keep_set([ms for ms, _ in sent], int(time.time() * 1000), 2, 3), reverse=True)
        assert 2 < len(kept) < 11
        row = await hub.db.run(lambda s: s.get(Snapshot, key))
        assert row is not None and row.path == f"{key}/{sent[-1][0]}.jpg"
        assert store.read(row.path) == sent[-1][1] and row.size == len(sent[-1][1])
        assert dict(sent)[kept[-1]] == store.read_at(key, kept[-1])
    finally:
        pub.close()
        await hub.stop()
