"""Static assets (served by the hub itself: no CDN) and the health endpoints (liveness, readiness)."""

from __future__ import annotations

import asyncio
import logging
import re
import time

from aiohttp import web
from sqlalchemy import text

from hub.core import health
from hub.web.access import public, signed_in
from hub.web.context import ctx
from hub.web.jsonout import json_response
from hub.web.render import STATIC_DIR

log = logging.getLogger("hub.web")
# The login page needs only these; everything else under /static/ requires a signed-in user.
PUBLIC_ASSETS = ("app.css", "favicon.svg")
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*\.(css|js|svg)$")
_TYPES = {"css": "text/css", "js": "text/javascript", "svg": "image/svg+xml"}


def _serve(request: web.Request, name: str, visibility: str) -> web.StreamResponse:
    c = ctx(request)
    if not _NAME_RE.match(name) or name not in c.assets:
        raise web.HTTPNotFound()
    # A URL carrying the current content hash never changes: cache it for long. Otherwise revalidate.
    fresh = request.query.get("v") == c.assets[name]
    cache = f"{visibility}, max-age=31536000, immutable" if fresh else f"{visibility}, no-cache"
    resp = web.FileResponse(STATIC_DIR / name, headers={"Cache-Control": cache})
    resp.content_type = _TYPES[name.rsplit(".", 1)[1]]
    return resp


@public
async def public_asset(request: web.Request) -> web.StreamResponse:
    return _serve(request, request.path.rsplit("/", 1)[1], "public")


@signed_in
async def private_asset(request: web.Request) -> web.StreamResponse:
    return _serve(request, request.match_info["name"], "private")


@public
async def healthz(request: web.Request) -> web.Response:
    """For load balancers and compose: 200 when the database answers, 503 otherwise. Says nothing more."""
    c = ctx(request)
    try:
        await asyncio.wait_for(c.db.run(lambda s: s.execute(text("SELECT 1")).scalar()), timeout=5)
    except Exception as exc:
        log.warning("health check: database not answering: %s", type(exc).__name__)
        return json_response({"status": "error"}, status=503)
    return json_response({"status": "ok"})


@public
async def readyz(request: web.Request) -> web.Response:
    """For load balancers and compose healthchecks: 200 `ok` when the data path works (database, MQTT, ingest,
    SQL flushes, InfluxDB writes), else 503 `degraded` with reason codes (docs/API.md). Codes only: public."""
    c = ctx(request)
    found: list[str] = []
    try:
        await asyncio.wait_for(c.db.run(lambda s: s.execute(text("SELECT 1")).scalar()), timeout=5)
    except Exception as exc:
        log.warning("readiness: database not answering: %s", type(exc).__name__)
        found.append(health.DATABASE_UNAVAILABLE)
    if c.hub is not None:  # a web-only process has no data path of its own
        found += health.reasons(health.inputs_of(c.hub), time.monotonic())
    if found:
        return json_response({"status": "degraded", "reasons": found}, status=503)
    return json_response({"status": "ok", "reasons": []})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    for name in PUBLIC_ASSETS:
        app.router.add_get(f"/static/{name}", public_asset)
    app.router.add_get("/static/{name}", private_asset)
