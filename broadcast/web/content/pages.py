"""Content pages: the library (/broadcasts/content), the phone recording page, file upload and text-to-speech.

The recording page is the only page allowed the microphone; pages that play a recording back before upload
allow `blob:` media (the hub-wide CSP otherwise stays as strict as everywhere else).
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from sqlalchemy.orm import Session

from broadcast.content import store as lib
from broadcast.web.content.api import add_media_route
from broadcast.web.content.create import (
    TTS_VOICES,
    create_from_tts,
    needs_area_choice,
    setup,
    store_of,
    tts_input,
)
from hub.core.config import CoreConfig
from hub.core.labels import local_time
from hub.web import params, queries
from hub.web.access import Perm, has_perm, principal, requires
from hub.web.context import ctx
from hub.web.errors import ApiError
from hub.web.render import render
from hub.web.security import CSP

LIBRARY = "/broadcasts/content"
PAGE_SIZE = 30
MEDIA_CSP = CSP.replace("default-src 'self';", "default-src 'self'; media-src 'self' blob:;")
QUIET_NOTE_LU = 1.5
QUIET_NOTE = (
    "Nhỏ hơn mức chuẩn: bản ghi có những tiếng đỉnh nhọn (tiếng gõ, tiếng bíp) nên chỉ được làm to tới mức "
    "không vỡ tiếng"
)
MIC_POLICY = "camera=(), microphone=(self), geolocation=()"


def duration_label(seconds: float) -> str:
    s = max(0, round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def number_vi(value: float, digits: int = 1) -> str:
    """Vietnamese decimals: comma, and a real minus sign."""
    if not math.isfinite(value):
        return "—"
    return f"{value:.{digits}f}".replace(".", ",").replace("-", "−")


def size_label(n: int) -> str:
    return f"{number_vi(n / 1024 / 1024)} MB" if n >= 1024 * 1024 else f"{max(1, round(n / 1024))} KB"


def decorate(item: dict[str, Any], request: web.Request, names: dict[tuple[str, str], str]) -> dict[str, Any]:
    target = store_of(request).cfg.target_lufs
    quiet = item["loudness_lufs"] < target - QUIET_NOTE_LU and item["source"] != "relay"
    measured = item["source"] != "relay"  # a relay has no file: nothing measured, nothing stored
    return {
        "quiet_note": QUIET_NOTE if quiet else "",
        **item,
        "duration_label": duration_label(item["duration_s"]),
        "loudness_label": f"{number_vi(item['loudness_lufs'])} LUFS" if measured else "—",
        "peak_label": f"{number_vi(item['true_peak_dbtp'])} dBTP" if measured else "—",
        "size_label": size_label(item["size"]) if measured else "luồng trực tiếp",
        "created_local": local_time(item["created_at"], ctx(request).tz),
        "commune_name": names.get((item["district"], item["commune"]), item["commune"]),
        "voice_label": voice_label(request, item),
    }


def voice_label(request: web.Request, item: dict[str, Any]) -> str:
    """ "Giọng miền Nam · tốc độ 0,8×" for TTS content (older rows kept no voice: empty)."""
    if not item.get("voice"):
        return ""
    name = request.app[TTS_VOICES].voices.get(str(item["voice"]), str(item["voice"]))
    speed = item.get("speed")
    return name + (f" · tốc độ {speed:g}×".replace(".", ",") if speed else "")


def with_media_policy(resp: web.StreamResponse, microphone: bool = False) -> web.StreamResponse:
    resp.headers["Content-Security-Policy"] = MEDIA_CSP
    if microphone:
        resp.headers["Permissions-Policy"] = MIC_POLICY
    return resp


# The speeds offered on the form; the API takes any value in SPEED_MIN…SPEED_MAX.
SPEEDS = {
    "0.8": "Chậm (0,8×)",
    "0.9": "Hơi chậm (0,9×)",
    "1": "Bình thường",
    "1.1": "Hơi nhanh (1,1×)",
    "1.2": "Nhanh (1,2×)",
}


async def _form_context(request: web.Request) -> dict[str, Any]:
    """What the creation forms need: the limits, the voices, and the communes to choose from."""
    c, p = ctx(request), principal(request)
    cfg = store_of(request).cfg
    choose = needs_area_choice(p)
    communes: list[dict[str, Any]] = []
    if choose:
        areas = await c.db.run(lambda s: queries.list_areas(s, p, c.config))
        districts = {a["district"]: a["name"] for a in areas if a["commune"] is None}
        communes = [
            {**a, "district_name": districts.get(a["district"], a["district"])} for a in areas if a["commune"]
        ]
    return {
        "limits": {
            "max_upload_mb": cfg.max_upload_mb,
            "max_upload_bytes": store_of(request).max_upload_bytes,
            "max_duration_s": cfg.max_duration_s,
            "max_minutes": f"{cfg.max_duration_s / 60:g}",
            "tts_max_chars": cfg.tts_max_chars,
            "target_lufs": number_vi(cfg.target_lufs),
        },
        "voices": request.app[TTS_VOICES].voices,
        "default_voice": cfg.tts_voice,
        "speeds": SPEEDS,
        "default_speed": f"{cfg.tts_speed:g}",
        "preview_max_chars": cfg.tts_preview_max_chars,
        "choose_area": choose,
        "communes": communes,
        "title_max": lib.TITLE_MAX,
    }


async def _library(request: web.Request, error: str | None = None, status: int = 200) -> web.StreamResponse:
    c, p = ctx(request), principal(request)
    params.reject_unknown(request, ("q", "source", "page", "created", "deleted"))
    q = params.text(request, "q", 100)
    source = params.choice(request, "source", lib.SOURCES)
    page = params.integer(request, "page", 1, 1, 10_000)
    created = params.integer(request, "created", 0, 0, 2**31)
    deleted = params.integer(request, "deleted", 0, 0, 2**31)

    def load(s: Session) -> tuple[list[dict[str, Any]], int, dict[tuple[str, str], str]]:
        items, total = lib.list_content(
            s, p, q=q, source=source, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
        )
        return items, total, queries.area_names(s, c.config)

    items, total, names = await c.db.run(load)
    query = {k: v for k, v in (("q", q), ("source", source)) if v}
    return with_media_policy(
        render(
            request,
            "broadcast_content.html",
            status=status,
            items=[decorate(i, request, names) for i in items],
            total=total,
            page=page,
            pages=max(1, math.ceil(total / PAGE_SIZE)),
            page_query=urlencode(query),
            form={"q": q or "", "source": source or ""},
            sources=lib.SOURCE_LABELS,
            can_edit=has_perm(p, Perm.EDIT_BROADCASTS),
            show_commune=needs_area_choice(p),
            created=created,
            deleted=deleted,
            error=error,
        )
    )


@requires(Perm.VIEW_BROADCASTS)
async def library_page(request: web.Request) -> web.StreamResponse:
    return await _library(request)


@requires(Perm.EDIT_BROADCASTS)
async def record_page(request: web.Request) -> web.StreamResponse:
    resp = render(request, "record.html", **await _form_context(request))
    return with_media_policy(resp, microphone=True)


@requires(Perm.EDIT_BROADCASTS)
async def new_page(request: web.Request) -> web.StreamResponse:
    values = {"title": "", "text": "", "voice": "", "speed": "", "area": ""}
    resp = render(
        request, "broadcast_content_new.html", error=None, values=values, **await _form_context(request)
    )
    return with_media_policy(resp)


@requires(Perm.EDIT_BROADCASTS)
async def tts_submit(request: web.Request) -> web.StreamResponse:
    """The text-to-speech form without JavaScript: create, then show it in the library."""
    body = await tts_input(request)
    try:
        data = await create_from_tts(request, body)
    except ApiError as exc:
        values = {k: body.get(k, "") for k in ("title", "text", "voice", "speed")}
        values["area"] = f"{body.get('district', '')}/{body.get('commune', '')}"
        resp = render(
            request,
            "broadcast_content_new.html",
            status=exc.status,
            error=exc.message,
            values=values,
            **await _form_context(request),
        )
        return with_media_policy(resp)
    raise web.HTTPSeeOther(f"{LIBRARY}?created={data['id']}")


@requires(Perm.EDIT_BROADCASTS)
async def delete_submit(request: web.Request) -> web.StreamResponse:
    c, p = ctx(request), principal(request)
    cid = int(request.match_info["id"])
    now = c.clock()
    try:
        await c.db.run(lambda s: lib.delete_content(s, p, cid, now))
    except lib.ContentError as exc:
        c.count(f"content_delete_refused_{exc.code}")
        return await _library(request, exc.message, exc.status)
    raise web.HTTPSeeOther(f"{LIBRARY}?deleted={cid}")


def add_pages(app: web.Application, config: CoreConfig) -> None:
    """Content pages, the media route, and the shared store/TTS engine the API uses too."""
    setup(app, config)
    add_media_route(app)
    app.router.add_get(LIBRARY, library_page)
    app.router.add_get(f"{LIBRARY}/record", record_page)
    app.router.add_get(f"{LIBRARY}/new", new_page)
    app.router.add_post(f"{LIBRARY}/tts", tts_submit)
    app.router.add_post(LIBRARY + r"/{id:\d+}/delete", delete_submit)
