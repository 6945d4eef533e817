"""/api/v1 agents, areas, stats, me and the OpenAPI document."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from hub.core import keyset
from hub.core.auth import Principal
from hub.core.openapi import ApiRoute, Param, build_document
from hub.core.serialize import agent_to_dict
from hub.web import params, queries, schemas
from hub.web.access import Perm, perms_of, principal, requires, signed_in
from hub.web.context import CTX, ctx
from hub.web.jsonout import json_response

log = logging.getLogger("hub.web")
API_VERSION = "1.0.0"
ROUTE_TABLE = web.AppKey("ops_api_routes", list[ApiRoute])


AGENTS_LIMIT, AGENTS_MAX = 500, 1000


@requires(Perm.VIEW_AGENTS)
async def list_agents(request: web.Request) -> web.Response:
    c, p = ctx(request), principal(request)
    district = params.slug(request, "district")
    commune = params.slug(request, "commune")
    limit = params.integer(request, "limit", AGENTS_LIMIT, 1, AGENTS_MAX)
    after = params.cursor(request, (str, str, str))
    rows = await c.db.read(
        lambda s: [agent_to_dict(a) for a in queries.list_agents(s, p, district, commune, after, limit)]
    )
    items, nxt = keyset.page(rows, limit, lambda a: (a["district"], a["commune"], a["id"]))
    return json_response({"items": items, "next_cursor": nxt})


@requires(Perm.VIEW_CAMERAS)
async def list_areas(request: web.Request) -> web.Response:
    c, p = ctx(request), principal(request)
    items = await c.db.read(lambda s: queries.list_areas(s, p, c.config))
    return json_response({"items": items})


def web_stats(app: web.Application) -> dict[str, Any]:
    c = app[CTX]
    return {
        "sse_clients": c.sse_clients,
        "event_subscribers": c.events.local_subscribers,
        "event_subscribers_dropped": c.events.dropped_subscribers,
        "counters": dict(sorted(c.counters.items())),
    }


@requires(Perm.VIEW_STATS)
async def get_stats(request: web.Request) -> web.Response:
    c = ctx(request)
    try:
        hub_stats = c.stats()
    except Exception as exc:  # the web must keep answering even if the runtime's counters break
        log.exception("hub stats unavailable")
        hub_stats = {"error": f"không đọc được số liệu hub: {type(exc).__name__}"}
    return json_response({"hub": hub_stats, "web": web_stats(request.app)})


def me_dict(p: Principal) -> dict[str, Any]:
    return {
        "username": p.username,
        "full_name": p.full_name,
        "role": p.role,
        "district": p.district,
        "commune": p.commune,
        "permissions": perms_of(p),
        "via": p.via,
    }


@signed_in
async def get_me(request: web.Request) -> web.Response:
    return json_response(me_dict(principal(request)))


@signed_in
async def get_openapi(request: web.Request) -> web.Response:
    c = ctx(request)
    doc = build_document(request.app[ROUTE_TABLE], c.config.http.public_url, API_VERSION)
    return json_response(doc)


_AREA_FILTERS = (
    Param("district", "Only this district (slug)", params.SLUG),
    Param("commune", "Only this commune (slug)", params.SLUG),
)

ROUTES = [
    ApiRoute(
        "GET",
        "/agents",
        list_agents,
        "Edge agents in scope, sorted by district, commune, id; paged by cursor",
        (*_AREA_FILTERS, *schemas.page_params(AGENTS_LIMIT, AGENTS_MAX)),
        schemas.AGENT_LIST,
        errors=(400, 401, 403, 422),
    ),
    ApiRoute(
        "GET",
        "/areas",
        list_areas,
        "Districts and communes in scope, with display names",
        (),
        schemas.AREA_LIST,
    ),
    ApiRoute("GET", "/stats", get_stats, "Hub and web counters", (), schemas.STATS),
    ApiRoute("GET", "/me", get_me, "The caller: role, scope, permissions", (), schemas.ME, errors=(401,)),
    ApiRoute(
        "GET", "/openapi.json", get_openapi, "This OpenAPI 3.1 document", (), schemas.OPENAPI, errors=(401,)
    ),
]
