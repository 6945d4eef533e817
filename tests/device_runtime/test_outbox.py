"""Device runtime: the store-and-forward outbox and the reconnect backoff (pure parts)."""

from __future__ import annotations

import logging

import pytest

from device_runtime.link import backoff_delay
from device_runtime.outbox import MemoryOutbox, OutMessage


def msg(i: int, size: int = 10, key: str | None = None) -> OutMessage:
    return OutMessage(f"t/{i}", bytes([i % 256]) * size, replace_key=key)


def drain(box: MemoryOutbox) -> list[str]:
    out = []
    while (entry := box.next_unsent()) is not None:
        out.append(entry.message.topic)
    return out


def test_messages_leave_in_order_and_only_when_acknowledged() -> None:
    box = MemoryOutbox(max_messages=100, max_bytes=1 << 20)
    for i in range(5):
        box.put_now(msg(i))
    first, second = box.next_unsent(), box.next_unsent()
    assert first is not None and second is not None
    assert [first.message.topic, second.message.topic] == ["t/0", "t/1"]
    box.ack(first.id)
    assert len(box) == 4
    # The connection drops: what was sent but not acknowledged goes again, before the rest, in order.
    box.rewind()
    assert drain(box) == ["t/1", "t/2", "t/3", "t/4"]
    assert len(box) == 4
    box.ack(first.id)  # a late duplicate acknowledgement changes nothing
    assert len(box) == 4


def test_full_outbox_drops_oldest_unsent_and_counts(caplog: pytest.LogCaptureFixture) -> None:
    box = MemoryOutbox(max_messages=10, max_bytes=1 << 20)
    box.put_now(msg(0))
    on_wire = box.next_unsent()
    assert on_wire is not None
    with caplog.at_level(logging.WARNING, logger="device_runtime.outbox"):
        for i in range(1, 13):
            box.put_now(msg(i))
    assert len(box) == 10 and box.dropped == 3
    assert "dropped" in caplog.text
    box.rewind()
    # The message on the wire may already be at the broker: it is kept; the oldest unsent ones went.
    assert drain(box) == ["t/0", *[f"t/{i}" for i in range(4, 13)]]


def test_byte_bound() -> None:
    box = MemoryOutbox(max_messages=1000, max_bytes=100)
    for i in range(10):
        box.put_now(msg(i, size=27))  # 30 bytes each with the topic
    assert box.bytes <= 100 and len(box) == 3 and box.dropped == 7
    assert drain(box) == ["t/7", "t/8", "t/9"]


def test_newer_snapshot_replaces_an_unsent_one() -> None:
    box = MemoryOutbox(max_messages=100, max_bytes=1 << 20)
    box.put_now(msg(1, key="snap/cam1"))
    box.put_now(msg(2))
    box.put_now(msg(3, key="snap/cam1"))
    assert box.replaced == 1
    assert drain(box) == ["t/2", "t/3"]
    # Once on the wire, a snapshot is not withdrawn; the next one queues behind it.
    box.put_now(msg(4, key="snap/cam1"))
    box.rewind()
    sent = box.next_unsent()
    assert sent is not None and sent.message.topic == "t/2"
    box.put_now(msg(5, key="snap/cam1"))
    assert drain(box) == ["t/3", "t/5"]


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    assert backoff_delay(0, 1.0, 60.0, 0.0) == 0.5
    assert backoff_delay(0, 1.0, 60.0, 0.999) == pytest.approx(1.0, abs=0.01)
    assert backoff_delay(3, 1.0, 60.0, 0.0) == 4.0
    assert backoff_delay(3, 1.0, 60.0, 0.5) == 6.0
    assert backoff_delay(50, 1.0, 60.0, 1.0) == 60.0
    assert backoff_delay(10_000, 2.0, 30.0, 0.0) == 15.0
