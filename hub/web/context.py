"""What every handler reaches through the app: config, database, event bus, counters, templates."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import jinja2
from aiohttp import web

from hub.core.auth import Principal
from hub.core.config import CoreConfig
from hub.core.db import Database, utcnow
from hub.core.events import EventBus
from hub.core.features import Services
from hub.web.clientaddr import Network, client_address, networks
from hub.web.ratelimit import AccountSlowdown, LoginRateLimiter
from hub.web.sse import EncodedEvents
from hub.web.views import ViewSource

if TYPE_CHECKING:
    from hub.core.runtime import HubCore


@dataclass
class WebContext:
    config: CoreConfig
    db: Database
    events: EventBus
    stats: Callable[[], dict[str, Any]]
    templates: jinja2.Environment
    tz: ZoneInfo
    assets: dict[str, str]  # static file name → content hash, for cache-busting URLs
    views: ViewSource  # cameras as JSON fragments, counts per commune, area names (hub/web/views.py)
    clock: Callable[[], datetime] = utcnow  # naive UTC, like the database
    limiter: LoginRateLimiter = field(default_factory=LoginRateLimiter)
    slowdown: AccountSlowdown = field(default_factory=AccountSlowdown)
    counters: Counter[str] = field(default_factory=Counter)
    closing: asyncio.Event = field(default_factory=asyncio.Event)
    # argon2 takes ~64 MiB and tens of ms per check: bound how many run at once under a login flood.
    hash_slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(2))
    sse_clients: int = 0
    # Open live-event streams per user: ended at once when the user's password changes or the account is
    # disabled (streams of other hub processes notice at their next heartbeat, hub/web/api/events.py).
    user_streams: dict[int, set[asyncio.Event]] = field(default_factory=dict)
    sse_cache: EncodedEvents = field(default_factory=EncodedEvents)
    heartbeat_s: float = 15.0
    # The running hub's core when served by `python -m hub run` (MQTT publish, the state store); None in tests
    # that build the web app over a bare database.
    hub: HubCore | None = None
    # What the features provide (hub/core/features.py); handlers look their feature's service up by key and
    # answer 503 when it is not running in this process.
    services: Services = field(default_factory=Services)

    def __post_init__(self) -> None:
        self.proxies: tuple[Network, ...] = networks(self.config.http.trusted_proxies)

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] += n

    def end_streams(self, user_id: int) -> int:
        ends = self.user_streams.pop(user_id, set())
        for e in ends:
            e.set()
        return len(ends)

    def client(self, request: web.Request) -> str:
        """The client's address (through `http.trusted_proxies`): what login limits and the audit log use."""
        return client_address(request, self.proxies)


CTX = web.AppKey("ops_ctx", WebContext)
PRINCIPAL = web.RequestKey("ops_principal", Principal)  # set by the auth middleware when signed in
CSRF = web.RequestKey("ops_csrf", str)  # the session's CSRF token (absent for bearer tokens)


def ctx(request: web.Request) -> WebContext:
    return request.app[CTX]
