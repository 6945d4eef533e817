"""Device runtime: a queue file torn beyond SQLite's own recovery (device_runtime/queue_salvage.py).

Found by the edge power-loss drill (devtools/drills): a database file cut short made every start of the agent
fail, so the box never sent anything again. Now the readable messages are kept, in order, in a fresh file.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from device_runtime.diskqueue import DiskOutbox, DiskQueueError
from device_runtime.outbox import OutMessage


async def _filled(path: Path, n: int) -> None:
    box = DiskOutbox(path, max_messages=100_000, max_bytes=1 << 30)
    for i in range(n):
        await box.put(OutMessage(f"t/{i}", bytes([i % 256]) * 300))
    box.settle()
    box.close()  # a clean close checkpoints the log into the main file: all of it is in q.sqlite now


async def test_a_database_file_cut_short_keeps_what_can_be_read_in_order(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite"
    await _filled(path, 2000)
    os.truncate(path, os.stat(path).st_size // 2 + 123)  # the tail of the file never reached the card

    box = DiskOutbox(path, max_messages=100_000, max_bytes=1 << 30)
    assert box.salvaged is not None and 0 < box.salvaged < 2000
    topics = []
    while (entry := box.next_unsent()) is not None:
        topics.append(entry.message.topic)
    assert topics == [f"t/{i}" for i in range(len(topics))]  # a prefix, in order, nothing invented
    assert len(topics) == box.salvaged
    kept = [p.name for p in os.scandir(tmp_path) if p.name.startswith("q.sqlite.damaged-")]
    assert kept, "the damaged file is kept for a post-mortem"
    await box.put(OutMessage("t/new", b"x"))  # and the queue works on
    box.settle()
    box.close()
    again = DiskOutbox(path, max_messages=100_000, max_bytes=1 << 30)
    assert again.salvaged is None and len(again) == len(topics) + 1
    again.close()


async def test_a_torn_log_tail_is_sqlites_own_business(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite"
    box = DiskOutbox(path, max_messages=100_000, max_bytes=1 << 30)
    for i in range(50):
        await box.put(OutMessage(f"t/{i}", b"y" * 300))
    box.settle()
    # The power cut: the files as they are on the card at this moment, the last log frame half written.
    crashed = tmp_path / "after"
    crashed.mkdir()
    for name in ("q.sqlite", "q.sqlite-wal"):
        shutil.copy(tmp_path / name, crashed / name)
    wal = crashed / "q.sqlite-wal"
    os.truncate(wal, wal.stat().st_size - 100)
    box.close()
    again = DiskOutbox(crashed / "q.sqlite", max_messages=100_000, max_bytes=1 << 30)
    assert again.salvaged is None and 0 < len(again) < 50  # the torn commit is gone, the rest is there
    again.close()


def test_a_file_that_is_not_sqlites_is_still_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not a database" * 100)
    with pytest.raises(DiskQueueError, match="junk.sqlite"):
        DiskOutbox(junk, 100, 1 << 20)
