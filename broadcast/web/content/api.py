"""Content library JSON API (/api/v1/content…) and the media files receivers download (/media/{sha256}.mp3).

Uploads are streamed to a job dir with a byte cap (the app-wide 64 KiB body limit does not apply to a streamed
multipart body, and this route never buffers it): see content_create.py.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
from typing import Any
from urllib.parse import quote

from aiohttp import web
from sqlalchemy.orm import Session

from broadcast.content import store as lib
from broadcast.content.models import BroadcastContent
from broadcast.web.content import schemas
from broadcast.web.content.create import (
    PREVIEW_LIMIT,
    UPLOAD_FORM,
    create_from_tts,
    create_from_upload,
    refused,
    speak,
    store_of,
    tts_input,
    tts_speed,
    tts_text,
)
from hub.core.openapi import JSON, ApiRoute, Body, Param
from hub.web import params
from hub.web.access import Perm, principal, public, requires
from hub.web.context import ctx
from hub.web.errors import ApiError
from hub.web.jsonout import json_response
from hub.web.validation import FORM, MULTIPART

log = logging.getLogger("broadcast.web.content")
MAX_OFFSET = 1_000_000
ORIGINAL_TYPES = {
    "mp3": "audio/mpeg",
    "m4a": "audio/mp4",
    "wav": "audio/wav",
    "ogg": "audio/ogg",
    "webm": "audio/webm",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "amr": "audio/amr",
}


# API handlers -----------------------------------------------------------------------------------------------


def _content_id(request: web.Request) -> int:
    return int(request.match_info["id"])


@requires(Perm.VIEW_BROADCASTS)
async def list_content(request: web.Request) -> web.Response:
    c, p = ctx(request), principal(request)
    district = params.slug(request, "district")
    commune = params.slug(request, "commune")
    q = params.text(request, "q", 100)
    source = params.choice(request, "source", lib.SOURCES)
    deleted = params.boolean(request, "include_deleted", False)
    limit = params.integer(request, "limit", 50, 1, 500)
    offset = params.integer(request, "offset", 0, 0, MAX_OFFSET)
    items, total = await c.db.run(
        lambda s: lib.list_content(
            s,
            p,
            district=district,
            commune=commune,
            q=q,
            source=source,
            include_deleted=deleted,
            limit=limit,
            offset=offset,
        )
    )
    return json_response({"items": items, "total": total, "limit": limit, "offset": offset})


@requires(Perm.EDIT_BROADCASTS)
async def create_content(request: web.Request) -> web.Response:
    return json_response(await create_from_upload(request), status=201)


@requires(Perm.EDIT_BROADCASTS)
async def create_tts(request: web.Request) -> web.Response:
    return json_response(await create_from_tts(request, await tts_input(request)), status=201)


@requires(Perm.EDIT_BROADCASTS)
async def preview_tts(request: web.Request) -> web.StreamResponse:
    """The processed MP3 of a short text, not stored: how a voice and speed sound before the officer saves."""
    store = store_of(request)
    body = await tts_input(request)
    text = tts_text(request, body)
    if len(text) > store.cfg.tts_preview_max_chars:
        raise refused(
            request,
            422,
            "preview_too_long",
            f"Nghe thử tối đa {store.cfg.tts_preview_max_chars} ký tự; hãy chọn một đoạn ngắn hoặc lưu cả bài",
        )
    tts_speed(request, body)  # a refused speed costs no preview
    wait = request.app[PREVIEW_LIMIT].take(principal(request).username, time.monotonic())
    if wait is not None:
        err = refused(
            request,
            429,
            "preview_rate",
            f"Bạn đã nghe thử nhiều lần trong một phút; hãy thử lại sau {math.ceil(wait)} giây",
        )
        err.headers["Retry-After"] = str(math.ceil(wait))
        raise err
    await store.ensure_ready()
    with store.job() as job:
        stored, speech = await speak(request, job, text, body)
        data = await asyncio.to_thread(stored.job_mp3.read_bytes)
    return web.Response(
        body=data,
        content_type="audio/mpeg",
        headers={
            "X-Loudness-LUFS": f"{stored.loudness_lufs:.1f}",
            "X-Duration-S": f"{stored.duration_s:.2f}",
            "X-Voice": speech.voice,
            "X-Speed": f"{speech.speed:g}",
            "X-Spoken-Text": quote(speech.spoken_text),
        },
    )


@requires(Perm.VIEW_BROADCASTS)
async def get_content(request: web.Request) -> web.Response:
    c, p, cid = ctx(request), principal(request), _content_id(request)

    def load(s: Session) -> dict[str, Any] | None:
        row = lib.get_content(s, p, cid)
        if row is None:
            return None
        return {**lib.content_dict(row), "used_by": lib.programmes_using(s, cid)}

    data = await c.db.run(load)
    if data is None:
        raise ApiError(404, "not_found", "Không tìm thấy nội dung")
    return json_response(data)


@requires(Perm.EDIT_BROADCASTS)
async def delete_content(request: web.Request) -> web.Response:
    c, p, cid = ctx(request), principal(request), _content_id(request)
    now = c.clock()
    try:
        data = await c.db.run(lambda s: lib.delete_content(s, p, cid, now))
    except lib.ContentError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from None
    log.info("content %s deleted by %s", cid, p.username)
    return json_response(data)


@requires(Perm.VIEW_BROADCASTS)
async def get_original(request: web.Request) -> web.StreamResponse:
    c, p, cid = ctx(request), principal(request), _content_id(request)
    row: BroadcastContent | None = await c.db.run(lambda s: lib.get_content(s, p, cid))
    if row is None:
        raise ApiError(404, "not_found", "Không tìm thấy nội dung")
    path = store_of(request).original_file(row.original_path)
    if path is None or not await asyncio.to_thread(path.is_file):
        log.error("original of content %s missing on disk: %s", cid, row.original_path)
        raise ApiError(404, "not_found", "Không tìm thấy tệp gốc")
    ext = row.original_path.rsplit(".", 1)[-1]
    name = row.original_name or f"noi-dung-{cid}.{ext}"
    ascii_name = "".join(ch if ch.isascii() and ch.isalnum() or ch in ".-_" else "_" for ch in name)
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
    return web.FileResponse(
        path,
        headers={
            "Content-Type": ORIGINAL_TYPES.get(ext, "application/octet-stream"),
            "Content-Disposition": disposition,
            "Cache-Control": "private, max-age=3600",
        },
    )


_MEDIA_NAME = re.compile(r"^([0-9a-f]{64})\.mp3$")


@public
async def media_file(request: web.Request) -> web.StreamResponse:
    """A processed MP3 by its sha256 (the 256-bit hash is the capability): receivers and <audio> players.
    Range requests and conditional GETs are answered by FileResponse."""
    c = ctx(request)
    m = _MEDIA_NAME.match(request.match_info["name"])
    if m is None:
        raise ApiError(404, "not_found", "Không tìm thấy tệp âm thanh")
    sha = m.group(1)
    path = store_of(request).media_file(sha)
    if (
        path is None
        or not await c.db.run(lambda s: lib.media_available(s, sha))
        or not await asyncio.to_thread(path.is_file)
    ):
        raise ApiError(404, "not_found", "Không tìm thấy tệp âm thanh")
    return web.FileResponse(
        path,
        headers={"Content-Type": "audio/mpeg", "Cache-Control": "public, max-age=31536000, immutable"},
    )


def add_media_route(app: web.Application) -> None:
    app.router.add_get("/media/{name}", media_file)


# route table --------------------------------------------------------------------------------------------------

ROUTES = [
    ApiRoute(
        "GET",
        "/content",
        list_content,
        "Content library in scope (newest first)",
        (
            Param("district", "Only this district", params.SLUG),
            Param("commune", "Only this commune", params.SLUG),
            Param("q", "Words in the title or TTS text", {"type": "string", "maxLength": 100}),
            Param("source", "recording, upload, tts or relay", {"type": "string", "enum": list(lib.SOURCES)}),
            Param("include_deleted", "Also deleted items", {"type": "boolean"}),
            Param("limit", "Page size (default 50)", {"type": "integer", "minimum": 1, "maximum": 500}),
            Param("offset", "Items to skip", {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET}),
        ),
        schemas.CONTENT_LIST,
    ),
    ApiRoute(
        "POST",
        "/content",
        create_content,
        "Upload audio (multipart/form-data: file, title, source=recording|upload, district, commune, urgent); it "
        "is validated, cleaned, levelled to the loudness target and stored as MP3. 413 when too large or long; "
        "422 when it is not usable audio, the title is blank or the commune unknown; 429 when this user already "
        "has their share of jobs waiting. urgent=1 (for an emergency; only for who may air one) goes ahead of "
        "the processing queue",
        (),
        schemas.CONTENT,
        errors=(400, 401, 403, 413, 415, 422, 429),
        body=Body({MULTIPART: UPLOAD_FORM}),
        status=201,
    ),
    ApiRoute(
        "POST",
        "/content/tts",
        create_tts,
        "Create content from Vietnamese text (JSON: title, text, voice, speed, district, commune, urgent; urgent and "
        "429 as for /content)",
        (),
        schemas.CONTENT,
        errors=(400, 401, 403, 415, 422, 429),
        body=Body({JSON: schemas.TTS_BODY, FORM: schemas.TTS_FORM}, max_bytes=schemas.TTS_MAX_BYTES),
        status=201,
    ),
    ApiRoute(
        "POST",
        "/content/tts/preview",
        preview_tts,
        "The processed MP3 a short text would become (text, voice, speed; at most "
        "broadcast.content.tts_preview_max_chars characters, else 422); nothing stored. At most "
        "broadcast.content.tts_previews_per_minute per person per minute: 429 with Retry-After",
        (),
        {"type": "string", "format": "binary"},
        content_type="audio/mpeg",
        errors=(400, 401, 403, 415, 422, 429),
        body=Body({JSON: schemas.TTS_BODY, FORM: schemas.TTS_FORM}, max_bytes=schemas.TTS_MAX_BYTES),
        headers={
            "X-Loudness-LUFS": "Measured integrated loudness",
            "X-Duration-S": "Length in seconds",
            "X-Voice": "The voice that spoke",
            "X-Speed": "Its speed",
            "X-Spoken-Text": "What the engine read after normalisation (percent-encoded UTF-8)",
        },
    ),
    ApiRoute(
        "GET",
        schemas.ID_PATH,
        get_content,
        "One content item",
        (schemas.ID_PARAM,),
        schemas.CONTENT,
        errors=(400, 401, 403, 404),
    ),
    ApiRoute(
        "DELETE",
        schemas.ID_PATH,
        delete_content,
        "Delete (kept for history); 409 while a programme still to air uses it",
        (schemas.ID_PARAM,),
        schemas.CONTENT,
        errors=(400, 401, 403, 404, 409),
    ),
    ApiRoute(
        "GET",
        schemas.ID_PATH + "/original",
        get_original,
        "The original file as uploaded, in its own media type",
        (schemas.ID_PARAM,),
        {"type": "string", "format": "binary"},
        "application/octet-stream",
        alternatives={
            t: {"type": "string", "format": "binary"} for t in sorted(set(ORIGINAL_TYPES.values()))
        },
        errors=(400, 401, 403, 404),
        headers={"Content-Disposition": "attachment, with the file's own name"},
    ),
]
