"""Relays on the web: the allow-list of upstream streams (administrators add, change, remove; audited), relay
content (officers), the relay report of an airing, and the page `/broadcasts/relays` with both forms."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from broadcast.content import store as content_lib
from broadcast.relays import allowlist
from broadcast.relays.allowlist import UpstreamError, UpstreamInput
from broadcast.relays.content import RELAY, RelayContentInput, create_relay
from broadcast.relays.report import relay_report
from broadcast.service import BROADCAST
from broadcast.web.content.create import needs_area_choice, resolve_area
from broadcast.web.programmes.pages import tabs
from contract.payloads import format_validation_error
from hub.core.openapi import ApiRoute, Param, json_body
from hub.web import params, queries
from hub.web.access import Perm, has_perm, principal, public, requires
from hub.web.context import ctx
from hub.web.errors import ApiError
from hub.web.jsonout import json_response
from hub.web.render import render

log = logging.getLogger("broadcast.relays")


M = TypeVar("M", bound=BaseModel)


async def _body(request: web.Request, model: type[M]) -> M:
    try:
        return model.model_validate(await request.json())
    except ValidationError as exc:
        ctx(request).count("relay_input_rejected")
        # the schema (checked before) holds: what is left is meaning (a URL scheme, a blank name)
        raise ApiError(422, "bad_field", format_validation_error(exc)[:300]) from None
    except ValueError:
        raise ApiError(400, "bad_json", "Nội dung gửi lên không phải JSON hợp lệ") from None


async def _run(request: web.Request, fn: Any) -> Any:
    try:
        return await ctx(request).db.run(fn)
    except UpstreamError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from None
    except content_lib.ContentError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from None


def _uid(request: web.Request) -> int:
    return int(request.match_info["id"])


@requires(Perm.VIEW_BROADCASTS)
async def list_upstreams(request: web.Request) -> web.Response:
    items = await ctx(request).db.run(allowlist.list_upstreams)
    return json_response({"items": items})


@requires(Perm.MANAGE_DEVICES)
async def add_upstream(request: web.Request) -> web.Response:
    c, p = ctx(request), principal(request)
    body = await _body(request, UpstreamInput)
    now = c.clock()
    item = await _run(request, lambda s: allowlist.add_upstream(s, body, p.username, now))
    log.info("relay upstream %s (%s) added by %s", item["id"], item["url"], p.username)
    return json_response(item, status=201)


@requires(Perm.MANAGE_DEVICES)
async def update_upstream(request: web.Request) -> web.Response:
    c, p, uid = ctx(request), principal(request), _uid(request)
    body = await _body(request, UpstreamInput)
    now = c.clock()
    return json_response(
        await _run(request, lambda s: allowlist.update_upstream(s, uid, body, p.username, now))
    )


@requires(Perm.MANAGE_DEVICES)
async def remove_upstream(request: web.Request) -> web.Response:
    c, p, uid = ctx(request), principal(request), _uid(request)
    now = c.clock()
    return json_response(await _run(request, lambda s: allowlist.remove_upstream(s, uid, p.username, now)))


@requires(Perm.EDIT_BROADCASTS)
async def add_relay_content(request: web.Request) -> web.Response:
    c, p = ctx(request), principal(request)
    body = await _body(request, RelayContentInput)
    now = c.clock()

    def create(s: Session) -> dict[str, Any]:
        district, commune = resolve_area(s, p, c.config, body.district, body.commune)
        return content_lib.content_dict(create_relay(s, body, district, commune, p.username, now))

    item = await _run(request, create)
    log.info("relay content %s created by %s", item["id"], p.username)
    return json_response(item, status=201)


@requires(Perm.VIEW_BROADCASTS)
async def get_relay_report(request: web.Request) -> web.Response:
    c, p = ctx(request), principal(request)
    airing = request.match_info["airing"]
    found = await c.db.run(lambda s: relay_report(s, p, airing))
    if found is None:
        raise ApiError(404, "not_found", "Lượt phát này không có tiếp âm (hoặc ngoài phạm vi của bạn)")
    return json_response(found)


@requires(Perm.VIEW_BROADCASTS)
async def relays_page(request: web.Request) -> web.Response:
    c, p = ctx(request), principal(request)
    params.reject_unknown(request, ())

    def load(s: Session) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        visible = content_lib.list_content(s, p, limit=500, offset=0)[0]  # newest first, in scope
        return [x for x in visible if x["source"] != RELAY], [x for x in visible if x["source"] == RELAY]

    recordings, relays = await c.db.run(load)
    upstreams = await c.db.run(allowlist.list_upstreams)
    communes: list[dict[str, Any]] = []
    if needs_area_choice(p):
        areas = await c.db.run(lambda s: queries.list_areas(s, p, c.config))
        communes = [a for a in areas if a["commune"]]
    return render(
        request,
        "broadcast_relays.html",
        tabs=tabs(request),
        communes=communes,
        upstream_names={u["id"]: u["name"] for u in upstreams},
        upstreams=upstreams,
        recordings=recordings,
        relays=relays,
        can_manage=has_perm(p, Perm.MANAGE_DEVICES),
        can_edit=has_perm(p, Perm.EDIT_BROADCASTS),
    )


_TOKEN = re.compile(r"^[0-9a-f]{32}$")


@public
async def relay_chunk(request: web.Request) -> web.StreamResponse:
    """Chunk {seq} of a relay's re-stream (the 128-bit token is the capability, as the sha256 of /media);
    404 until the hub has cut it, which the receiver retries until its play time."""
    service = ctx(request).services.find(BROADCAST)
    token, seq = request.match_info["token"], request.match_info["seq"]
    if service is None or not _TOKEN.match(token) or not seq.isdigit() or len(seq) > 6:
        raise ApiError(404, "not_found", "Không có đoạn tiếp âm này")
    path = await asyncio.to_thread(service.relays.chunk_path, token, int(seq))
    if path is None:
        raise ApiError(404, "not_found", "Không có đoạn tiếp âm này")
    return web.FileResponse(
        path, headers={"Content-Type": "application/octet-stream", "Cache-Control": "no-store"}
    )


def add_pages(app: web.Application) -> None:
    app.router.add_get("/broadcasts/relays", relays_page)
    app.router.add_get("/relay/{token}/{seq}.pcm", relay_chunk)


def _schema(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema()
    schema.pop("title", None)
    return schema


_UPSTREAM: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"}, "name": {"type": "string"}, "url": {"type": "string"},
        "protocol": {"enum": ["http", "hls", "rtsp"]}, "enabled": {"type": "boolean"},
        "note": {"type": ["string", "null"]}, "created_by": {"type": "string"},
        "created_at": {"type": ["string", "null"]}, "updated_at": {"type": ["string", "null"]},
    },
}  # fmt: skip
_ID = Param("id", "Allow-list entry", {"type": "integer", "minimum": 1, "maximum": 999_999_999}, where="path")
_ID_PATH = r"/relay-upstreams/{id:\d{1,9}}"
ROUTES = [
    ApiRoute("GET", "/relay-upstreams", list_upstreams, "The allow-list of upstream streams relays may play",
             response={"type": "object", "properties": {"items": {"type": "array", "items": _UPSTREAM}}}),
    ApiRoute("POST", "/relay-upstreams", add_upstream,
             "Add an upstream stream to the allow-list (administrators; audited); 409 when the URL is listed",
             body=json_body(_schema(UpstreamInput)), response=_UPSTREAM, status=201, errors=(400, 401, 403, 409, 415, 422)),
    ApiRoute("PUT", _ID_PATH, update_upstream, "Change an allow-list entry (administrators; audited)", params=(_ID,),
             body=json_body(_schema(UpstreamInput)), response=_UPSTREAM, errors=(400, 401, 403, 404, 409, 415, 422)),
    ApiRoute("DELETE", _ID_PATH, remove_upstream, "Remove an allow-list entry (administrators; audited); relays "
             "naming it no longer air", params=(_ID,), response=_UPSTREAM, errors=(400, 401, 403, 404)),
    ApiRoute("POST", "/content/relay", add_relay_content,
             "Relay content: an allow-listed upstream played for duration_min, optionally with a fallback recording; "
             "schedule it with a programme like any content. 422 when the upstream is not allowed or the fallback unfit",
             body=json_body(_schema(RelayContentInput)), response={"type": "object"}, status=201,
             errors=(400, 401, 403, 415, 422)),
    ApiRoute("GET", r"/airings/{airing:[a-z0-9][a-z0-9_-]{0,63}}/relay", get_relay_report,
             "What was relayed in an airing: minutes relayed, gaps (lost or silent upstream), fallback, speakers",
             params=(Param("airing", "Airing id", params.SLUG, where="path"),),
             response={"type": "object"}, errors=(400, 401, 403, 404)),
]  # fmt: skip
