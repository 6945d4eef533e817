"""/api/v1/cameras…: list with filters and counts, one camera, its snapshot, its transition history."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from hub.core.auth import Principal
from hub.core.camera_views import AreaView, CameraViews
from hub.core.db import STATUSES, Camera, utc
from hub.core.keyset import encode_cursor
from hub.core.labels import fold
from hub.core.openapi import ApiRoute, Param
from hub.core.serialize import transition_to_dict
from hub.core.snapshots import SnapshotStore
from hub.web import params, queries, schemas
from hub.web.access import Perm, in_scope, principal, province_wide, requires
from hub.web.context import WebContext, ctx
from hub.web.errors import bad_parameter, not_found, unprocessable
from hub.web.etag import caller_tag, json_bytes, matches, not_modified, weak_etag
from hub.web.jsonout import dumps, json_response

DEFAULT_LIMIT = 200
MAX_LIMIT = 1000
SLUG = params.SLUG_PATTERN
CAMERA_PATH = f"/cameras/{{district:{SLUG}}}/{{commune:{SLUG}}}/{{camera:{SLUG}}}"
CURSOR_TYPES = (str, str, str)  # district, commune, id: the list's sort key


def camera_filter(request: web.Request) -> queries.CameraFilter:
    return queries.CameraFilter(
        district=params.slug(request, "district"),
        commune=params.slug(request, "commune"),
        status=params.choice(request, "status", STATUSES),
        q=params.text(request, "q", 100),
    )


def area_filter(p: Principal, district: str | None, commune: str | None) -> Callable[[str, str], bool]:
    """The communes a caller may see, narrowed by the district/commune filters."""

    def keep(d: str, c: str) -> bool:
        return (district is None or d == district) and (commune is None or c == commune) and in_scope(p, d, c)

    return keep


@requires(Perm.VIEW_CAMERAS)
async def list_cameras(request: web.Request) -> web.Response:
    c, p = ctx(request), principal(request)
    f = camera_filter(request)
    limit = params.integer(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    after = params.cursor(request, CURSOR_TYPES)
    views = await c.views.views()
    keep = area_filter(p, f.district, f.commune)
    names = await c.views.names() if f.q else None
    # The version of the communes asked about: a health report elsewhere in the province keeps this ETag.
    rev = max((a.rev for a in views.select_areas(keep)), default=0)
    etag = weak_etag("c", views.epoch, rev, c.views.names_tag if f.q else 0, caller_tag(request, p))
    if matches(request, etag):
        return not_modified(etag)
    res = views.query(keep, f.status, fold(f.q) if f.q else None, names, after, limit)
    tail = dumps(
        {
            "total": res.total,
            "counts": res.counts,
            "limit": limit,
            "next_cursor": encode_cursor(res.next_after) if res.next_after else None,
        }
    )
    body = b'{"items":[' + b",".join(v.json for v in res.items) + b"]," + tail[1:].encode()
    return json_bytes(body, etag)


@requires(Perm.VIEW_CAMERAS)
async def camera_summary(request: web.Request) -> web.Response:
    """Counts per status for each commune (problems first) and each district: where a province wall starts."""
    c, p = ctx(request), principal(request)
    district = params.slug(request, "district")
    views = await c.views.views()
    names = await c.views.names()
    etag = weak_etag("s", views.epoch, views.summary_version, c.views.names_tag, caller_tag(request, p))
    if matches(request, etag):
        return not_modified(etag)
    return json_bytes(summary_bytes(c, views, names, p, district, None), etag)


def summary_bytes(
    c: WebContext,
    views: CameraViews,
    names: dict[tuple[str, str], str],
    p: Principal,
    district: str | None,
    commune: str | None,
) -> bytes:
    """The summary's JSON, built once per version, names and scope however many walls ask for it."""
    scope = None if province_wide(p) else (p.district, p.commune)
    key = ("summary", views.epoch, views.summary_version, c.views.names_tag, scope, district, commune)
    return c.views.answer(key, lambda: summary_json(views, area_filter(p, district, commune), names))


def summary_dict(
    views: CameraViews, keep: Callable[[str, str], bool], names: dict[tuple[str, str], str]
) -> dict[str, Any]:
    areas = views.summary(keep)
    head = _summary_head(views, areas, names)
    return {
        **head,
        "communes": [{**a.summary(), "name": names.get((a.district, a.commune), a.commune)} for a in areas],
    }


def summary_json(
    views: CameraViews, keep: Callable[[str, str], bool], names: dict[tuple[str, str], str]
) -> bytes:
    """`summary_dict` encoded, from each commune's entry encoded once per change of its counts."""
    areas = views.summary(keep)
    head = dumps(_summary_head(views, areas, names))[:-1].encode()
    entries = b",".join(a.summary_json(names.get((a.district, a.commune), a.commune)) for a in areas)
    return head + b',"communes":[' + entries + b"]}"


def _summary_head(
    views: CameraViews, areas: list[AreaView], names: dict[tuple[str, str], str]
) -> dict[str, Any]:
    total = dict.fromkeys(STATUSES, 0)
    districts: dict[str, dict[str, Any]] = {}
    for a in areas:
        d = districts.get(a.district)
        if d is None:
            d = districts[a.district] = {
                "district": a.district,
                "name": names.get((a.district, ""), a.district),
                "counts": dict.fromkeys(STATUSES, 0),
                "total": 0,
            }
        for st, n in a.counts.items():
            total[st] += n
            d["counts"][st] += n
        d["total"] += a.total
    return {
        "epoch": views.epoch,
        "version": views.summary_version,
        "counts": total,
        "total": sum(total.values()),
        "districts": [districts[k] for k in sorted(districts)],
    }


async def _camera_or_404(request: web.Request) -> Camera:
    c, p = ctx(request), principal(request)
    d, co, cam = (request.match_info[k] for k in ("district", "commune", "camera"))
    found = await c.db.read(lambda s: queries.get_camera(s, p, d, co, cam))
    if found is None:
        raise not_found(f"Không có camera {d}/{co}/{cam}")
    return found


@requires(Perm.VIEW_CAMERAS)
async def get_camera(request: web.Request) -> web.Response:
    c, p = ctx(request), principal(request)
    d, co, cam = (request.match_info[k] for k in ("district", "commune", "camera"))
    views = await c.views.views()
    view = views.get(f"{d}/{co}/{cam}") if in_scope(p, d, co) else None
    if view is None:
        raise not_found(f"Không có camera {d}/{co}/{cam}")
    etag = weak_etag("k", views.epoch, view.rev)
    if matches(request, etag):
        return not_modified(etag)
    return json_bytes(view.json, etag)


@requires(Perm.VIEW_CAMERAS)
async def get_snapshot(request: web.Request) -> web.Response:
    cam = await _camera_or_404(request)
    params.text(request, "v", 64)  # cache-buster from the page; validated, otherwise unused
    inm = request.headers.get("If-None-Match")
    snap = await ctx(request).db.read(lambda s: queries.get_snapshot(s, cam.key, inm))
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
    rows, nxt = await ctx(request).db.read(
        lambda s: queries.transitions(s, cam.key, since, until, before, limit)
    )
    return json_response(
        {
            "items": [transition_to_dict(t) for t in rows],
            "next_cursor": format_cursor(*nxt) if nxt else None,
        }
    )


CURSOR_PATTERN = r"^[0-9]{1,17}_[0-9]{1,18}$"  # within datetime's range and SQL's 64-bit ids
_FILTERS = (
    Param("district", "Only this district (slug)", params.SLUG),
    Param("commune", "Only this commune (slug)", params.SLUG),
    Param("status", "Only this status", {"type": "string", "enum": list(STATUSES)}),
    Param(
        "q", "Search id, name, commune; case- and diacritic-insensitive", {"type": "string", "maxLength": 100}
    ),
)
ETAG_HEADERS = {
    "ETag": "Weak, from version counters; send it back in If-None-Match (304 while unchanged)",
    "Cache-Control": "private, no-cache",
}
CAMERA_PARAMS = tuple(
    Param(n, f"{n.capitalize()} slug", params.SLUG, where="path", example=ex)
    for n, ex in (("district", "soc-son"), ("commune", "phu-linh"), ("camera", "cho"))
)

ROUTES = [
    ApiRoute(
        "GET",
        "/cameras",
        list_cameras,
        "Cameras in the caller's scope, sorted by district, commune, id, with counts per status; paged by "
        "cursor; weak ETag (If-None-Match → 304)",
        params=(*_FILTERS, *schemas.page_params(DEFAULT_LIMIT, MAX_LIMIT)),
        response=schemas.CAMERA_LIST,
        errors=(304, 400, 401, 403, 422),
        headers=ETAG_HEADERS,
    ),
    ApiRoute(
        "GET",
        "/cameras/summary",
        camera_summary,
        "Counts per status for each commune (problems first) and district in the caller's scope: the province "
        "wall's starting point; weak ETag (If-None-Match → 304); `summary` live events carry its changes",
        params=(_FILTERS[0],),
        response=schemas.CAMERA_SUMMARY,
        errors=(304, 400, 401, 403),
        headers=ETAG_HEADERS,
    ),
    ApiRoute(
        "GET",
        CAMERA_PATH,
        get_camera,
        "One camera's current state; weak ETag (If-None-Match → 304)",
        params=CAMERA_PARAMS,
        response=schemas.CAMERA,
        errors=(304, 400, 401, 403, 404),
        headers=ETAG_HEADERS,
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
