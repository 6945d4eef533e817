"""/api/v1/events: server-sent events. A `hello` with the current state, then live changes from the EventBus.

The subscription is opened before the state is read, so nothing that changes in between is missed (an event
may repeat what hello already shows; clients apply events as "latest wins"). A client the bus drops for being
too slow sees its stream end and reconnects, getting a fresh hello.

A client names the event types it wants (`types`) and may narrow to a district or commune: the bus then never
queues anything else for it, so a province wall that asks for `summary` (counts per commune, only when they
change) plus the cameras of the one commune it shows is not sent every health report of the province.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

from aiohttp import web

from hub.core.auth import Principal, credential_alive
from hub.core.events import Event, event_area
from hub.core.openapi import ApiRoute, Param
from hub.core.serialize import iso
from hub.web import params, schemas
from hub.web.access import Perm, has_perm, in_scope, principal, province_wide, signed_in
from hub.web.api.cameras import area_filter, summary_bytes
from hub.web.api.misc import me_dict
from hub.web.context import WebContext, ctx
from hub.web.errors import bad_parameter
from hub.web.jsonout import dumps
from hub.web.security import SESSION_COOKIE
from hub.web.sse import sse

__all__ = ["event_area", "stream_events", "visible"]
log = logging.getLogger("hub.web")
RETRY_MS = 3000

_EVENT_PERMS = {
    "camera": Perm.VIEW_CAMERAS,
    "snapshot": Perm.VIEW_CAMERAS,
    "summary": Perm.VIEW_CAMERAS,
    "agent": Perm.VIEW_AGENTS,
    "alert": Perm.VIEW_ALERTS,
    "speaker": Perm.VIEW_SPEAKERS,
    "airing": Perm.VIEW_BROADCASTS,
}
EVENT_TYPES = tuple(_EVENT_PERMS)
DEFAULT_TYPES = tuple(t for t in EVENT_TYPES if t != "summary")  # summary deltas only when asked for
_ONE_TYPE = "(" + "|".join(EVENT_TYPES) + ")"
TYPES_PATTERN = f"^{_ONE_TYPE}(,{_ONE_TYPE}){{0,{2 * len(EVENT_TYPES)}}}$"


def visible(ev: Event, p: Principal, district: str | None = None, commune: str | None = None) -> bool:
    kind = ev.get("type")
    perm = _EVENT_PERMS.get(kind) if isinstance(kind, str) else None
    if perm is None or not has_perm(p, perm):
        return False
    area = event_area(ev)
    if area is None or not in_scope(p, *area):
        return False
    return (district is None or area[0] == district) and (commune is None or area[1] == commune)


def scoped_summary(ev: Event, p: Principal, district: str | None, commune: str | None) -> Event | None:
    """A summary delta cut to the communes the caller may see and asked for (None: nothing for them; the same
    dict when nothing is cut, so its encoding is shared)."""
    if not has_perm(p, Perm.VIEW_CAMERAS):
        return None
    if province_wide(p) and district is None and commune is None:
        return ev
    keep = area_filter(p, district, commune)
    communes = [a for a in ev.get("communes", []) if keep(a["district"], a["commune"])]
    return {**ev, "communes": communes} if communes else None


def _types(request: web.Request) -> tuple[str, ...]:
    raw = params.text(request, "types", 200)
    if raw is None:
        return DEFAULT_TYPES
    names = tuple(dict.fromkeys(t.strip() for t in raw.split(",") if t.strip()))
    unknown = [t for t in names if t not in EVENT_TYPES]
    if unknown or not names:
        raise bad_parameter(
            "types", f"{raw[:70]!r} (cho phép, cách nhau bởi dấu phẩy: {', '.join(EVENT_TYPES)})"
        )
    return names


async def _next_or_none(gen: AsyncIterator[Event]) -> Event | None:
    try:
        return await gen.__anext__()
    except StopAsyncIteration:
        return None


@signed_in  # every role has live events of its own kinds (officers: speakers, airings); visible() filters each
async def stream_events(request: web.Request) -> web.StreamResponse:
    c, p = ctx(request), principal(request)
    district, commune = params.slug(request, "district"), params.slug(request, "commune")
    types = _types(request)
    may_see_cameras = has_perm(p, Perm.VIEW_CAMERAS)
    with_cameras = params.boolean(request, "cameras", True) and may_see_cameras
    with_summary = "summary" in types and may_see_cameras

    gen = c.events.subscribe(types, district, commune)
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
        hello = await _hello(c, p, district, commune, with_cameras, with_summary)
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
            if ev.get("type") == "summary":
                cut = scoped_summary(ev, p, district, commune)
                if cut is not None:
                    await resp.write(c.sse_cache.get(cut) if cut is ev else sse("summary", cut))
            elif visible(ev, p, district, commune):
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


async def _hello(
    c: WebContext,
    p: Principal,
    district: str | None,
    commune: str | None,
    with_cameras: bool,
    with_summary: bool,
) -> bytes:
    """The hello event, its camera list joined from the views' ready JSON (no camera is encoded here)."""
    views = await c.views.views()
    keep = area_filter(p, district, commune)
    head: dict[str, Any] = {
        "server_time": iso(c.clock()),
        "user": me_dict(p),
        "counts": views.counts(keep),
        "heartbeat_s": c.heartbeat_s,
    }
    summary = (
        summary_bytes(c, views, await c.views.names(), p, district, commune) if with_summary else b"null"
    )
    if with_cameras:
        items = views.query(keep, limit=max(1, len(views.cameras))).items
        cameras = b"[" + b",".join(v.json for v in items) + b"]"
    else:
        cameras = b"null"
    body = dumps(head)[:-1].encode() + b',"summary":' + summary + b',"cameras":' + cameras + b"}"
    return b"event: hello\ndata: " + body + b"\n\n"


ROUTES = [
    ApiRoute(
        "GET",
        "/events",
        stream_events,
        "Live changes as server-sent events (hello first, then the types asked for; heartbeat comments)",
        params=(
            Param("district", "Only this district", params.SLUG),
            Param("commune", "Only this commune", params.SLUG),
            Param("cameras", "Include the camera list in hello (default true)", {"type": "boolean"}),
            Param(
                "types",
                "Event types to receive, comma-separated (default: all but summary); with `summary`, hello "
                "carries the summary (as GET /cameras/summary) and `summary` events its changes",
                {"type": "string", "pattern": TYPES_PATTERN, "examples": ["summary", "camera,snapshot"]},
            ),
        ),
        response=schemas.EVENT_STREAM,
        content_type="text/event-stream",
        errors=(400, 401),
    ),
]
