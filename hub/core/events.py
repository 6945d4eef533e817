"""In-process fan-out of live events to web clients (server-sent events).

Each subscriber gets a bounded queue; a client too slow to keep up is dropped (it reconnects and reloads
the current state) rather than letting memory grow or slowing ingest. A subscriber may name the event types
and the district/commune it wants: other events never reach its queue, and a producer can ask `wants` before
building an event nobody would receive (at province scale most health reports interest no open page).

With several hubs, `relay` sends every event published here to the other hubs too while some hub has pages open
(`remote_interest`, hub/core/control_channel.py), and their events arrive through `publish_local`; the other
hubs' filters are not known here, so while they listen every event is wanted.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass
from typing import Any

Event = dict[str, Any]


def event_area(ev: Event) -> tuple[str, str] | None:
    """The district and commune an event is about, or None when it cannot be told."""
    kind = ev.get("type")
    body = ev.get(kind) if isinstance(kind, str) else None
    src = body if isinstance(body, dict) else ev
    district, commune = src.get("district"), src.get("commune")
    if isinstance(district, str) and isinstance(commune, str):
        return district, commune
    key = ev.get("key")
    if isinstance(key, str) and key.count("/") == 2:
        d, c, _ = key.split("/")
        return d, c
    return None


@dataclass(eq=False)
class Subscription:
    queue: asyncio.Queue[Event | None]
    types: frozenset[str] | None = None  # None: every type
    district: str | None = None
    commune: str | None = None

    def wants(self, kind: str | None, district: str | None, commune: str | None) -> bool:
        if self.types is not None and kind not in self.types:
            return False
        # Events about no single area (a province summary) pass; the reader filters them by scope.
        if district is None:
            return True
        return (self.district is None or self.district == district) and (
            self.commune is None or self.commune == commune
        )

    def accepts(self, ev: Event) -> bool:
        if self.types is None and self.district is None and self.commune is None:
            return True
        area = event_area(ev) if self.district is not None or self.commune is not None else None
        kind = ev.get("type")
        return self.wants(kind if isinstance(kind, str) else None, *(area or (None, None)))


@dataclass(frozen=True)
class Interest:
    """Which areas' events of one type some subscriber wants: all of them, or these districts and communes."""

    everywhere: bool
    districts: frozenset[str]
    communes: frozenset[tuple[str, str]]

    def covers(self, district: str, commune: str) -> bool:
        return self.everywhere or district in self.districts or (district, commune) in self.communes


class EventBus:
    def __init__(self, queue_size: int = 1000) -> None:
        self._subs: set[Subscription] = set()
        self._queue_size = queue_size
        self.dropped_subscribers = 0
        self.relay: Callable[[Event], None] | None = None
        self.remote_interest = False  # another hub has pages listening
        self.on_local_change: Callable[[int], None] | None = None  # told the number of local listeners

    @property
    def subscribers(self) -> int:
        """Listeners of what this process publishes: its own pages, plus one for the other hubs' pages when they
        have some (producers skip building events nobody reads)."""
        return len(self._subs) + (1 if self._relaying else 0)

    @property
    def local_subscribers(self) -> int:
        return len(self._subs)

    @property
    def _relaying(self) -> bool:
        return self.relay is not None and self.remote_interest

    def wants(self, kind: str, district: str | None = None, commune: str | None = None) -> bool:
        """Whether any subscriber would receive an event of this type about this area."""
        return self._relaying or any(sub.wants(kind, district, commune) for sub in self._subs)

    def interest(self, kind: str) -> Interest | None:
        """What subscribers want of `kind`, for a producer about to build many events (None: nobody)."""
        if self._relaying:
            return Interest(True, frozenset(), frozenset())
        subs = [sub for sub in self._subs if sub.types is None or kind in sub.types]
        if not subs:
            return None
        everywhere = any(sub.district is None and sub.commune is None for sub in subs)
        districts = frozenset(
            sub.district for sub in subs if sub.district is not None and sub.commune is None
        )
        communes = frozenset(
            (sub.district, sub.commune)
            for sub in subs
            if sub.district is not None and sub.commune is not None
        )
        # A subscriber naming only a commune (no district) is rare: treat it as wanting everything.
        everywhere = everywhere or any(sub.district is None and sub.commune is not None for sub in subs)
        return Interest(everywhere, districts, communes)

    def publish(self, event: Event) -> None:
        """Non-blocking; call from the event loop thread only."""
        self.publish_local(event)
        if self.relay is not None and self.remote_interest:
            self.relay(event)

    def publish_local(self, event: Event) -> None:
        """To this process's pages only (an event another hub relayed)."""
        for sub in list(self._subs):
            if not sub.accepts(event):
                continue
            q = sub.queue
            try:
                q.put_nowait(event)
            except asyncio.QueueFull:
                self._subs.discard(sub)
                self.dropped_subscribers += 1
                with contextlib.suppress(asyncio.QueueFull):
                    q.get_nowait()
                    q.put_nowait(None)  # tells the reader it was cut off

    async def subscribe(
        self,
        types: Collection[str] | None = None,
        district: str | None = None,
        commune: str | None = None,
    ) -> AsyncIterator[Event]:
        sub = Subscription(
            asyncio.Queue(self._queue_size),
            frozenset(types) if types is not None else None,
            district,
            commune,
        )
        self._subs.add(sub)
        self._changed()
        try:
            while True:
                ev = await sub.queue.get()
                if ev is None:
                    return
                yield ev
        finally:
            self._subs.discard(sub)
            self._changed()

    def _changed(self) -> None:
        if self.on_local_change is not None:
            self.on_local_change(len(self._subs))

    def close(self) -> None:
        for sub in list(self._subs):
            with contextlib.suppress(asyncio.QueueFull):
                sub.queue.put_nowait(None)
        self._subs.clear()
