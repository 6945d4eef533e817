"""Device runtime: the disk-backed store-and-forward queue (device_runtime/diskqueue.py) on a real SQLite file.

Crash safety is checked with a real `kill -9` of a child process that is writing; order, bounds, drop-oldest with
a persisted gap count, snapshots replacing each other, and acknowledgements surviving a reopen.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from device_runtime.config import OutboxSection
from device_runtime.diskqueue import DiskOutbox, DiskQueueError, open_outbox
from device_runtime.outbox import MemoryOutbox, OutMessage

REPO = Path(__file__).resolve().parents[2]


def msg(i: int, size: int = 10, key: str | None = None) -> OutMessage:
    return OutMessage(
        f"t/{i}",
        bytes([i % 256]) * size,
        qos=1,
        retain=key is not None,
        user_properties=(("seq", str(i)),) if key else (),
        replace_key=key,
    )


def drain(box: DiskOutbox) -> list[str]:
    out = []
    while (entry := box.next_unsent()) is not None:
        out.append(entry.message.topic)
    return out


async def test_messages_survive_a_reopen_in_order_with_their_properties(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite"
    box = DiskOutbox(path, max_messages=100, max_bytes=1 << 20)
    for i in range(5):
        await box.put(msg(i))
    await box.put(msg(9, key="snap/a"))
    first = box.next_unsent()
    assert first is not None and first.message.topic == "t/0"
    box.ack(first.id)
    box.close()

    again = DiskOutbox(path, max_messages=100, max_bytes=1 << 20)
    assert len(again) == 5 and again.recovered == 5
    entries = []
    while (e := again.next_unsent()) is not None:
        entries.append(e)
    assert [e.message for e in entries] == [msg(1), msg(2), msg(3), msg(4), msg(9, key="snap/a")]
    # Ids keep growing across reopenings: a late PUBACK for an old id can never hit a new message.
    await again.put(msg(10))
    last = again.next_unsent()
    assert last is not None and last.id > max(e.id for e in entries)
    again.close()


async def test_only_acknowledged_messages_leave_and_rewind_resends_in_order(tmp_path: Path) -> None:
    box = DiskOutbox(tmp_path / "q.sqlite", max_messages=100, max_bytes=1 << 20)
    for i in range(5):
        await box.put(msg(i))
    a, b = box.next_unsent(), box.next_unsent()
    assert a is not None and b is not None
    box.ack(a.id)
    box.rewind()
    assert drain(box) == ["t/1", "t/2", "t/3", "t/4"]
    box.ack(a.id)  # a duplicate acknowledgement changes nothing
    assert len(box) == 4
    box.close()


async def test_unwritten_acks_mean_a_resend_never_a_loss(tmp_path: Path) -> None:
    """Deletes are batched: a crash before they reach the file sends those messages again (hub drops repeats)."""
    path = tmp_path / "q.sqlite"
    box = DiskOutbox(path, max_messages=100, max_bytes=1 << 20)
    for i in range(3):
        await box.put(msg(i))
    sent = box.next_unsent()
    assert sent is not None
    box.ack(sent.id)
    # No close(): as if the process died here.
    again = DiskOutbox(path, max_messages=100, max_bytes=1 << 20)
    assert drain(again) == ["t/0", "t/1", "t/2"]
    again.close()
    box.close()


async def test_empty_queue_writes_its_acks_at_once(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite"
    box = DiskOutbox(path, max_messages=100, max_bytes=1 << 20)
    await box.put(msg(0))
    sent = box.next_unsent()
    assert sent is not None
    box.ack(sent.id)
    box.settle()  # the delete is handed to the writer thread, not waited for
    again = DiskOutbox(path, max_messages=100, max_bytes=1 << 20)
    assert len(again) == 0
    again.close()
    box.close()


async def test_full_queue_drops_oldest_unsent_counts_and_remembers_the_gap(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "q.sqlite"
    box = DiskOutbox(path, max_messages=10, max_bytes=1 << 20)
    await box.put(msg(0))
    on_wire = box.next_unsent()
    assert on_wire is not None
    with caplog.at_level(logging.WARNING, logger="device_runtime.diskqueue"):
        for i in range(1, 13):
            await box.put(msg(i))
    assert len(box) == 10 and box.dropped == 3
    assert "outbox full: dropped 1 oldest" in caplog.text
    box.rewind()
    # The message on the wire may already be at the broker: it stays; the oldest unsent ones went.
    expected = ["t/0", *[f"t/{i}" for i in range(4, 13)]]
    assert drain(box) == expected
    box.close()
    again = DiskOutbox(path, max_messages=10, max_bytes=1 << 20)
    assert again.dropped == 3 and again.dropped_now == 0
    assert drain(again) == expected
    again.rewind()  # the link dropped: all ten are unsent again, and the next message pushes out the oldest
    await again.put(msg(13))
    assert again.dropped == 4 and drain(again) == [*expected[1:], "t/13"]
    again.close()


async def test_byte_bound(tmp_path: Path) -> None:
    box = DiskOutbox(tmp_path / "q.sqlite", max_messages=1000, max_bytes=100)
    for i in range(10):
        await box.put(msg(i, size=27))  # 30 bytes each with the topic
    assert box.bytes <= 100 and len(box) == 3 and box.dropped == 7
    assert drain(box) == ["t/7", "t/8", "t/9"]
    box.close()


async def test_snapshots_keep_only_the_newest_per_camera_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite"
    box = DiskOutbox(path, max_messages=100, max_bytes=1 << 20)
    for i in range(50):
        await box.put(msg(i, size=1000, key="snap/cam1"))
        await box.put(msg(1000 + i))
        await box.put(msg(i + 100, size=1000, key="snap/cam2"))
    assert box.replaced == 98 and len(box) == 52
    box.close()
    again = DiskOutbox(path, max_messages=100, max_bytes=1 << 20)
    order = drain(again)
    assert order == [*[f"t/{1000 + i}" for i in range(49)], "t/49", "t/1049", "t/149"]
    # Once on the wire a snapshot is not withdrawn; the next one queues behind it.
    await again.put(msg(200, key="snap/cam1"))
    again.rewind()
    assert drain(again)[-3:] == ["t/1049", "t/149", "t/200"]
    again.close()


def test_open_outbox_follows_the_config(tmp_path: Path) -> None:
    assert isinstance(open_outbox(OutboxSection(), tmp_path), MemoryOutbox)
    box = open_outbox(OutboxSection(path=Path("state/q.sqlite")), tmp_path)
    assert isinstance(box, DiskOutbox) and box.path == tmp_path / "state" / "q.sqlite"
    box.close()
    not_a_queue = tmp_path / "junk.sqlite"
    not_a_queue.write_bytes(b"this is not a database" * 100)
    with pytest.raises(DiskQueueError, match="junk.sqlite"):
        DiskOutbox(not_a_queue, 100, 1 << 20)


WRITER = textwrap.dedent(
    """
    import sys
    from device_runtime.diskqueue import DiskOutbox
    from device_runtime.outbox import OutMessage

    import asyncio

    async def main() -> None:
        box = DiskOutbox(sys.argv[1], max_messages=1_000_000, max_bytes=1 << 30)
        i = 0
        while True:
            await box.put(OutMessage(f"t/{i}", i.to_bytes(4, "big") * 500))
            print(i, flush=True)  # only after put() returned: this message is on disk
            i += 1

    asyncio.run(main())
    """
)


def test_kill_9_while_writing_loses_nothing_that_was_written(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite"
    for _ in range(3):  # the kill lands at a different point each time
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        assert proc.stdout is not None
        before = DiskOutbox(path, 1_000_000, 1 << 30)
        start = len(before)
        before.close()
        confirmed = -1
        for line in proc.stdout:
            confirmed = int(line)
            if confirmed >= 150:
                break
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        # It may have confirmed more before the kill landed; a line cut by the kill confirms nothing.
        for line in proc.stdout:
            if line.endswith("\n"):
                confirmed = int(line)
        proc.stdout.close()

        box = DiskOutbox(path, 1_000_000, 1 << 30)
        numbers = []
        while (e := box.next_unsent()) is not None:
            numbers.append(int(e.message.topic[2:]))
            assert e.message.payload == numbers[-1].to_bytes(4, "big") * 500  # no torn payload
        box.close()
        mine = numbers[start:]
        # Every confirmed message is there, in order, with nothing in between missing; at most the one being
        # written when the kill came is extra (it may or may not have reached the file).
        assert mine[: confirmed + 1] == list(range(confirmed + 1))
        assert mine == list(range(len(mine))) and len(mine) <= confirmed + 2


async def test_a_full_disk_costs_the_message_not_the_agent(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "q.sqlite"
    box = DiskOutbox(path, max_messages=100_000, max_bytes=1 << 30)
    await box.put(msg(0))
    # SQLite's own size cap stands in for a full SD card: writes fail with SQLITE_FULL.
    pages = box._db.execute("PRAGMA page_count").fetchone()[0]
    box._db.execute(f"PRAGMA max_page_count = {pages}")
    with caplog.at_level(logging.ERROR, logger="device_runtime.diskqueue"):
        for i in range(1, 4):
            await box.put(msg(i, size=20_000))
    assert box.write_failures == 3 and box.dropped == 3 and len(box) == 1
    assert "cannot write a message" in caplog.text and "full" in caplog.text
    box._db.execute("PRAGMA max_page_count = 1073741823")
    await box.put(msg(4))
    assert drain(box) == ["t/0", "t/4"]
    box.close()
    again = DiskOutbox(path, max_messages=100_000, max_bytes=1 << 30)
    assert drain(again) == ["t/0", "t/4"] and again.dropped == 3  # the lost ones stay counted: a gap
    again.close()


async def test_messages_put_together_share_a_commit_and_keep_their_order(tmp_path: Path) -> None:
    """Group commit: puts that arrive while the writer is busy go to disk in one transaction, in call order,
    and none is sendable before its commit."""
    path = tmp_path / "q.sqlite"
    box = DiskOutbox(path, max_messages=1000, max_bytes=1 << 20)
    pending = [asyncio.ensure_future(box.put(msg(i))) for i in range(40)]
    assert box.next_unsent() is None and len(box) == 0  # nothing is queued before it is on disk
    await asyncio.gather(*pending)
    assert len(box) == 40 and 1 <= box.commits < 40
    assert drain(box) == [f"t/{i}" for i in range(40)]
    box.close()
    again = DiskOutbox(path, max_messages=1000, max_bytes=1 << 20)
    assert drain(again) == [f"t/{i}" for i in range(40)]
    again.close()
