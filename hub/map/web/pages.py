"""/map: the page (Leaflet, vendored), and /map/base.pmtiles: the configured PMTiles file, read by the page's
PMTiles reader a range at a time (aiohttp's FileResponse answers Range with 206 and the bytes asked for)."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from sqlalchemy.orm import Session

from hub.core.access import Perm, has_perm
from hub.core.camera_points import OWNER_LABELS, PURPOSE_LABELS
from hub.core.config import CoreConfig, feature_section
from hub.core.labels import STATUS_LABELS
from hub.map.config import MapConfig
from hub.web import queries
from hub.web.access import in_scope, principal, signed_in
from hub.web.context import ctx
from hub.web.errors import ApiError, not_found
from hub.web.render import render
from hub.web.security import CSP

log = logging.getLogger("hub.map")
PMTILES_PATH = "/map/base.pmtiles"


def map_settings(request: web.Request) -> MapConfig:
    return feature_section(ctx(request).config, "map", MapConfig)


def may_see(request: web.Request) -> tuple[bool, bool]:
    """(cameras, speakers) the caller's role may see; a role with neither is refused."""
    p = principal(request)
    cams, sps = has_perm(p, Perm.VIEW_CAMERAS), has_perm(p, Perm.VIEW_SPEAKERS)
    if not (cams or sps):
        raise ApiError(403, "forbidden", "Vai trò của bạn không được phép truy cập mục này")
    return cams, sps


def page_csp(cfg: MapConfig) -> str:
    """The hub's policy, with tile images from the province's server (base=tiles) and the PMTiles reader's
    blob: images (base=pmtiles); nothing else leaves the hub."""
    extra = " blob:" if cfg.base == "pmtiles" else ""
    origin = cfg.tile_origin()
    if origin:
        extra += f" {origin}"
    return CSP.replace("img-src 'self' data:", f"img-src 'self' data:{extra}")


def page_data(cfg: MapConfig, cameras: bool, speakers: bool) -> dict[str, Any]:
    base: dict[str, Any] = {"kind": cfg.base, "attribution": cfg.attribution}
    if cfg.base == "tiles":
        base["url"] = cfg.tiles_url
    elif cfg.base == "pmtiles":
        base["url"] = PMTILES_PATH
    return {
        "base": base,
        "center": list(cfg.center),
        "zoom": cfg.zoom,
        "min_zoom": cfg.min_zoom,
        "max_zoom": cfg.max_zoom,
        "cluster_until_zoom": cfg.cluster_until_zoom,
        "cameras": cameras,
        "speakers": speakers,
        "labels": {
            "status": STATUS_LABELS,
            "purpose": {str(k): v for k, v in PURPOSE_LABELS.items()},
            "owner": {str(k): v for k, v in OWNER_LABELS.items()},
        },
    }


@signed_in  # cameras for those who may see cameras, speakers for those who may see speakers
async def map_page(request: web.Request) -> web.StreamResponse:
    cams, sps = may_see(request)
    cfg = map_settings(request)
    names = await ctx(request).db.run(lambda s: _communes(s, request))
    resp = render(request, "map.html", map_data=page_data(cfg, cams, sps), communes=names, show_cameras=cams)
    resp.headers["Content-Security-Policy"] = page_csp(cfg)
    return resp


def _communes(s: Session, request: web.Request) -> list[dict[str, str]]:
    p = principal(request)
    names = queries.area_names(s, ctx(request).config)
    return [
        {"value": f"{d}/{c}", "label": n} for (d, c), n in sorted(names.items()) if c and in_scope(p, d, c)
    ]


@signed_in
async def pmtiles_file(request: web.Request) -> web.StreamResponse:
    may_see(request)
    cfg = map_settings(request)
    path = cfg.pmtiles_file
    if cfg.base != "pmtiles" or path is None:
        raise not_found("Bản đồ nền không dùng tệp PMTiles")
    if not path.is_file():
        ctx(request).count("map_pmtiles_missing")
        log.warning("map: the PMTiles file %s is missing", path)
        raise not_found("Không tìm thấy tệp bản đồ nền")
    resp = web.FileResponse(path, headers={"Cache-Control": "private, no-cache"})
    resp.content_type = "application/vnd.pmtiles"
    return resp


def add_pages(app: web.Application, config: CoreConfig) -> None:
    app.router.add_get("/map", map_page)
    app.router.add_get(PMTILES_PATH, pmtiles_file)
