"""Server-sent-event framing, with each bus event encoded once however many clients receive it."""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

from hub.core.events import Event


def sse(event: str, data: Any) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False, default=str)}\n\n".encode()


class EncodedEvents:
    """The bus hands the same dict to every subscriber: encode it on first use and reuse the bytes.

    Keyed by identity; the entry keeps the event alive so its id cannot be reused while cached. Bounded.
    """

    # As many as a subscriber's queue holds (EventBus: 1000; one further behind is dropped): every stream still
    # connected finds its event encoded. Not more: each entry keeps its event alive for the cyclic GC to walk.
    def __init__(self, size: int = 1024) -> None:
        self.size = size
        self._cache: OrderedDict[int, tuple[Event, bytes]] = OrderedDict()
        self.hits = 0

    def get(self, ev: Event) -> bytes:
        hit = self._cache.get(id(ev))
        if hit is not None and hit[0] is ev:
            self.hits += 1
            return hit[1]
        data = sse(str(ev.get("type")), ev)
        self._cache[id(ev)] = (ev, data)
        if len(self._cache) > self.size:
            self._cache.popitem(last=False)
        return data
