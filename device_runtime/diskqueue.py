"""Crash-safe, bounded store-and-forward queue on disk (SQLite in WAL mode), behind the `Outbox` interface.

Why SQLite: its write-ahead log checksums every frame and ignores a torn tail on recovery, so a `kill -9` or a
power cut in the middle of a write loses at most that one message, never the file. `synchronous=FULL` makes a
message durable before `await put()` returns.

The writes (and their fsyncs) run in one writer thread that owns the write connection, never on the agent's
event loop. Messages put while a commit is running are written together by the next one (group commit: one
fsync for all of them), in the order of the `put` calls; a message becomes sendable only once it is committed.
Reads of a message about to be sent use a second connection on the loop: WAL readers never wait for the writer,
and the pages are in the OS cache.

A message is deleted only after the broker's PUBACK. Deletes are not synced one by one: they are batched into
the next write (or every `ACK_BATCH` acks, or when the queue empties), because losing a delete only means the
broker sees that message again after a crash, and the hub recognises repeats by (boot, seq).

Messages with a `replace_key` (retained snapshots) replace an unsent one with the same key: the older one is
deleted with the next write, so the file holds at most the newest JPEG per camera (two for a moment), never a
backlog. Messages dropped for space are deleted the same way; the count of drops is kept in the file too, so
the gap survives a restart and is reported to the hub. A file torn beyond SQLite's own recovery: queue_salvage.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections import OrderedDict, deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from device_runtime import queue_salvage
from device_runtime.config import OutboxSection
from device_runtime.outbox import Entry, MemoryOutbox, OutMessage
from device_runtime.queue_file import DiskQueueError, open_reader, open_writer
from device_runtime.queue_gap import Gap, free_bytes, payload_ts

log = logging.getLogger(__name__)

ACK_BATCH = 64


def _encode_props(props: tuple[tuple[str, str], ...]) -> str:
    return json.dumps([list(p) for p in props])


def _decode_props(text: str) -> tuple[tuple[str, str], ...]:
    return tuple((str(k), str(v)) for k, v in json.loads(text))


class DiskOutbox:
    """Bounded by message count and bytes; when full the oldest unsent messages go (counted, logged, persisted).

    Everything but the constructor and `close` is called on the event loop; the in-memory index lives there and
    the writer thread only ever sees the arguments of its jobs.
    """

    def __init__(self, path: str | Path, max_messages: int, max_bytes: int, min_free_bytes: int = 0) -> None:
        self.path = Path(path)
        self.min_free_bytes = min_free_bytes  # the disk's floor: below it the oldest go (queue_gap.py)
        self._disk_low = False
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox-writer")
        # In memory only the index: id -> (size, replace_key); payloads stay on disk until they are sent.
        self._index: OrderedDict[int, tuple[int, str | None]] = OrderedDict()
        self._unsent: deque[int] = deque()
        self._by_key: dict[str, int] = {}
        self._pending_deletes: list[int] = []  # acked, replaced or dropped, not yet deleted in the file
        self._pending_dropped = 0  # drops not yet added to the file's count
        self._waiting: list[tuple[OutMessage, asyncio.Future[None]]] = []  # put, not yet committed
        self._committer: asyncio.Task[None] | None = None
        self._bytes = 0
        self.replaced = 0
        self.dropped = 0  # dropped for space, over the life of this file
        self.dropped_now = 0  # of which in this process
        self.recovered = 0  # messages found in the file at start
        self.write_failures = 0  # messages that could not be written (disk full or failing): lost, counted
        self.commits = 0  # transactions that wrote messages (fewer than messages when they came together)
        self.salvaged: int | None = None  # set when the file was damaged: the messages that could be saved
        self.gap = Gap()  # device time range of everything dropped (queue_gap.py)
        try:
            self._db = open_writer(self.path)  # the writer's; used only by jobs on self._writer after _load
            self._reader = open_reader(self.path)
            self._load()
        except (DiskQueueError, sqlite3.DatabaseError, TypeError) as exc:
            if not queue_salvage.is_sqlite(self.path):
                raise DiskQueueError(f"outbox file {self.path}: cannot open it as a queue: {exc}") from exc
            self._salvage(exc)

    # --- opening -------------------------------------------------------------------------------------------

    def _salvage(self, exc: Exception) -> None:
        """A torn SQLite file (queue_salvage.py): keep what can be read in a fresh file, the rest set aside."""
        for con in (getattr(self, "_db", None), getattr(self, "_reader", None)):
            if con is not None:
                con.close()
        rows, dropped = queue_salvage.readable_rows(self.path)
        aside = queue_salvage.set_aside(self.path)
        self._db = open_writer(self.path)
        queue_salvage.refill(self._db, rows, dropped)
        self._reader = open_reader(self.path)
        self._index.clear()
        self._unsent.clear()
        self._by_key.clear()
        self._bytes = 0
        self._load()
        self.salvaged = len(rows)
        msg = "outbox %s was damaged (%s): %d messages saved into a fresh file, the damaged one kept as %s"
        log.error(msg, self.path, str(exc).splitlines()[0], len(rows), aside)

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
        self.gap = Gap.load(self._db)
        self.recovered = len(self._index)
        if self.recovered:
            kept = "outbox %s: %d messages (%d bytes) kept from before, sending them first"
            log.info(kept, self.path, self.recovered, self._bytes)

    # --- the Outbox interface ------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._index)

    @property
    def bytes(self) -> int:
        return self._bytes

    async def put(self, message: OutMessage) -> None:
        """Returns once the message is on disk (or was lost to a failing disk: counted and logged)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((message, done))
        if self._committer is None or self._committer.done():
            self._committer = asyncio.create_task(self._commit_waiting())
        await asyncio.shield(done)  # a cancelled caller must not cancel the others' commit

    async def _commit_waiting(self) -> None:
        loop = asyncio.get_running_loop()
        while self._waiting:
            batch, self._waiting = self._waiting, []
            messages = [m for m, _ in batch]
            deletes, self._pending_deletes = self._pending_deletes, []
            dropped, self._pending_dropped = self._pending_dropped, 0
            try:
                ids = await loop.run_in_executor(self._writer, self._write, messages, deletes, dropped)
            except Exception as exc:  # sqlite3.Error, OSError: never leave a caller waiting
                # Disk full or failing: the agent keeps probing; these messages are lost, counted and logged.
                self._pending_deletes = deletes + self._pending_deletes
                self._pending_dropped += dropped
                self._write_failed(messages, exc)
            else:
                self.commits += 1
                for message, new_id in zip(messages, ids, strict=True):
                    self._add(message, new_id)
            for _, done in batch:
                if not done.done():
                    done.set_result(None)

    def _write_failed(self, messages: list[OutMessage], exc: Exception) -> None:
        for message in messages:
            self.gap.widen(payload_ts(message.payload))
            self.write_failures += 1
            self._pending_dropped += (
                1  # written with the next write that succeeds: the gap outlives a restart
            )
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

    def _add(self, message: OutMessage, new_id: int) -> None:
        """A committed message joins the index; what it replaces or pushes out is deleted with the next write."""
        size = len(message.payload) + len(message.topic.encode())
        if message.replace_key is not None:
            old = self._by_key.get(message.replace_key)
            if old is not None and old in self._unsent:
                self._forget(old)
                self._unsent.remove(old)
                self._pending_deletes.append(old)
                self.replaced += 1
        self._index[new_id] = (size, message.replace_key)
        self._unsent.append(new_id)
        self._bytes += size
        if message.replace_key is not None:
            self._by_key[message.replace_key] = new_id
        victims = self._victims(new_id)
        if victims:
            self._drop(victims, "disk low" if self._disk_low else "outbox full")

    def _drop(self, victims: list[int], why: str) -> None:
        """Unsent messages go for space: their time widens the gap; deleted and counted with the next write."""
        for v in victims:
            row = self._reader.execute("SELECT payload FROM message WHERE id = ?", (v,)).fetchone()
            self.gap.widen(payload_ts(bytes(row[0])) if row else None)
            self._forget(v)
        drop = set(victims)
        self._unsent = deque(i for i in self._unsent if i not in drop)
        self._pending_deletes.extend(victims)
        self._pending_dropped += len(victims)
        self.dropped += len(victims)
        self.dropped_now += len(victims)
        msg = "%s: dropped %d oldest unsent messages (total dropped %d, kept %d, %d bytes)"
        log.warning(msg, why, len(victims), self.dropped, len(self._index), self._bytes)

    def _write(self, messages: list[OutMessage], deletes: list[int], dropped: int) -> list[int]:
        """In the writer thread, one transaction: pending deletes and drop count, then the new messages."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            self._write_deletes(deletes, dropped)
            ids = []
            for message in messages:
                cur = db.execute(
                    "INSERT INTO message (topic, payload, qos, retain, props, replace_key) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        message.topic,
                        message.payload,
                        message.qos,
                        int(message.retain),
                        _encode_props(message.user_properties),
                        message.replace_key,
                    ),
                )
                assert cur.lastrowid is not None
                ids.append(cur.lastrowid)
            db.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise
        return ids

    def _victims(self, new_id: int) -> list[int]:
        """Oldest unsent ids to drop so that the queue fits its bounds.

        Only unsent ones may go (one on the wire may already be at the broker), and never the new message.
        """
        count = len(self._index)
        nbytes = self._bytes
        limit = self.max_bytes
        short = self.min_free_bytes - free_bytes(self.path.parent) if self.min_free_bytes else 0
        self._disk_low = short > 0
        if self._disk_low:  # what is dropped frees pages the file reuses: it stops growing
            limit = min(limit, nbytes - short)
        victims: list[int] = []
        for victim in self._unsent:
            if count <= self.max_messages and nbytes <= limit:
                break
            if victim == new_id:
                continue
            victims.append(victim)
            count -= 1
            nbytes -= self._index[victim][0]
        return victims

    def next_unsent(self) -> Entry | None:
        while self._unsent:
            entry_id = self._unsent[0]
            try:
                row = self._reader.execute(
                    "SELECT topic, payload, qos, retain, props, replace_key FROM message WHERE id = ?",
                    (entry_id,),
                ).fetchone()
            except sqlite3.Error as exc:
                # A failing disk: tried again with the next event (PUBACK, reconnect).
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
        self._pending_deletes.append(entry_id)
        if len(self._pending_deletes) >= ACK_BATCH or not self._index:
            self.flush()

    def rewind(self) -> None:
        self._unsent = deque(self._index.keys())

    # --- housekeeping ------------------------------------------------------------------------------------------

    def flush(self) -> Future[None]:
        """Hand the batched deletes to the writer thread (not waited for: a lost delete is a resend)."""
        deletes, self._pending_deletes = self._pending_deletes, []
        dropped, self._pending_dropped = self._pending_dropped, 0
        return self._writer.submit(self._delete_job, deletes, dropped)

    def settle(self) -> None:
        """Block until every job handed to the writer so far is done (tests; `close`)."""
        self._writer.submit(lambda: None).result()

    def close(self) -> None:
        """Blocking: writes the batched deletes and closes the file. Called once no `put` is in progress."""
        if self._waiting:
            log.error("outbox %s: closed with %d messages not yet written", self.path, len(self._waiting))
        try:
            self.flush().result()
        finally:
            self._writer.submit(self._db.close).result()
            self._writer.shutdown(wait=True)
            self._reader.close()

    def _delete_job(self, deletes: list[int], dropped: int) -> None:
        if not deletes and not dropped:
            return
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._write_deletes(deletes, dropped)
                self._db.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise
        except sqlite3.Error as exc:
            # At worst those messages are sent again after a crash (or dropped ones kept); logged, not retried.
            log.warning("outbox %s: acknowledged messages not yet removed (%s)", self.path, exc)

    def _rollback(self) -> None:
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")

    def _write_deletes(self, deletes: list[int], dropped: int) -> None:
        if deletes:
            self._db.executemany("DELETE FROM message WHERE id = ?", [(i,) for i in deletes])
        if dropped:
            self._db.execute(
                "INSERT INTO meta (name, value) VALUES ('dropped', ?) "
                "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
                (dropped,),
            )
            self.gap.save(self._db)

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
    return DiskOutbox(path, section.max_messages, section.max_bytes, section.min_free_mb * 2**20)
