"""What the disk queue dropped, as a range of device time the hub can show as a gap in the data, and the free
space below which it drops its oldest messages.

The policy for a disk that fills (the edge disk-full drill): a full disk makes every write fail, so the newest
messages would be lost, and deleting rows needs a write too. So the queue keeps a floor of free space
(`outbox.min_free_mb`): below it the oldest unsent messages are dropped as for its own bounds, their pages are
reused by SQLite, and the file stops growing while the box keeps probing. The gap covers the `ts` of every
message dropped since the file was created (each device message carries `ts`, contract v1).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path


def free_bytes(folder: Path) -> int:
    """Free space for the queue's folder (one statvfs: microseconds); unreadable counts as plenty."""
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return 1 << 62


def payload_ts(payload: bytes) -> float | None:
    """The message's own time, when its payload is a JSON object with a numeric `ts`."""
    try:
        ts = json.loads(payload).get("ts")
    except (ValueError, AttributeError):
        return None
    return float(ts) if isinstance(ts, int | float) and not isinstance(ts, bool) else None


@dataclass
class Gap:
    first: float | None = None  # device time of the oldest message dropped
    last: float | None = None  # and of the newest

    def widen(self, ts: float | None) -> None:
        if ts is None:
            return
        self.first = ts if self.first is None else min(self.first, ts)
        self.last = ts if self.last is None else max(self.last, ts)

    def save(self, db: sqlite3.Connection) -> None:
        """In the writer's transaction that records the drops (milliseconds: the meta table holds integers)."""
        for name, value in (("gap_first_ms", self.first), ("gap_last_ms", self.last)):
            if value is not None:
                db.execute(
                    "INSERT INTO meta (name, value) VALUES (?, ?) "
                    "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                    (name, round(value * 1000)),
                )

    @classmethod
    def load(cls, db: sqlite3.Connection) -> Gap:
        rows = dict(db.execute("SELECT name, value FROM meta WHERE name IN ('gap_first_ms', 'gap_last_ms')"))
        first, last = rows.get("gap_first_ms"), rows.get("gap_last_ms")
        return cls(None if first is None else first / 1000, None if last is None else last / 1000)
