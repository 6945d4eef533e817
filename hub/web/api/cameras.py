"""/api/v1/cameras…: list with filters and counts, one camera, its snapshot, its transition history."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from aiohttp import web

from hub.core.db import STATUSES, Camera, utc
from hub.core.openapi import ApiRoute, Param
from hub.core.serialize import camera_to_dict, transition_to_dict
from hub.core.snapshots import SnapshotStore
from hub.web import params, queries, schemas
from hub.web.access import Perm, principal, requires
from hub.web.context import ctx
from hub.web.errors import bad_parameter, not_found, unprocessable
from hub.web.jsonout import dumps, json_response

MAX_LIMIT = 50_000
SLUG = params.SLUG_PATTERN
CAMERA_PATH = f"/cameras/{{district:{SLUG}}}/{{commune:{SLUG}}}/{{camera:{SLUG}}}"


def camera_filter(request: web.Request) -> queries.CameraFilter:
    return queries.CameraFilter(
        district=params.slug(request, "district"),
        commune=params.slug(request, "commune"),
        status=params.choice(request, "status", STATUSES),
        q=params.text(request, "q", 100),
    )


@requires(Perm.VIEW_CAMERAS)
async def list_cameras(request: web.Request) -> web.Response:
    c, p = ctx(request), principal(request)
    f = camera_filter(request)
    limit = params.integer(request, "limit", MAX_LIMIT, 1, MAX_LIMIT)
    offset = params.integer(request, "offset", 0, 0, MAX_OFFSET)

    cams, names = await c.db.run(lambda s: (queries.fetch_cameras(s, p, f), queries.area_names(s, c.config)))

    def build() -> str:  # in a worker thread when large: 20,000 cameras take ~0.4 s to shape and encode
        res = queries.filter_cameras(cams, f, names)
        page = res.items[offset : offset + limit]
        return dumps(
            {
                "items": [camera_to_dict(x) for x in page],
                "total": res.total,
                "counts": res.counts,
                "limit": limit,
                "offset": offset,
            }
        )

    body = await asyncio.to_thread(build) if len(cams) > 500 else build()
    return web.Response(text=body, content_type="application/json")


async def _camera_or_404(request: web.Request) -> Camera:
    c, p = ctx(request), principal(request)
    d, co, cam = (request.match_info[k] for k in ("district", "commune", "camera"))
    found = await c.db.run(lambda s: queries.get_camera(s, p, d, co, cam))
    if found is None:
        raise not_found(f"Không có camera {d}/{co}/{cam}")
    return found


@requires(Perm.VIEW_CAMERAS)
async def get_camera(request: web.Request) -> web.Response:
    return json_response(camera_to_dict(await _camera_or_404(request)))


@requires(Perm.VIEW_CAMERAS)
async def get_snapshot(request: web.Request) -> web.Response:
    cam = await _camera_or_404(request)
    params.text(request, "v", 64)  # cache-buster from the page; validated, otherwise unused
    inm = request.headers.get("If-None-Match")
    snap = await ctx(request).db.run(lambda s: queries.get_snapshot(s, cam.key, inm))
    if snap is None:
        raise not_found(f"Camera {cam.key} chưa có ảnh chụp")
    headers = {
        "ETag": snap.etag,
        "Cache-Control": "private, no-cache",
        "Last-Modified": _http_date(snap.ts),
    }
    if snap.path is None:
        return web.Response(status=304, headers=headers)
    jpeg = await asyncio.to_thread(SnapshotStore.for_config(ctx(request).config).read, snap.path)
    if jpeg is None:  # the file went missing under its index row (disk replaced, folder cleaned by hand)
        raise not_found(f"Camera {cam.key} chưa có ảnh chụp")
    return web.Response(body=jpeg, content_type="image/jpeg", headers=headers)


def _http_date(ts: datetime) -> str:
    d = utc(ts)
    assert d is not None
    return d.strftime("%a, %d %b %Y %H:%M:%S GMT")


_EPOCH = datetime(1970, 1, 1)
_MICRO = timedelta(microseconds=1)


def parse_cursor(value: str | None) -> tuple[datetime, int] | None:
    """`{microseconds since epoch}_{id}` of the last row seen; exact integers, so no row is skipped."""
    if value is None:
        return None
    try:
        micros, tid = value.split("_", 1)
        return _EPOCH + int(micros) * _MICRO, int(tid)
    except (ValueError, OverflowError):
        raise bad_parameter("cursor", "không đúng định dạng; dùng nguyên giá trị next_cursor") from None


def format_cursor(at: datetime, tid: int) -> str:
    return f"{(at.replace(tzinfo=None) - _EPOCH) // _MICRO}_{tid}"


@requires(Perm.VIEW_CAMERAS)
async def get_transitions(request: web.Request) -> web.Response:
    cam = await _camera_or_404(request)
    since = params.time(request, "since")
    until = params.time(request, "until")
    if since and until and since >= until:
        raise unprocessable("until", "phải sau 'since'")
    limit = params.integer(request, "limit", 100, 1, 1000)
    before = parse_cursor(params.text(request, "cursor", 64))
    rows, nxt = await ctx(request).db.run(
        lambda s: queries.transitions(s, cam.key, since, until, before, limit)
    )
    return json_response(
        {
            "items": [transition_to_dict(t) for t in rows],
            "next_cursor": format_cursor(*nxt) if nxt else None,
        }
    )


MAX_OFFSET = 10_000_000
CURSOR_PATTERN = r"^[0-9]{1,17}_[0-9]{1,18}$"  # within datetime's range and SQL's 64-bit ids
_FILTERS = (
    Param("district", "Only this district (slug)", params.SLUG),
    Param("commune", "Only this commune (slug)", params.SLUG),
    Param("status", "Only this status", {"type": "string", "enum": list(STATUSES)}),
    Param(
        "q", "Search id, name, commune; case- and diacritic-insensitive", {"type": "string", "maxLength": 100}
    ),
)
CAMERA_PARAMS = tuple(
    Param(n, f"{n.capitalize()} slug", params.SLUG, where="path", example=ex)
    for n, ex in (("district", "soc-son"), ("commune", "phu-linh"), ("camera", "cho"))
)

ROUTES = [
    ApiRoute(
        "GET",
        "/cameras",
        list_cameras,
        "Cameras in the caller's scope, sorted by district, commune, id, with counts per status",
        params=(
            *_FILTERS,
            Param("limit", "Page size", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}),
            Param("offset", "Items to skip", {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET}),
        ),
        response=schemas.CAMERA_LIST,
    ),
    ApiRoute(
        "GET",
        CAMERA_PATH,
        get_camera,
        "One camera's current state",
        params=CAMERA_PARAMS,
        response=schemas.CAMERA,
        errors=(400, 401, 403, 404),
    ),
    ApiRoute(
        "GET",
        CAMERA_PATH + "/snapshot",
        get_snapshot,
        "Latest JPEG snapshot (ETag / If-None-Match supported); 404 when the camera has none yet",
        params=(*CAMERA_PARAMS, Param("v", "Cache-buster, ignored", {"type": "string", "maxLength": 64})),
        response={"type": "string", "contentMediaType": "image/jpeg"},
        content_type="image/jpeg",
        errors=(304, 400, 401, 403, 404),
        headers={
            "ETag": "Of this snapshot; send it back in If-None-Match",
            "Last-Modified": "When the snapshot was taken",
            "Cache-Control": "private, no-cache",
        },
    ),
    ApiRoute(
        "GET",
        CAMERA_PATH + "/transitions",
        get_transitions,
        "Status changes of one camera, newest first, paged",
        params=(
            *CAMERA_PARAMS,
            Param("since", "From (inclusive)", params.TIME),
            Param("until", "To (exclusive); 422 when not after since", params.TIME),
            Param("limit", "Page size", {"type": "integer", "minimum": 1, "maximum": 1000}),
            Param(
                "cursor", "`next_cursor` of the previous page", {"type": "string", "pattern": CURSOR_PATTERN}
            ),
        ),
        response=schemas.TRANSITION_PAGE,
        errors=(400, 401, 403, 404, 422),
    ),
]
