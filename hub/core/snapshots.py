"""Camera snapshots on disk: a bounded history of JPEG files per camera, an index row in SQL for the latest.

A snapshot arrives every few probes (every 5 minutes per camera by default): 20,000 cameras would rewrite
several GB of BLOBs a day inside the database and its backups. Here the bytes go to
`<dir>/<district>/<commune>/<camera>/<ts_ms>.jpg`, written atomically (temporary file, fsync, rename, fsync of
the folder), and SQL's `snapshots` row says which file is the latest (path, size, sha256), so listing cameras,
ETags and the wall never touch the disk. Each camera keeps its newest `keep_last` files plus the newest of each
hour for `hourly_hours` hours (`keep_set`, pure); the rest is deleted when a new one arrives.

The store's methods block (file I/O): the hub calls them from its snapshot thread, web handlers through
`asyncio.to_thread`. `read_latest` is what every page and the notifier use.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.core.config import CoreConfig
from hub.core.db import Database, Snapshot, utc

_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_FILE = re.compile(r"^(\d{1,16})\.jpg$")
TEMP_MAX_AGE_S = 3600  # a temporary file older than this was left by a crash


@dataclass
class SnapshotRow:
    """A snapshot ingest accepted, waiting for the next flush: the file first, then its index row."""

    camera_key: str
    jpeg: bytes
    ts: float
    width: int | None
    height: int | None


@dataclass(frozen=True)
class StoredSnapshot:
    camera_key: str
    ts: float  # device time (epoch seconds)
    path: str  # relative to the store's folder, with "/"
    size: int
    sha256: str
    width: int | None
    height: int | None


def keep_set(stamps: Iterable[int], now_ms: int, keep_last: int, hourly_hours: int) -> set[int]:
    """Which snapshots (by their time, ms) stay: the newest `keep_last`, and the newest of each clock hour
    within the last `hourly_hours` hours."""
    ordered = sorted(set(stamps), reverse=True)
    keep = set(ordered[:keep_last])
    oldest = now_ms - hourly_hours * 3_600_000
    hours: set[int] = set()
    for ts in ordered:
        if ts < oldest:
            break
        hour = ts // 3_600_000
        if hour not in hours:
            hours.add(hour)
            keep.add(ts)
    return keep


def camera_parts(key: str) -> tuple[str, str, str]:
    """district, commune, camera of a key, each a slug (so a key never names a path outside the store)."""
    parts = key.split("/")
    if len(parts) != 3 or not all(_SLUG.match(p) for p in parts):
        raise ValueError(f"not a camera key: {key!r}")
    return parts[0], parts[1], parts[2]


class SnapshotStore:
    def __init__(self, root: Path, keep_last: int = 5, hourly_hours: int = 24) -> None:
        self.root = root
        self.keep_last = keep_last
        self.hourly_hours = hourly_hours

    @classmethod
    def for_config(cls, config: CoreConfig) -> SnapshotStore:
        s = config.snapshots
        return cls(config.snapshot_dir, s.keep_last, s.hourly_hours)

    def folder(self, key: str) -> Path:
        return self.root.joinpath(*camera_parts(key))

    def put(
        self, key: str, jpeg: bytes, ts: float, width: int | None, height: int | None, now: float
    ) -> StoredSnapshot:
        """Writes one snapshot and prunes the camera's folder. Raises OSError (disk full …)."""
        folder = self.folder(key)
        folder.mkdir(parents=True, exist_ok=True)
        ts_ms = int(round(ts * 1000))
        name = f"{ts_ms}.jpg"
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(jpeg)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, folder / name)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        _fsync_dir(folder)
        self.prune(key, int(now * 1000))
        rel = "/".join((*camera_parts(key), name))
        return StoredSnapshot(key, ts, rel, len(jpeg), hashlib.sha256(jpeg).hexdigest(), width, height)

    def stamps(self, key: str) -> list[int]:
        """Times (ms) of the camera's kept snapshots, newest first."""
        try:
            names = os.listdir(self.folder(key))
        except FileNotFoundError:
            return []
        return sorted((int(m.group(1)) for n in names if (m := _FILE.match(n))), reverse=True)

    def prune(self, key: str, now_ms: int) -> int:
        """Deletes what `keep_set` does not keep (and temporary files a crash left); returns how many."""
        folder = self.folder(key)
        stamps = self.stamps(key)
        keep = keep_set(stamps, now_ms, self.keep_last, self.hourly_hours)
        gone = 0
        for ts in stamps:
            if ts not in keep:
                with contextlib.suppress(FileNotFoundError):
                    (folder / f"{ts}.jpg").unlink()
                    gone += 1
        for n in os.listdir(folder):
            if n.startswith(".") and n.endswith(".tmp"):
                p = folder / n
                with contextlib.suppress(FileNotFoundError):
                    if now_ms / 1000 - p.stat().st_mtime > TEMP_MAX_AGE_S:
                        p.unlink()
        return gone

    def read(self, rel: str) -> bytes | None:
        """The bytes of a stored snapshot (path as the index row has it); None when the file is gone."""
        parts = rel.split("/")
        if len(parts) != 4 or not _FILE.match(parts[3]):
            return None
        camera_parts("/".join(parts[:3]))
        try:
            return (self.root.joinpath(*parts)).read_bytes()
        except FileNotFoundError:
            return None

    def read_at(self, key: str, ts_ms: int) -> bytes | None:
        try:
            return (self.folder(key) / f"{ts_ms}.jpg").read_bytes()
        except FileNotFoundError:
            return None

    def remove_camera(self, key: str) -> None:
        shutil.rmtree(self.folder(key), ignore_errors=True)


class SnapshotWriter:
    """The hub's side of the store: files written in one thread of their own (not the SQL thread, not the
    event loop), in arrival order."""

    def __init__(self, store: SnapshotStore) -> None:
        self.store = store
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="snapshots")
        self.errors = 0
        self.last_error: str | None = None

    def _write_all(self, rows: list[SnapshotRow], now: float) -> list[StoredSnapshot]:
        out = []
        for r in rows:
            try:
                out.append(self.store.put(r.camera_key, r.jpeg, r.ts, r.width, r.height, now))
            except (OSError, ValueError) as exc:  # one camera's file must not stop the others
                self.errors += 1
                self.last_error = f"snapshot of {r.camera_key} not stored: {exc!r}"
        return out

    async def write(self, rows: Iterable[SnapshotRow], now: float) -> list[StoredSnapshot]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._write_all, list(rows), now)

    def close(self) -> None:
        self._pool.shutdown(wait=True)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def store_and_index(
    s: Session,
    store: SnapshotStore,
    key: str,
    jpeg: bytes,
    ts: datetime,
    width: int | None,
    height: int | None,
) -> Snapshot:
    """Writes a snapshot file and its index row in one go (blocking; in the SQL thread). For tools, tests and
    moving the JPEGs an older version kept in SQL out to files."""
    stored = store.put(key, jpeg, (utc(ts) or ts).timestamp(), width, height, time.time())
    current = s.get(Snapshot, key)
    if current is not None and current.ts > ts:  # an older picture joins the history, not the index
        return current
    row = Snapshot(
        camera_key=key,
        path=stored.path,
        size=stored.size,
        sha256=stored.sha256,
        ts=ts,
        width=width,
        height=height,
    )
    return s.merge(row)


def index_row(s: Session, camera_key: str) -> Snapshot | None:
    return s.scalar(select(Snapshot).where(Snapshot.camera_key == camera_key))


async def read_latest(db: Database, store: SnapshotStore, camera_key: str) -> tuple[Snapshot, bytes] | None:
    """The camera's latest snapshot: its index row (SQL thread) and its bytes (a worker thread)."""
    row = await db.run(lambda s: index_row(s, camera_key))
    if row is None:
        return None
    data = await asyncio.to_thread(store.read, row.path)
    return None if data is None else (row, data)
