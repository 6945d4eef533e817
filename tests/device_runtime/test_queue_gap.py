"""Device runtime: a full disk costs the oldest messages, not the newest, and the gap they leave is reported as a
range of device time (device_runtime/queue_gap.py). Found by the edge disk-full drill (devtools/drills)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from device_runtime.diskqueue import DiskOutbox
from device_runtime.outbox import OutMessage
from device_runtime.queue_gap import Gap, disk_full, payload_ts


def health(ts: float) -> OutMessage:
    return OutMessage("ops/v1/x/y/camera/c/health", json.dumps({"ts": ts, "seq": int(ts)}).encode())


def test_payload_time_and_the_full_disk_test() -> None:
    assert payload_ts(b'{"ts": 1700000000.5}') == 1700000000.5
    assert payload_ts(b'{"ts": true}') is None and payload_ts(b"\xff") is None and payload_ts(b"[1]") is None
    assert disk_full(sqlite3.OperationalError("database or disk is full"))
    assert disk_full(OSError(28, "No space left on device"))
    assert not disk_full(sqlite3.OperationalError("database is locked"))


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


async def test_a_full_disk_drops_the_oldest_unsent_and_keeps_the_new(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    box = DiskOutbox(tmp_path / "q.sqlite", max_messages=1000, max_bytes=1 << 20)
    for i in range(40):
        await box.put(health(1_700_000_000.0 + i))
    real_write = box._write
    calls = []

    def full_once(messages: list[OutMessage], deletes: list[int], dropped: int) -> list[int]:
        calls.append(len(deletes))
        if len(calls) == 1:
            raise sqlite3.OperationalError("database or disk is full")
        return real_write(messages, deletes, dropped)

    monkeypatch.setattr(box, "_write", full_once)
    await box.put(health(1_700_000_500.0))
    assert calls == [0, 16], "the retry deletes the 16 oldest unsent messages in the same transaction"
    assert box.dropped == 16 and box.write_failures == 0
    assert (box.gap.first, box.gap.last) == (1_700_000_000.0, 1_700_000_015.0)
    kept = []
    while (entry := box.next_unsent()) is not None:
        kept.append(payload_ts(entry.message.payload))
    assert kept == [1_700_000_000.0 + i for i in range(16, 40)] + [1_700_000_500.0]
    box.close()
