"""Emergency broadcasts from the web: air an emergency programme now, or compose and air one in a single step.
No prior approval; the step is recorded and the programme is listed for review."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from aiohttp import web

from broadcast.config import broadcast_settings
from broadcast.programmes.input import ProgrammeError, parse_programme
from broadcast.programmes.save import save_programme
from broadcast.web.programmes import views
from broadcast.web.programmes.http import (
    comment_of,
    count_refusal,
    error_response,
    loaded,
    log,
    read_body,
    scheduler_of,
)
from hub.web.access import Perm, in_scope, principal, requires
from hub.web.context import ctx
from hub.web.jsonout import json_response

UNAVAILABLE = "Bộ lập lịch phát thanh không chạy trên máy chủ này; không phát được"


@requires(Perm.AIR_EMERGENCY)
async def air_now(request: web.Request) -> web.Response:
    """Emergency: airs the programme at once (no prior approval); body {"confirm": true}."""
    c, who = ctx(request), principal(request)
    body = await read_body(request)
    pid = int(request.match_info["id"])
    try:
        comment_of(body)
        if body.get("confirm") is not True:
            raise ProgrammeError("confirm", "Cần xác nhận phát khẩn cấp (confirm: true)")
        await c.db.run(lambda s: loaded(s, who, pid))
        sched = scheduler_of(request)
        if sched is None:
            raise ProgrammeError(
                "scheduler",
                "Bộ lập lịch phát thanh không chạy trên máy chủ này; không phát được",
                503,
                "unavailable",
            )
        airing = await sched.air_now(pid, who.username)
    except ProgrammeError as exc:
        count_refusal(request, "air_now", exc)
        return error_response(exc)
    log.warning("emergency airing %s of programme %d by %s", airing, pid, who.username)
    c.count("programme_emergency_aired")
    detail = await c.db.run(lambda s: views.programme_detail(s, loaded(s, who, pid), c.clock(), c.tz))
    detail["airing_id"] = airing
    return json_response(detail, status=201)


@requires(Perm.AIR_EMERGENCY)
async def create_emergency(request: web.Request) -> web.Response:
    """Emergency in one step: a `now` programme at emergency priority, created and aired at once; body as for
    create (schedule/priority are set here) plus {"confirm": true}."""
    c, who = ctx(request), principal(request)
    body = await read_body(request)
    now = c.clock()
    try:
        if body.pop("confirm", None) is not True:
            raise ProgrammeError("confirm", "Cần xác nhận phát khẩn cấp (confirm: true)")
        body.update(schedule={"kind": "now"}, priority="emergency", repeats=body.get("repeats", 1))
        inp = parse_programme(body, now.replace(tzinfo=UTC), c.tz)
        if not in_scope(who, inp.district, inp.commune):
            raise ProgrammeError("commune", "Xã này nằm ngoài phạm vi quản lý của bạn", 403, "forbidden")
        sched = scheduler_of(request)
        if sched is None:
            raise ProgrammeError(
                "scheduler",
                "Bộ lập lịch phát thanh không chạy trên máy chủ này; không phát được",
                503,
                "unavailable",
            )
        cfg = broadcast_settings(c.config).schedule

        def run(s: Any) -> int:
            res = save_programme(
                s, inp, who.username, now, c.tz, cfg.conflict_horizon_days, ignore_conflicts=True
            )
            assert res.programme is not None
            return res.programme.id

        pid = await c.db.run(run)
        airing = await sched.air_now(pid, who.username)
    except ProgrammeError as exc:
        count_refusal(request, "emergency", exc)
        return error_response(exc)
    log.warning("emergency programme %d aired as %s by %s", pid, airing, who.username)
    c.count("programme_emergency_aired")
    detail = await c.db.run(lambda s: views.programme_detail(s, loaded(s, who, pid), c.clock(), c.tz))
    detail["airing_id"] = airing
    return json_response(detail, status=201)
