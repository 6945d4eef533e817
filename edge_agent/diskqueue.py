"""Crash-safe, bounded store-and-forward queue on disk (SQLite in WAL mode), behind the `Outbox` interface.

Why SQLite: its write-ahead log checksums every frame and ignores a torn tail on recovery, so a `kill -9` or a
power cut in the middle of a write loses at most that one message, never the file. `synchronous=FULL` makes a
`put` durable before it returns (one fsync of the WAL per message; a probe result every few seconds per box).

A message is deleted only after the broker's PUBACK. Deletes are not synced one by one: they are batched into
the next write (or every `ACK_BATCH` acks, or when the queue empties), because losing a delete only means the
broker sees that message again after a crash, and the hub recognises repeats by (boot, seq).

Messages with a `replace_key` (retained snapshots) replace an unsent one with the same key in the same
transaction, so the file holds at most the newest JPEG per camera, never a backlog.

The number of messages ever dropped for space is kept in the file too, so the gap survives a restart and can be
reported to the hub.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections import OrderedDict, deque
from pathlib import Path

from edge_agent.config import OutboxSection
from edge_agent.outbox import Entry, MemoryOutbox, OutMessage

log = logging.getLogger(__name__)

ACK_BATCH = 64
BUSY_TIMEOUT_S = 5.0

_SCHEMA = """
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


def _encode_props(props: tuple[tuple[str, str], ...]) -> str:
    return json.dumps([list(p) for p in props])


def _decode_props(text: str) -> tuple[tuple[str, str], ...]:
    return tuple((str(k), str(v)) for k, v in json.loads(text))


class DiskOutbox:
    """Bounded by message count and bytes; when full the oldest unsent messages go (counted, logged, persisted)."""

    def __init__(self, path: str | Path, max_messages: int, max_bytes: int) -> None:
        self.path = Path(path)
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        self._db = self._open(self.path)
        # In memory only the index: id -> (size, replace_key); payloads stay on disk until they are sent.
        self._index: OrderedDict[int, tuple[int, str | None]] = OrderedDict()
        self._unsent: deque[int] = deque()
        self._by_key: dict[str, int] = {}
        self._pending_acks: list[int] = []
        self._bytes = 0
        self.replaced = 0
        self.dropped = 0  # dropped for space, over the life of this file
        self.dropped_now = 0  # of which in this process
        self.recovered = 0  # messages found in the file at start
        self.write_failures = 0  # messages that could not be written (disk full or failing): lost, counted
        self._load()

    # --- opening -------------------------------------------------------------------------------------------

    @staticmethod
    def _open(path: Path) -> sqlite3.Connection:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.executescript(_SCHEMA)
            db.execute("PRAGMA quick_check").fetchone()
        except (OSError, sqlite3.Error) as exc:
            raise DiskQueueError(f"outbox file {path}: cannot open it as a queue: {exc}") from exc
        return db

    def _load(self) -> None:
        rows = self._db.execute(
            "SELECT id, length(payload) + length(CAST(topic AS BLOB)), replace_key FROM message ORDER BY id"
        )
        for entry_id, size, key in rows:
            self._index[entry_id] = (size, key)
            self._unsent.append(entry_id)
            self._bytes += size
            if key is not None:
                self._by_key[key] = entry_id
        row = self._db.execute("SELECT value FROM meta WHERE name = 'dropped'").fetchone()
        self.dropped = int(row[0]) if row else 0
        self.recovered = len(self._index)
        if self.recovered:
            log.info(
                "outbox %s: %d messages (%d bytes) kept from before, sending them first",
                self.path,
                self.recovered,
                self._bytes,
            )

    # --- the Outbox interface ------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._index)

    @property
    def bytes(self) -> int:
        return self._bytes

    def put(self, message: OutMessage) -> None:
        size = len(message.payload) + len(message.topic.encode())
        try:
            new_id, replaced, victims = self._write(message, size)
        except sqlite3.Error as exc:
            # Disk full or failing: the agent keeps probing; this message is lost, counted and logged.
            self.write_failures += 1
            self.dropped += 1
            self.dropped_now += 1
            if self.write_failures % 100 == 1:
                log.error(
                    "outbox %s: cannot write a message (%s); dropped %s (%d write failures so far)",
                    self.path,
                    exc,
                    message.topic,
                    self.write_failures,
                )
            return
        self._pending_acks = []
        # The file is committed: now mirror it in memory.
        if replaced is not None:
            self._forget(replaced)
            self._unsent.remove(replaced)
            self.replaced += 1
        for v in victims:
            self._forget(v)
        if victims:
            drop = set(victims)
            self._unsent = deque(i for i in self._unsent if i not in drop)
        self._index[new_id] = (size, message.replace_key)
        self._unsent.append(new_id)
        self._bytes += size
        if message.replace_key is not None:
            self._by_key[message.replace_key] = new_id
        if victims:
            self.dropped += len(victims)
            self.dropped_now += len(victims)
            log.warning(
                "outbox full: dropped %d oldest unsent messages (total dropped %d, kept %d, %d bytes)",
                len(victims),
                self.dropped,
                len(self._index),
                self._bytes,
            )

    def _write(self, message: OutMessage, size: int) -> tuple[int, int | None, list[int]]:
        """One transaction: batched acks, the replaced snapshot, the new message, the victims of the bounds."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            self._write_pending_acks()
            replaced = None
            if message.replace_key is not None:
                old = self._by_key.get(message.replace_key)
                if old is not None and old in self._unsent:
                    db.execute("DELETE FROM message WHERE id = ?", (old,))
                    replaced = old
            cur = db.execute(
                "INSERT INTO message (topic, payload, qos, retain, props, replace_key) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    message.topic,
                    message.payload,
                    message.qos,
                    int(message.retain),
                    _encode_props(message.user_properties),
                    message.replace_key,
                ),
            )
            new_id = cur.lastrowid
            assert new_id is not None
            victims = self._victims(size, replaced)
            if victims:
                db.executemany("DELETE FROM message WHERE id = ?", [(v,) for v in victims])
                db.execute(
                    "INSERT INTO meta (name, value) VALUES ('dropped', ?) "
                    "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
                    (len(victims),),
                )
            db.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise
        return new_id, replaced, victims

    def _victims(self, size: int, replaced: int | None) -> list[int]:
        """Oldest unsent ids to drop so that the queue fits its bounds once a message of `size` bytes is added
        (and `replaced` removed).

        Only unsent ones may go (one on the wire may already be at the broker), and never the new message.
        """
        count = len(self._index) + 1
        nbytes = self._bytes + size
        if replaced is not None:
            count -= 1
            nbytes -= self._index[replaced][0]
        victims: list[int] = []
        for victim in self._unsent:
            if count <= self.max_messages and nbytes <= self.max_bytes:
                break
            if victim == replaced:
                continue
            victims.append(victim)
            count -= 1
            nbytes -= self._index[victim][0]
        return victims

    def next_unsent(self) -> Entry | None:
        while self._unsent:
            entry_id = self._unsent[0]
            try:
                row = self._db.execute(
                    "SELECT topic, payload, qos, retain, props, replace_key FROM message WHERE id = ?",
                    (entry_id,),
                ).fetchone()
            except (
                sqlite3.Error
            ) as exc:  # a failing disk: tried again with the next event (PUBACK, reconnect)
                log.error("outbox %s: cannot read message %d: %s", self.path, entry_id, exc)
                return None
            self._unsent.popleft()
            if row is None:  # cannot happen while this process owns the file; never send a hole
                log.error("outbox %s: message %d vanished from the file", self.path, entry_id)
                self._forget(entry_id)
                continue
            topic, payload, qos, retain, props, key = row
            message = OutMessage(topic, bytes(payload), int(qos), bool(retain), _decode_props(props), key)
            return Entry(entry_id, message)
        return None

    def ack(self, entry_id: int) -> None:
        if entry_id not in self._index:
            return
        self._forget(entry_id)
        self._pending_acks.append(entry_id)
        if len(self._pending_acks) >= ACK_BATCH or not self._index:
            self.flush()

    def rewind(self) -> None:
        self._unsent = deque(self._index.keys())

    # --- housekeeping ------------------------------------------------------------------------------------------

    def flush(self) -> None:
        """Write the batched deletes of acknowledged messages."""
        if not self._pending_acks:
            return
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._write_pending_acks()
                self._db.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise
        except sqlite3.Error as exc:
            # Kept for the next write: at worst those messages are sent again after a crash.
            log.warning("outbox %s: acknowledged messages not yet removed (%s)", self.path, exc)
            return
        self._pending_acks = []

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._db.close()

    def _rollback(self) -> None:
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")

    def _write_pending_acks(self) -> None:
        if self._pending_acks:
            self._db.executemany("DELETE FROM message WHERE id = ?", [(i,) for i in self._pending_acks])

    def _forget(self, entry_id: int) -> None:
        size, key = self._index.pop(entry_id)
        self._bytes -= size
        if key is not None and self._by_key.get(key) == entry_id:
            del self._by_key[key]


def open_outbox(section: OutboxSection, base_dir: Path) -> DiskOutbox | MemoryOutbox:
    """The outbox the config asks for; a relative `path` is taken from the config file's folder."""
    if section.path is None:
        log.warning("outbox.path is not set: messages wait in memory and a power cut loses them")
        return MemoryOutbox(section.max_messages, section.max_bytes)
    path = section.path if section.path.is_absolute() else base_dir / section.path
    return DiskOutbox(path, section.max_messages, section.max_bytes)
