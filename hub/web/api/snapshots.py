"""/api/v1/cameras/{d}/{c}/{id}/snapshots: the snapshots kept for one camera (hub/core/snapshots.py: the newest
few and one an hour for a day, by default), and any one of them by its time. The latest is `…/snapshot`."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from hub.core.openapi import ApiRoute, Param
from hub.core.snapshots import SnapshotStore
from hub.web import params
from hub.web.access import Perm, requires
from hub.web.api.cameras import CAMERA_PATH, _camera_or_404
from hub.web.context import ctx
from hub.web.errors import not_found
from hub.web.jsonout import json_response


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@requires(Perm.VIEW_CAMERAS)
async def list_snapshots(request: web.Request) -> web.Response:
    cam = await _camera_or_404(request)
    store = SnapshotStore.for_config(ctx(request).config)
    stamps = await asyncio.to_thread(store.stamps, cam.key)
    base = f"/api/v1/cameras/{cam.key}/snapshots"
    items = [{"t": _iso(ms), "ms": ms, "url": f"{base}/{ms}"} for ms in stamps]
    return json_response({"camera": cam.key, "items": items})


@requires(Perm.VIEW_CAMERAS)
async def get_snapshot_at(request: web.Request) -> web.Response:
    cam = await _camera_or_404(request)
    ms = int(request.match_info["ms"])
    store = SnapshotStore.for_config(ctx(request).config)
    jpeg = await asyncio.to_thread(store.read_at, cam.key, ms)
    if jpeg is None:
        raise not_found(f"Camera {cam.key} không còn ảnh chụp lúc {_iso(ms)}")
    # a kept snapshot never changes under its time: cache it
    return web.Response(
        body=jpeg, content_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"}
    )


LIST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["camera", "items"],
    "properties": {
        "camera": {"type": "string"},
        "items": {
            "type": "array",
            "description": "Newest first",
            "items": {
                "type": "object",
                "required": ["t", "ms", "url"],
                "properties": {
                    "t": {
                        "type": "string",
                        "format": "date-time",
                        "description": "Device time of the picture",
                    },
                    "ms": {"type": "integer", "description": "The same, in ms since the epoch"},
                    "url": {"type": "string", "description": "The JPEG"},
                },
            },
        },
    },
}
_CAMERA_PARAMS = tuple(
    Param(
        n, f"{n.capitalize()} slug", {"type": "string", "pattern": f"^{params.SLUG_PATTERN}$"}, where="path"
    )
    for n in ("district", "commune", "camera")
)
ROUTES = [
    ApiRoute(
        "GET",
        CAMERA_PATH + "/snapshots",
        list_snapshots,
        "The snapshots kept for one camera, newest first (the latest few and one an hour for a day)",
        params=_CAMERA_PARAMS,
        response=LIST_SCHEMA,
        errors=(401, 403, 404),
    ),
    ApiRoute(
        "GET",
        CAMERA_PATH + r"/snapshots/{ms:\d{1,16}}",
        get_snapshot_at,
        "One kept snapshot (image/jpeg) by its time in ms, as the list gives it",
        params=(
            *_CAMERA_PARAMS,
            Param("ms", "Device time of the picture, ms since the epoch", {"type": "integer"}, where="path"),
        ),
        response={"type": "string", "contentMediaType": "image/jpeg"},
        content_type="image/jpeg",
        errors=(401, 403, 404),
    ),
]
