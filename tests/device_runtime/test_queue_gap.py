"""Device runtime: a full disk costs the oldest messages, not the newest, and the gap they leave is reported as a
range of device time (device_runtime/queue_gap.py). Found by the edge disk-full drill (devtools/drills)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from device_runtime import diskqueue
from device_runtime.config import OutboxSection
from device_runtime.diskqueue import DiskOutbox, open_outbox
from device_runtime.outbox import OutMessage
from device_runtime.queue_gap import Gap, free_bytes, payload_ts


def health(ts: float) -> OutMessage:
    return OutMessage("ops/v1/x/y/camera/c/health", json.dumps({"ts": ts, "seq": int(ts)}).encode())


def test_payload_time_and_free_space() -> None:
    assert payload_ts(b'{"ts": 1700000000.5}') == 1700000000.5
    assert payload_ts(b'{"ts": true}') is None and payload_ts(b"\xff") is None and payload_ts(b"[1]") is None
    assert free_bytes(Path("/")) > 0 and free_bytes(Path("/no/such/folder")) > 1 << 60


async def test_drops_for_space_widen_the_gap_and_it_survives_a_reopen(tmp_path: Path) -> None:
    box = DiskOutbox(tmp_path / "q.sqlite", max_messages=10, max_bytes=1 << 20)
    for i in range(15):
        await box.put(health(1_700_000_000.0 + i))
    assert box.dropped == 5
    assert (box.gap.first, box.gap.last) == (1_700_000_000.0, 1_700_000_004.0)
    await box.put(health(1_700_000_100.0))  # the next write carries the drops and the gap to the file
    box.settle()
    box.close()
    again = DiskOutbox(tmp_path / "q.sqlite", max_messages=10, max_bytes=1 << 20)
    assert again.dropped == 6 and again.gap == Gap(1_700_000_000.0, 1_700_000_005.0)
    again.close()


async def test_below_the_free_space_floor_the_oldest_unsent_go_and_the_new_are_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    box = DiskOutbox(tmp_path / "q.sqlite", max_messages=1000, max_bytes=1 << 20, min_free_bytes=1 << 20)
    for i in range(40):
        await box.put(health(1_700_000_000.0 + i))
    assert box.dropped == 0
    per_message = box.bytes // 40
    # The disk now has 5 messages' worth less than the floor (statvfs of a filling SD card).
    monkeypatch.setattr(diskqueue, "free_bytes", lambda folder: (1 << 20) - 5 * per_message)
    await box.put(health(1_700_000_500.0))
    assert 5 <= box.dropped <= 7 and box.write_failures == 0
    assert box.gap.first == 1_700_000_000.0 and box.gap.last == 1_700_000_000.0 + box.dropped - 1
    kept = []
    while (entry := box.next_unsent()) is not None:
        kept.append(payload_ts(entry.message.payload))
    assert kept == [1_700_000_000.0 + i for i in range(box.dropped, 40)] + [1_700_000_500.0]
    box.close()


def test_the_floor_comes_from_the_config(tmp_path: Path) -> None:
    box = open_outbox(OutboxSection(path=Path("q.sqlite"), min_free_mb=3), tmp_path)
    assert isinstance(box, DiskOutbox) and box.min_free_bytes == 3 * 2**20
    box.close()
