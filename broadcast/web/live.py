"""The live page (/broadcasts/live) and its WebSocket (/broadcasts/live/ws): the phone's MediaRecorder chunks
(WebM/Opus) come in as binary messages, the hub answers with who is listening once a second.

Who: the emergency permission (`broadcasts.emergency`). A live voice cannot be reviewed before it airs, so
it is allowed only to those who may air without approval; everyone's session is recorded and listed.

The socket: open with `?area=district/commune&villages=a,b&priority=normal|priority|emergency` (villages
empty: the whole commune); binary messages are audio; the text message `stop` ends the session. A dropped
socket does not end it at once: the phone may come back within the grace (a new socket with `&resume=1`
is not offered yet: the session ends after the grace)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any, Literal

from aiohttp import WSMsgType, web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from broadcast.live.engine import LiveEngineError
from broadcast.live.service import LiveBusy, LiveService, LiveTargets, LiveWaits
from broadcast.live.session import EndReason
from broadcast.programmes.models import TARGET_COMMUNE, TARGET_VILLAGES, Programme
from broadcast.programmes.targets import commune_speakers, target_speakers
from broadcast.service import BROADCAST
from broadcast.web.content.create import needs_area_choice
from broadcast.web.live_recording import keep_recording
from broadcast.web.programmes.pages import tabs
from contract.payloads import format_validation_error
from contract.topics import is_slug
from hub.web import queries
from hub.web.access import Perm, in_scope, principal, requires
from hub.web.context import ctx
from hub.web.render import render
from hub.web.security import CSP

log = logging.getLogger("broadcast.live")

MIC_POLICY = "camera=(), microphone=(self), geolocation=()"
STATUS_EVERY_S = 1.0


class LiveOpen(BaseModel):
    model_config = ConfigDict(extra="forbid")
    area: str | None = Field(default=None, max_length=130)
    villages: str = Field(default="", max_length=2000)
    priority: Literal["normal", "priority", "emergency"] = "emergency"


def _live(request: web.Request) -> LiveService | None:
    svc = ctx(request).services.find(BROADCAST)
    return svc.live if svc is not None else None


@requires(Perm.AIR_EMERGENCY)
async def live_page(request: web.Request) -> web.StreamResponse:
    c, p = ctx(request), principal(request)
    communes: list[dict[str, Any]] = []
    villages: list[str] = []
    if needs_area_choice(p):
        areas = await c.db.run(lambda s: queries.list_areas(s, p, c.config))
        communes = [a for a in areas if a["commune"]]
    else:
        assert p.district is not None and p.commune is not None
        d, m = p.district, p.commune
        speakers = await c.db.run(lambda s: commune_speakers(s, d, m))
        villages = sorted({sp.village for sp in speakers if sp.village})
    live = _live(request)
    resp = render(
        request,
        "broadcast_live.html",
        tabs=tabs(request),
        enabled=live is not None,
        on_air=live.describe() if live is not None else None,
        communes=communes,
        villages=villages,
    )
    resp.headers["Content-Security-Policy"] = CSP
    resp.headers["Permissions-Policy"] = MIC_POLICY
    return resp


def _refuse(code: str, message: str) -> dict[str, Any]:
    return {"error": code, "message": message}


async def _targets(request: web.Request, q: LiveOpen) -> LiveTargets | dict[str, Any]:
    c, p = ctx(request), principal(request)
    if needs_area_choice(p):
        district, _, commune = (q.area or "").partition("/")
    else:
        assert p.district is not None and p.commune is not None
        district, commune = p.district, p.commune
    if not is_slug(district) or not is_slug(commune):
        return _refuse("bad_area", "Hãy chọn xã / phường")
    if not in_scope(p, district, commune):
        return _refuse("forbidden", "Xã / phường này nằm ngoài phạm vi của bạn")
    wanted = [v for v in q.villages.split(",") if v]
    if any(not is_slug(v) for v in wanted):
        return _refuse("bad_villages", "Mã thôn không hợp lệ")
    probe = Programme(
        district=district,
        commune=commune,
        target_kind=TARGET_VILLAGES if wanted else TARGET_COMMUNE,
        target_ids=wanted,
    )
    slugs = await c.db.run(lambda s: target_speakers(probe, commune_speakers(s, district, commune)))
    if not slugs:
        return _refuse("no_speakers", "Không có loa nào ở nơi đã chọn")
    return LiveTargets(district, commune, tuple(slugs), q.priority, principal(request).username)


@requires(Perm.AIR_EMERGENCY)
async def live_socket(request: web.Request) -> web.StreamResponse:
    live = _live(request)
    origin = request.headers.get("Origin")
    # the session cookie rides along on any site's WebSocket: only our own pages may open one
    if origin is not None and origin.split("://", 1)[-1] != request.host:
        raise web.HTTPForbidden(text="origin")
    ws = web.WebSocketResponse(heartbeat=5.0, max_msg_size=1024 * 1024)
    await ws.prepare(request)
    if live is None:
        await ws.send_json(_refuse("disabled", "Chưa bật phát trực tiếp trên máy chủ"))
        await ws.close()
        return ws
    try:
        q = LiveOpen.model_validate(dict(request.query))
    except ValidationError as exc:
        await ws.send_json(_refuse("invalid", format_validation_error(exc)))
        await ws.close()
        return ws
    targets = await _targets(request, q)
    if isinstance(targets, dict):
        await ws.send_json(targets)
        await ws.close()
        return ws
    try:
        session = await live.open(targets)
    except LiveBusy:
        await ws.send_json(_refuse("busy", "Đang có người phát trực tiếp"))
        await ws.close()
        return ws
    except LiveEngineError as exc:
        log.error("live: session refused: %s", exc)
        await ws.send_json(_refuse("engine", "Máy chủ phát trực tiếp đang lỗi; hãy báo kỹ thuật"))
        await ws.close()
        return ws
    except LiveWaits as exc:
        await ws.send_json(
            _refuse("higher_priority", f"Loa đang phát chương trình ưu tiên hơn: {exc}; hãy chờ")
        )
        await ws.close()
        return ws
    await ws.send_json({"session": session.session_id, "speakers": list(targets.speakers)})
    status = asyncio.create_task(_status(ws, live, session.session_id, len(targets.speakers)))
    limit = live.cfg.max_chunk_kb * 1024
    try:
        async for msg in ws:
            if live.session is not session:
                break
            if msg.type == WSMsgType.BINARY and len(msg.data) <= limit:
                await live.audio(msg.data)
            elif msg.type == WSMsgType.BINARY:
                live.rejected_chunks += 1
                log.warning(
                    "live %s: chunk of %d bytes over the limit dropped", session.session_id, len(msg.data)
                )
            elif msg.type == WSMsgType.TEXT and msg.data == "stop":
                await live.end(EndReason.STOPPED)
                break
    finally:
        status.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await status
    # a dropped socket leaves the session to the watchdog: it ends after the grace without audio
    await live.wait_ended(session)
    if not ws.closed:
        with contextlib.suppress(ConnectionError):
            await ws.send_json({"ended": session.ended.value if session.ended else "stopped"})
            await ws.close()
    await keep_recording(request, live, session, targets)
    return ws


async def _status(ws: web.WebSocketResponse, live: LiveService, sid: str, targeted: int) -> None:
    while not ws.closed:
        s = live.session
        if s is None or s.session_id != sid:
            with contextlib.suppress(ConnectionError):
                await ws.send_str(json.dumps({"ended": "ended"}))
                await ws.close()
            return
        listening = await live.listeners()
        with contextlib.suppress(ConnectionError):
            await ws.send_json({"listeners": listening, "targeted": targeted, "bytes": s.bytes_in})
        await asyncio.sleep(STATUS_EVERY_S)


def add_pages(app: web.Application) -> None:
    app.router.add_get("/broadcasts/live", live_page)
    app.router.add_get("/broadcasts/live/ws", live_socket)
