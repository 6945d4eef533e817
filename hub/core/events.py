"""In-process fan-out of live events to web clients (server-sent events).

Each subscriber gets a bounded queue; a client too slow to keep up is dropped (it reconnects and reloads
the current state) rather than letting memory grow or slowing ingest.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

Event = dict[str, Any]


class EventBus:
    def __init__(self, queue_size: int = 1000) -> None:
        self._subs: set[asyncio.Queue[Event | None]] = set()
        self._queue_size = queue_size
        self.dropped_subscribers = 0

    @property
    def subscribers(self) -> int:
        return len(self._subs)

    def publish(self, event: Event) -> None:
        """Non-blocking; call from the event loop thread only."""
        for q in list(self._subs):
            try:
                q.put_nowait(event)
            except asyncio.QueueFull:
                self._subs.discard(q)
                self.dropped_subscribers += 1
                with contextlib.suppress(asyncio.QueueFull):
                    q.get_nowait()
                    q.put_nowait(None)  # tells the reader it was cut off

    async def subscribe(self) -> AsyncIterator[Event]:
        q: asyncio.Queue[Event | None] = asyncio.Queue(self._queue_size)
        self._subs.add(q)
        try:
            while True:
                ev = await q.get()
                if ev is None:
                    return
                yield ev
        finally:
            self._subs.discard(q)

    def close(self) -> None:
        for q in list(self._subs):
            with contextlib.suppress(asyncio.QueueFull):
                q.put_nowait(None)
        self._subs.clear()
