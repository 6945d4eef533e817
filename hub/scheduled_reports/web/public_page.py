"""/cong-khai/{district}/{commune}: a commune's public status page (no login): how many cameras and loudspeakers
work now and over the month, in Vietnamese, nothing else (no names, places or pictures). Off unless the commune
is switched on in /admin/public-status; off and unknown look the same (404). Nothing a visitor without an
account can reach links to it or from it to a private page. Figures are cached per commune for
`scheduled_reports.public_cache_s`; the answer carries an ETag and a 304 costs no SQL."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import UTC

from aiohttp import web

from hub.core.config import CoreConfig
from hub.core.features import REPORT_SECTIONS
from hub.scheduled_reports.config import reports_settings
from hub.scheduled_reports.public_status import PublicFigures, load_figures
from hub.web.access import public
from hub.web.context import ctx
from hub.web.errors import not_found

PATH = "/cong-khai/{district:[a-z0-9][a-z0-9_-]{0,63}}/{commune:[a-z0-9][a-z0-9_-]{0,63}}"
CACHE_KEY = web.AppKey("public_status_cache", dict)
# Answers for unknown communes are cached too (no SQL per guess), so the cache is capped: a visitor trying
# names cannot grow it without bound. Thanh Hóa has 166 communes: the cap is far above any real province.
MAX_CACHED = 2000


@dataclass(frozen=True)
class Cached:
    until: float  # monotonic
    html: str | None  # None: not switched on
    etag: str


def _pct(v: float | None) -> str:
    return "chưa có dữ liệu" if v is None else f"{v:.1f} %".replace(".", ",")


def _html(request: web.Request, f: PublicFigures) -> str:
    c = ctx(request)
    return c.templates.get_template("public_status.html").render(
        f=f, pct=_pct, as_of=f.as_of.replace(tzinfo=UTC).astimezone(c.tz)
    )


@public
async def public_status(request: web.Request) -> web.Response:
    c = ctx(request)
    district, commune = request.match_info["district"], request.match_info["commune"]
    cache: dict[tuple[str, str], Cached] = request.app[CACHE_KEY]
    hit = cache.get((district, commune))
    if hit is None or hit.until < time.monotonic():
        now = c.clock()
        sections = c.services.find(REPORT_SECTIONS)
        figures = await c.db.run(
            lambda s: load_figures(
                s, c.config, district, commune, now, c.tz, sections.items if sections else ()
            )
        )
        html = None if figures is None else _html(request, figures)
        etag = '"' + hashlib.sha256((html or "").encode()).hexdigest()[:32] + '"'
        ttl = reports_settings(c.config).public_cache_s
        hit = Cached(time.monotonic() + ttl, html, etag)
        if len(cache) >= MAX_CACHED:
            cache.clear()
        cache[(district, commune)] = hit
    if hit.html is None:
        raise not_found("Không có trang công khai này")
    max_age = max(0, int(hit.until - time.monotonic()))
    headers = {"ETag": hit.etag, "Cache-Control": f"public, max-age={max_age}"}
    if request.headers.get("If-None-Match") == hit.etag:
        return web.Response(status=304, headers=headers)
    return web.Response(text=hit.html, content_type="text/html", headers=headers)


def forget(app: web.Application, district: str, commune: str) -> None:
    """Called when the admin switches a page on or off: the next visitor sees the change at once."""
    app[CACHE_KEY].pop((district, commune), None)


def add_pages(app: web.Application, config: CoreConfig) -> None:
    app[CACHE_KEY] = {}
    app.router.add_get(PATH, public_status)
