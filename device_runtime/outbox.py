"""Store-and-forward outbox between the agent and the MQTT link.

Everything the agent publishes (except its own status) goes through an outbox, in order. A message leaves the
outbox only when the broker acknowledged it (PUBACK); after a disconnect every unacknowledged message is sent
again, oldest first (at-least-once; health carries `seq`, so the hub can tell repeats and gaps).

`Outbox` is the interface the sender uses; `MemoryOutbox` is the bounded in-memory version. A crash-safe disk
queue implements the same five methods. `put` is a coroutine because the disk queue waits for its writer
thread; every other method works on memory and is called on the event loop.
"""

from __future__ import annotations

import logging
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Protocol

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OutMessage:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = False
    user_properties: tuple[tuple[str, str], ...] = ()
    # Messages with the same key replace each other while unsent (a retained snapshot: only the newest matters).
    replace_key: str | None = None


@dataclass(slots=True)
class Entry:
    id: int
    message: OutMessage
    size: int = field(init=False)

    def __post_init__(self) -> None:
        self.size = len(self.message.payload) + len(self.message.topic)


class Outbox(Protocol):
    async def put(self, message: OutMessage) -> None:
        """Queue a message (returns once it is stored; for the disk queue, on disk); a full outbox drops its
        oldest unsent messages (counted and logged). Messages are stored in the order of the calls."""

    def next_unsent(self) -> Entry | None:
        """The oldest message not yet handed to the link since the last rewind, now marked as sent."""

    def ack(self, entry_id: int) -> None:
        """The broker has the message: forget it."""

    def rewind(self) -> None:
        """The connection dropped: every unacknowledged message is unsent again, in order."""

    def __len__(self) -> int:
        """Messages not yet acknowledged."""


class MemoryOutbox:
    """Bounded by message count and bytes; lost on a crash or power cut (the disk queue fixes that)."""

    def __init__(self, max_messages: int, max_bytes: int) -> None:
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        self._entries: OrderedDict[int, Entry] = OrderedDict()
        self._unsent: deque[int] = deque()
        self._by_key: dict[str, int] = {}
        self._next_id = 0
        self._bytes = 0
        self.dropped = 0  # unsent messages thrown away because the outbox was full
        self.replaced = 0  # unsent messages superseded by a newer one with the same replace_key

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def bytes(self) -> int:
        return self._bytes

    async def put(self, message: OutMessage) -> None:
        self.put_now(message)

    def put_now(self, message: OutMessage) -> None:
        if message.replace_key is not None:
            old = self._by_key.get(message.replace_key)
            if old is not None and old in self._unsent:
                self._remove(old)
                self._unsent.remove(old)
                self.replaced += 1
        entry = Entry(self._next_id, message)
        self._next_id += 1
        self._entries[entry.id] = entry
        self._unsent.append(entry.id)
        self._bytes += entry.size
        if message.replace_key is not None:
            self._by_key[message.replace_key] = entry.id
        self._enforce_bounds()

    def _enforce_bounds(self) -> None:
        dropped = 0
        # Only unsent entries can go: one on the wire may already be at the broker.
        while (len(self._entries) > self.max_messages or self._bytes > self.max_bytes) and len(
            self._unsent
        ) > 1:
            victim = self._unsent.popleft()
            self._remove(victim)
            dropped += 1
        if dropped:
            self.dropped += dropped
            log.warning(
                "outbox full: dropped %d oldest unsent messages (total dropped %d, kept %d, %d bytes)",
                dropped,
                self.dropped,
                len(self._entries),
                self._bytes,
            )

    def _remove(self, entry_id: int) -> None:
        entry = self._entries.pop(entry_id)
        self._bytes -= entry.size
        key = entry.message.replace_key
        if key is not None and self._by_key.get(key) == entry_id:
            del self._by_key[key]

    def next_unsent(self) -> Entry | None:
        if not self._unsent:
            return None
        return self._entries[self._unsent.popleft()]

    def ack(self, entry_id: int) -> None:
        if entry_id in self._entries:
            self._remove(entry_id)

    def rewind(self) -> None:
        self._unsent = deque(self._entries.keys())
