"""The hub's InfluxDB spill file: kept across a restart, oldest first, bounded with the dropped points counted."""

from __future__ import annotations

from pathlib import Path

from hub.core.influx_spill import InfluxSpill
from hub.core.stats import HubStats


def batch(first: int, n: int) -> list[str]:
    return [f"m,t=a v={i}i {1_000_000 + i}" for i in range(first, first + n)]


async def test_spill_survives_a_restart_in_order(tmp_path: Path) -> None:
    stats = HubStats()
    spill = InfluxSpill(tmp_path / "spill.db", 1024**2, stats)
    await spill.put(batch(0, 3))
    await spill.put(batch(3, 2))
    await spill.close()

    again = InfluxSpill(tmp_path / "spill.db", 1024**2, stats)
    first = again.next()
    assert first is not None and first.message.payload.decode().split("\n") == batch(0, 3)
    again.rewind()  # a failed write: the same batch comes first again
    first = again.next()
    assert first is not None
    again.ack(first)
    second = again.next()
    assert second is not None and second.message.payload.decode().split("\n") == batch(3, 2)
    again.ack(second)
    assert len(again) == 0 and again.unspilled == 5 and stats.influx_dropped == 0
    await again.close()


async def test_full_spill_drops_the_oldest_points_and_counts_them(tmp_path: Path) -> None:
    stats = HubStats()
    one = len("\n".join(batch(0, 100)).encode()) + 10
    spill = InfluxSpill(tmp_path / "spill.db", 2 * one + one // 2, stats)
    for k in range(4):
        await spill.put(batch(k * 100, 100))
    assert len(spill) == 2 and spill.dropped == 200 and stats.influx_dropped == 200
    assert stats.last_error is not None and "dropped" in stats.last_error
    entry = spill.next()
    assert entry is not None and entry.message.payload.decode().split("\n") == batch(200, 100)
    await spill.close()
