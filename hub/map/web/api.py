"""GET /api/v1/map/features: what the map page draws (hub/map/layers.py), in the caller's scope and of the
kinds its role may see."""

from __future__ import annotations

import asyncio

from aiohttp import web

from hub.core.openapi import ApiRoute
from hub.map.layers import fetch_rows, shape
from hub.map.web.pages import may_see
from hub.web import queries
from hub.web.access import principal, signed_in
from hub.web.context import ctx
from hub.web.jsonout import dumps


@signed_in
async def get_features(request: web.Request) -> web.Response:
    cams, sps = may_see(request)
    c, p = ctx(request), principal(request)
    rows, names = await c.db.run(
        lambda s: (fetch_rows(s, p, cameras=cams, speakers=sps), queries.area_names(s, c.config))
    )
    # Shaped and encoded off both the SQL thread and the event loop: a province is ~10,000 points.
    body = await asyncio.to_thread(lambda: dumps(shape(rows, names)))
    return web.Response(text=body, content_type="application/json")


_NUM = {"type": "number"}
_STR = {"type": "string"}
_OPT = {"type": ["string", "null"]}
CAMERA = {
    "type": "object",
    "required": ["key", "id", "name", "status", "purpose", "owner_kind", "owner_name"],
    "properties": {"key": _STR, "id": _STR, "name": _STR, "status": _STR, "purpose": _OPT, "owner_kind": _OPT,
                   "owner_name": _OPT},
}  # fmt: skip
POINT = {
    "type": "object",
    "required": ["key", "district", "commune", "id", "name", "lat", "lon", "address", "cameras"],
    "properties": {"key": _STR, "district": _STR, "commune": _STR, "id": _STR, "name": _STR, "lat": _NUM,
                   "lon": _NUM, "address": _OPT, "cameras": {"type": "array", "items": CAMERA}},
}  # fmt: skip
SPEAKER = {
    "type": "object",
    "required": ["key", "district", "commune", "id", "name", "lat", "lon", "status"],
    "properties": {"key": _STR, "district": _STR, "commune": _STR, "id": _STR, "name": _STR, "lat": _NUM,
                   "lon": _NUM, "status": _STR},
}  # fmt: skip
LABEL = {
    "type": "object",
    "required": ["district", "commune", "name", "lat", "lon"],
    "properties": {"district": _STR, "commune": _STR, "name": _STR, "lat": _NUM, "lon": _NUM},
}
FEATURES = {
    "type": "object",
    "required": ["points", "speakers", "communes"],
    "properties": {
        "points": {
            "type": "array",
            "items": POINT,
            "description": "Camera points (empty without cameras.view)",
        },
        "speakers": {
            "type": "array",
            "items": SPEAKER,
            "description": "Speakers with a position (empty without speakers.view)",
        },
        "communes": {"type": "array", "items": LABEL, "description": "Where each commune's name is drawn"},
    },
}

ROUTES = [
    ApiRoute(
        "GET",
        "/map/features",
        get_features,
        "What the map draws: camera points with their cameras' status, purpose and owner; speakers with a"
        " position; commune labels",
        (),
        FEATURES,
    )
]
