"""In-process fan-out of live events to web clients (server-sent events).

Each subscriber gets a bounded queue; a client too slow to keep up is dropped (it reconnects and reloads
the current state) rather than letting memory grow or slowing ingest.

With several hubs, `relay` sends every event published here to the other hubs too while some hub has pages open
(`remote_interest`, hub/core/control_channel.py), and their events arrive through `publish_local`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

Event = dict[str, Any]


class EventBus:
    def __init__(self, queue_size: int = 1000) -> None:
        self._subs: set[asyncio.Queue[Event | None]] = set()
        self._queue_size = queue_size
        self.dropped_subscribers = 0
        self.relay: Callable[[Event], None] | None = None
        self.remote_interest = False  # another hub has pages listening
        self.on_local_change: Callable[[int], None] | None = None  # told the number of local listeners

    @property
    def subscribers(self) -> int:
        """Listeners of what this process publishes: its own pages, plus one for the other hubs' pages when they
        have some (producers skip building events nobody reads)."""
        return len(self._subs) + (1 if self.relay is not None and self.remote_interest else 0)

    @property
    def local_subscribers(self) -> int:
        return len(self._subs)

    def publish(self, event: Event) -> None:
        """Non-blocking; call from the event loop thread only."""
        self.publish_local(event)
        if self.relay is not None and self.remote_interest:
            self.relay(event)

    def publish_local(self, event: Event) -> None:
        """To this process's pages only (an event another hub relayed)."""
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
        self._changed()
        try:
            while True:
                ev = await q.get()
                if ev is None:
                    return
                yield ev
        finally:
            self._subs.discard(q)
            self._changed()

    def _changed(self) -> None:
        if self.on_local_change is not None:
            self.on_local_change(len(self._subs))

    def close(self) -> None:
        for q in list(self._subs):
            with contextlib.suppress(asyncio.QueueFull):
                q.put_nowait(None)
        self._subs.clear()
