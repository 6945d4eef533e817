"""/api/v1/events: server-sent events. A `hello` with the current state, then live changes from the EventBus.

The subscription is opened before the state is read, so nothing that changes in between is missed (an event
may repeat what hello already shows; clients apply events as "latest wins"). A client the bus drops for being
too slow sees its stream end and reconnects, getting a fresh hello.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import datetime
from functools import partial
from typing import Any

from aiohttp import web

from hub.core.auth import Principal, credential_alive
from hub.core.db import Camera
from hub.core.events import Event
from hub.core.openapi import ApiRoute, Param
from hub.core.serialize import camera_to_dict, iso
from hub.web import params, queries, schemas
from hub.web.access import Perm, has_perm, in_scope, principal, signed_in
from hub.web.api.misc import me_dict
from hub.web.context import ctx
from hub.web.security import SESSION_COOKIE
from hub.web.sse import sse

log = logging.getLogger("hub.web")
RETRY_MS = 3000


def event_area(ev: Event) -> tuple[str, str] | None:
    """The district and commune an event is about, or None when it cannot be told (then it is not sent)."""
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


_EVENT_PERMS = {
    "camera": Perm.VIEW_CAMERAS,
    "snapshot": Perm.VIEW_CAMERAS,
    "agent": Perm.VIEW_AGENTS,
    "alert": Perm.VIEW_ALERTS,
    "speaker": Perm.VIEW_SPEAKERS,
    "airing": Perm.VIEW_BROADCASTS,
}


def visible(ev: Event, p: Principal, district: str | None = None, commune: str | None = None) -> bool:
    kind = ev.get("type")
    perm = _EVENT_PERMS.get(kind) if isinstance(kind, str) else None
    if perm is None or not has_perm(p, perm):
        return False
    area = event_area(ev)
    if area is None or not in_scope(p, *area):
        return False
    return (district is None or area[0] == district) and (commune is None or area[1] == commune)


async def _next_or_none(gen: AsyncIterator[Event]) -> Event | None:
    try:
        return await gen.__anext__()
    except StopAsyncIteration:
        return None


@signed_in  # every role has live events of its own kinds (officers: speakers, airings); visible() filters each
async def stream_events(request: web.Request) -> web.StreamResponse:
    c, p = ctx(request), principal(request)
    f = queries.CameraFilter(
        district=params.slug(request, "district"), commune=params.slug(request, "commune")
    )
    may_see_cameras = has_perm(p, Perm.VIEW_CAMERAS)
    with_cameras = params.boolean(request, "cameras", True) and may_see_cameras

    gen = c.events.subscribe()
    pending: asyncio.Task[Event | None] = asyncio.ensure_future(_next_or_none(gen))
    await asyncio.sleep(0)  # lets the subscription register its queue before the state is read
    closing = asyncio.ensure_future(c.closing.wait())
    resp = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )
    c.sse_clients += 1
    c.count("sse_connections")
    ended = asyncio.Event()  # set when the user's credentials end (password changed, account disabled)
    c.user_streams.setdefault(p.user_id, set()).add(ended)
    ending = asyncio.ensure_future(ended.wait())
    cookie = request.cookies.get(SESSION_COOKIE)
    try:
        rows = await c.db.run(lambda s: queries.fetch_cameras(s, p, f)) if may_see_cameras else []
        now, heartbeat = c.clock(), c.heartbeat_s
        # shaping and encoding thousands of cameras stays off both the SQL thread and the event loop
        hello = await asyncio.to_thread(lambda: sse("hello", _hello(rows, p, with_cameras, now, heartbeat)))
        await resp.prepare(request)
        await resp.write(f"retry: {RETRY_MS}\n\n".encode() + hello)
        while not c.closing.is_set():
            done, _ = await asyncio.wait(
                {pending, closing, ending}, timeout=c.heartbeat_s, return_when="FIRST_COMPLETED"
            )
            if ended.is_set():
                c.count("sse_credentials_ended")
                break
            if pending not in done:
                # Another hub process may have ended the session or revoked the token meanwhile.
                if not await c.db.run(partial(credential_alive, p=p, cookie=cookie, now=c.clock())):
                    c.count("sse_credentials_ended")
                    break
                if not c.closing.is_set():
                    await resp.write(b": ping\n\n")
                continue
            ev = pending.result()
            if ev is None:  # dropped by the bus (too slow) or the bus closed: the client reconnects
                c.count("sse_dropped")
                break
            pending = asyncio.ensure_future(_next_or_none(gen))
            if visible(ev, p, f.district, f.commune):
                await resp.write(c.sse_cache.get(ev))
    except ConnectionError:
        pass  # client went away
    finally:
        c.sse_clients -= 1
        mine = c.user_streams.get(p.user_id)
        if mine is not None:
            mine.discard(ended)
            if not mine:
                c.user_streams.pop(p.user_id, None)
        for t in (pending, closing, ending):
            t.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await t
        with contextlib.suppress(RuntimeError):
            await gen.aclose()  # type: ignore[attr-defined]
    return resp


def _hello(
    rows: list[Camera], p: Principal, with_cameras: bool, now: datetime, heartbeat_s: float
) -> dict[str, Any]:
    res = queries.filter_cameras(rows, queries.CameraFilter(), {})
    return {
        "server_time": iso(now),
        "user": me_dict(p),
        "counts": res.counts,
        "cameras": [camera_to_dict(x) for x in res.items] if with_cameras else None,
        "heartbeat_s": heartbeat_s,
    }


ROUTES = [
    ApiRoute(
        "GET",
        "/events",
        stream_events,
        "Live changes as server-sent events (hello first, then camera/agent/snapshot; heartbeat comments)",
        params=(
            Param("district", "Only this district", params.SLUG),
            Param("commune", "Only this commune", params.SLUG),
            Param("cameras", "Include the camera list in hello (default true)", {"type": "boolean"}),
        ),
        response=schemas.EVENT_STREAM,
        content_type="text/event-stream",
        errors=(400, 401),
    ),
]
