"""The disk queue's SQLite file: its schema and the two connections on it (device_runtime/diskqueue.py).

WAL mode with `synchronous=FULL`: a message is durable once its commit returns, and a torn tail of the log is
ignored on recovery; a file torn beyond that is handled by queue_salvage.py.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

BUSY_TIMEOUT_S = 5.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS message (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL,
    props TEXT NOT NULL,
    replace_key TEXT
);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


class DiskQueueError(RuntimeError):
    """The queue file cannot be opened or is not a queue (the message names the file and why)."""


def open_writer(path: Path) -> sqlite3.Connection:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.executescript(SCHEMA)
        check = db.execute("PRAGMA quick_check").fetchone()
        if not check or check[0] != "ok":
            raise sqlite3.DatabaseError(f"quick_check: {str(check[0])[:200] if check else 'no answer'}")
    except (OSError, sqlite3.Error) as exc:
        raise DiskQueueError(f"outbox file {path}: cannot open it as a queue: {exc}") from exc
    return db


def open_reader(path: Path) -> sqlite3.Connection:
    try:
        # Used on the event loop; closed by `close`, which the agent runs in a thread once the loop is done.
        return sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise DiskQueueError(f"outbox file {path}: cannot open it for reading: {exc}") from exc
