"""Recovering the disk queue's file after a torn write that SQLite's own recovery cannot mend.

SQLite ignores a torn tail of its write-ahead log by itself. What it cannot mend is a database file cut short
(a power cut during a checkpoint on a card that reorders writes, a truncated copy): the file then opens, but
reading it fails ("database disk image is malformed") or yields rows with missing columns. Without this the
agent would stop at every start, on every box with such a file, and send nothing ever again.

What can still be read is copied, in order and with the same ids, into a fresh file; the damaged files are kept
beside it (`…damaged-<time>`) for a post-mortem. What could not be read is gone: the count of rows saved is
logged and the agent reports the boot as one with a damaged queue.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

log = logging.getLogger(__name__)

Row = tuple[int, str, bytes, int, int, str, str | None]


def is_sqlite(path: Path) -> bool:
    """A file SQLite wrote (its header), as opposed to some other file the config points at by mistake."""
    try:
        with path.open("rb") as fh:
            return fh.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


def _valid(row: tuple[object, ...]) -> bool:
    i, topic, payload, qos, retain, props, key = row
    return (
        isinstance(i, int)
        and isinstance(topic, str)
        and isinstance(payload, bytes)
        and qos in (0, 1, 2)
        and retain in (0, 1)
        and isinstance(props, str)
        and (key is None or isinstance(key, str))
    )


def readable_rows(path: Path) -> tuple[list[Row], int]:
    """Every intact message row (id order) and the kept drop count, reading until the damage stops it."""
    rows: list[Row] = []
    dropped = 0
    try:
        # Not read-only: a WAL file without its -shm cannot be opened so, and this one is set aside next.
        con = sqlite3.connect(path)
    except sqlite3.Error:
        return rows, dropped
    try:
        # A file cut short fails SQLite's check of its schema before any table is read; this pragma skips that
        # check (nothing is written through this connection), so the pages that are there can still be read.
        con.execute("PRAGMA writable_schema=ON")
        try:
            found = con.execute("SELECT value FROM meta WHERE name = 'dropped'").fetchone()
            dropped = int(found[0]) if found and isinstance(found[0], int) else 0
        except sqlite3.Error:
            pass
        cur = con.execute(
            "SELECT id, topic, payload, qos, retain, props, replace_key FROM message ORDER BY id"
        )
        while True:
            try:
                row = cur.fetchone()
            except sqlite3.Error:
                break  # the rest of the table is behind the damage
            if row is None:
                break
            if _valid(row):
                rows.append(row)
    except sqlite3.Error:
        pass
    finally:
        con.close()
    return rows, dropped


def set_aside(path: Path, now: float | None = None) -> Path:
    """Rename the damaged file and its WAL/SHM beside it; returns the new name of the main file."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(time.time() if now is None else now))
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        src = path.with_name(path.name + suffix)
        if src.exists():
            src.rename(target.with_name(target.name + suffix))
    return target


def refill(db: sqlite3.Connection, rows: list[Row], dropped: int) -> None:
    """Write the saved rows (same ids, so the order holds) and the drop count into a fresh queue file."""
    db.execute("BEGIN IMMEDIATE")
    db.executemany(
        "INSERT INTO message (id, topic, payload, qos, retain, props, replace_key) VALUES (?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    if dropped:
        db.execute("INSERT INTO meta (name, value) VALUES ('dropped', ?)", (dropped,))
    db.execute("COMMIT")
