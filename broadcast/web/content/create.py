"""Creating content from what a person sends: a streamed upload (recording or file) or Vietnamese text.

Shared by the JSON API and the pages. Every refusal is counted (`content_rejected_<code>` in /api/v1/stats),
logged, and answered with a Vietnamese message; the job dir of a refused request is removed with all in it.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from aiohttp import BodyPartReader, web
from aiohttp.http import HttpProcessingError
from sqlalchemy.orm import Session

from broadcast.config import SPEED_MAX, SPEED_MIN, broadcast_settings
from broadcast.content import store as lib
from broadcast.content.audio_input import AudioError
from broadcast.content.jobs import QueueFull
from broadcast.content.preview_limit import PreviewLimiter
from broadcast.content.tts import Speech, VoiceBook, clean_text, make_voices
from contract.topics import is_slug
from hub.core.auth import Principal
from hub.core.config import CoreConfig
from hub.web.access import Perm, has_perm, in_scope, principal
from hub.web.context import ctx
from hub.web.errors import ApiError
from hub.web.params import SLUG_PATTERN
from hub.web.queries import area_names
from hub.web.validation import check_fields

log = logging.getLogger("broadcast.web.content")
CONTENT_STORE = web.AppKey("broadcast_content_store", lib.ContentStore)
TTS_VOICES = web.AppKey("broadcast_tts_voices", VoiceBook)
PREVIEW_LIMIT = web.AppKey("broadcast_tts_preview_limit", PreviewLimiter)
CHUNK = 64 * 1024
FIELD_MAX = 8 * 1024  # a text field of the upload form (title, slugs)
UPLOAD_FIELDS = ("title", "source", "district", "commune", "area", "csrf", "urgent")
TTS_FIELDS = ("title", "text", "voice", "speed", "district", "commune", "area", "csrf", "urgent")


SLUG_OR_EMPTY = {"type": "string", "pattern": f"^({SLUG_PATTERN})?$"}
AREA_FIELD = {
    "type": "string",
    "pattern": f"^({SLUG_PATTERN}/{SLUG_PATTERN})?$",
    "description": "district/commune, instead of the two fields (the pages' commune picker)",
}
CSRF_FIELD = {"type": "string", "maxLength": 128, "description": "the session's CSRF token (forms)"}
# Everyone above a commune names the commune (district + commune, or area); a commune user may leave it out.
URGENT_FIELD: dict[str, Any] = {
    "type": "string",
    "maxLength": 8,
    "description": "1, true, on or yes: an emergency's job goes ahead of the queue (only for who may air one)",
}
UPLOAD_FORM: dict[str, Any] = {
    "type": "object",
    "required": ["file"],
    "properties": {
        "file": {
            "type": "string",
            "format": "binary",
            "description": "The audio (mp3, m4a, wav, ogg, webm …)",
        },
        "title": {"type": "string", "maxLength": lib.TITLE_MAX, "description": "Required (blank: 422)"},
        "source": {"enum": ["recording", "upload", ""], "description": "default upload"},
        "district": SLUG_OR_EMPTY,
        "commune": SLUG_OR_EMPTY,
        "area": AREA_FIELD,
        "csrf": CSRF_FIELD,
        "urgent": URGENT_FIELD,
    },
    "additionalProperties": False,
}


def setup(app: web.Application, config: CoreConfig) -> None:
    cfg = broadcast_settings(config).content
    app[CONTENT_STORE] = lib.ContentStore(cfg.directory(config.data_dir), cfg)
    app[TTS_VOICES] = make_voices(cfg)
    app[PREVIEW_LIMIT] = PreviewLimiter(cfg.tts_previews_per_minute)


def store_of(request: web.Request) -> lib.ContentStore:
    return request.app[CONTENT_STORE]


def refused(request: web.Request, status: int, code: str, message: str) -> ApiError:
    """Count and log a refusal, and build the error to raise."""
    ctx(request).count(f"content_rejected_{code}")
    store_of(request).refuse(code, message)
    return ApiError(status, code, message)


def too_large_message(store: lib.ContentStore) -> str:
    return f"Tệp quá lớn: tối đa {store.cfg.max_upload_mb:g} MB"


def needs_area_choice(p: Principal) -> bool:
    return p.role == "admin" or p.district is None or p.commune is None


def resolve_area(
    s: Session, p: Principal, config: CoreConfig, district: str | None, commune: str | None
) -> tuple[str, str]:
    """The commune new content belongs to: a commune user's own; others choose one in their scope."""
    if not needs_area_choice(p):
        assert p.district is not None and p.commune is not None
        if (district and district != p.district) or (commune and commune != p.commune):
            raise lib.ContentError(403, "forbidden", "Bạn chỉ được tạo nội dung cho xã của mình")
        return p.district, p.commune
    if not district or not commune:
        raise lib.ContentError(422, "bad_area", "Hãy chọn xã / phường cho nội dung")
    if not is_slug(district) or not is_slug(commune):
        raise lib.ContentError(400, "bad_area", "Mã huyện / xã không hợp lệ")
    if not in_scope(p, district, commune):
        raise lib.ContentError(403, "forbidden", "Xã / phường này nằm ngoài phạm vi của bạn")
    if (district, commune) not in area_names(s, config):
        raise lib.ContentError(422, "bad_area", f"Không có xã / phường '{commune}' thuộc '{district}'")
    return district, commune


async def _read_field(part: BodyPartReader) -> str:
    data = bytearray()
    while chunk := await part.read_chunk(4096):
        data += chunk
        if len(data) > FIELD_MAX:
            raise ApiError(400, "bad_field", f"Trường '{part.name}' quá dài")
    try:
        return data.decode().strip()
    except UnicodeDecodeError:
        raise ApiError(400, "bad_field", f"Trường '{part.name}' không phải văn bản UTF-8") from None


async def read_upload(request: web.Request, dest: Path) -> tuple[dict[str, str], str | None]:
    """Stream a multipart upload: the `file` part into `dest` (at most max_upload_mb), text fields in memory.
    Returns (fields, the file's own name)."""
    store = store_of(request)
    cap = store.max_upload_bytes
    if request.content_length is not None and request.content_length > cap + FIELD_MAX * len(UPLOAD_FIELDS):
        raise refused(request, 413, "too_large", too_large_message(store))
    if request.content_type != "multipart/form-data":
        raise refused(request, 400, "bad_form", "Hãy gửi tệp dưới dạng multipart/form-data (trường 'file')")
    try:
        return await _read_parts(request, dest, cap)
    except (ValueError, HttpProcessingError) as exc:  # a body that is not the multipart it says it is
        raise refused(request, 400, "bad_form", f"Biểu mẫu multipart hỏng: {str(exc)[:100]}") from None


async def _read_parts(request: web.Request, dest: Path, cap: int) -> tuple[dict[str, str], str | None]:
    store = store_of(request)
    fields: dict[str, str] = {}
    file_name: str | None = None
    got_file = False
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            raise refused(request, 400, "bad_form", "Biểu mẫu lồng nhau không được hỗ trợ")
        if part.name == "file":
            if got_file:
                raise refused(request, 400, "bad_form", "Mỗi lần chỉ tải lên một tệp")
            got_file, file_name = True, part.filename
            size = 0
            f = await asyncio.to_thread(dest.open, "wb")
            try:
                while chunk := await part.read_chunk(CHUNK):
                    size += len(chunk)
                    if size > cap:
                        raise refused(request, 413, "too_large", too_large_message(store))
                    await asyncio.to_thread(f.write, chunk)
            finally:
                await asyncio.to_thread(f.close)
        elif part.name in UPLOAD_FIELDS:
            fields[part.name] = await _read_field(part)
        else:
            raise refused(request, 400, "bad_form", f"Trường '{str(part.name)[:40]}' không được hỗ trợ")
    if not got_file:
        raise refused(request, 400, "no_file", "Chưa chọn tệp âm thanh (trường 'file')")
    try:
        check_fields(UPLOAD_FORM, fields)
    except ApiError as exc:
        raise refused(request, 400, "bad_field", exc.message) from None
    return fields, file_name


def is_urgent(request: web.Request, fields: dict[str, str]) -> bool:
    """`urgent` (for an emergency broadcast) puts the job ahead of the queue: only for who may air one."""
    wanted = fields.get("urgent", "").lower() in ("1", "true", "on", "yes")
    return wanted and has_perm(principal(request), Perm.AIR_EMERGENCY)


async def _processed(request: web.Request, job: Path, src: Path, urgent: bool = False) -> lib.StoredAudio:
    try:
        return await store_of(request).process(job, src, principal(request).username, urgent)
    except QueueFull:
        raise refused(
            request, 429, "busy", "Bạn đang có nhiều tệp chờ xử lý; hãy đợi các tệp đó xong rồi gửi tiếp"
        ) from None
    except AudioError as exc:  # the request was well-formed; what it carried is not usable audio
        raise refused(request, 413 if exc.code == "too_long" else 422, exc.code, exc.message) from None


async def _insert(request: web.Request, new: lib.NewContent, stored: lib.StoredAudio) -> dict[str, Any]:
    c, store = ctx(request), store_of(request)
    now = c.clock()
    data = await c.db.run(lambda s: lib.insert_content(s, store, new, stored, now))
    log.info(
        "content %s (%s) created by %s in %s/%s: %.1f s, %.1f LUFS (input %.1f), %.1f dBTP",
        data["id"],
        new.source,
        new.created_by,
        new.district,
        new.commune,
        stored.duration_s,
        stored.loudness_lufs,
        stored.input_lufs,
        stored.true_peak_dbtp,
    )
    return data


async def _area(request: web.Request, fields: dict[str, str]) -> tuple[str, str]:
    c, p = ctx(request), principal(request)
    district, commune = fields.get("district") or None, fields.get("commune") or None
    if area := fields.get("area"):  # the pages' commune picker: "district/commune"
        district, _, commune = area.partition("/")
    return await c.db.run(lambda s: resolve_area(s, p, c.config, district, commune))


async def create_from_upload(request: web.Request) -> dict[str, Any]:
    """Recording or file upload: stream, check the form, process, store."""
    p, store = principal(request), store_of(request)
    await store.ensure_ready()
    with store.job() as job:
        src = job / "input"
        fields, file_name = await read_upload(request, src)
        source = fields.get("source") or "upload"
        if source not in ("recording", "upload"):
            raise refused(
                request, 400, "bad_source", "Nguồn phải là 'recording' (ghi âm) hoặc 'upload' (tệp)"
            )
        try:
            title = lib.clean_title(fields.get("title", ""))
            district, commune = await _area(request, fields)
        except lib.ContentError as exc:
            raise refused(request, exc.status, exc.code, exc.message) from None
        stored = await _processed(request, job, src, is_urgent(request, fields))
        name = lib.clean_file_name(file_name)
        new = lib.NewContent(district, commune, title, source, p.username, original_name=name)
        return await _insert(request, new, stored)


async def tts_input(request: web.Request) -> dict[str, str]:
    """JSON body or an urlencoded form: title, text, voice, district and commune (or area=district/commune)."""
    body: Any
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise ApiError(400, "bad_json", "Nội dung gửi lên không phải JSON hợp lệ") from None
        if not isinstance(body, dict):
            raise ApiError(400, "bad_json", "Cần một đối tượng JSON")
    else:
        body = dict(await request.post())
    unknown = sorted(str(k) for k in body if k not in TTS_FIELDS)
    if unknown:
        raise ApiError(400, "bad_field", f"Trường không được hỗ trợ: {', '.join(unknown)[:100]}")
    out: dict[str, str] = {}
    for k, v in body.items():
        if k == "speed" and isinstance(v, int | float) and not isinstance(v, bool):
            v = str(v)  # JSON sends a number, a form a string
        if v is not None and not isinstance(v, str):
            raise ApiError(400, "bad_field", f"Trường '{k}' phải là chuỗi")
        out[k] = v or ""
    return out


def tts_speed(request: web.Request, body: dict[str, str]) -> float | None:
    """The speed asked for (None: the hub's default); 422 outside SPEED_MIN…SPEED_MAX."""
    raw = body.get("speed", "").strip()
    if not raw:
        return None
    try:
        speed = float(raw.replace(",", "."))
    except ValueError:
        speed = float("nan")
    if not SPEED_MIN <= speed <= SPEED_MAX:  # NaN fails too
        raise refused(
            request, 422, "speed", f"Tốc độ đọc phải từ {SPEED_MIN:g} đến {SPEED_MAX:g} (1 là bình thường)"
        )
    return round(speed, 2)


async def speak(
    request: web.Request, job: Path, text: str, body: dict[str, str], urgent: bool = False
) -> tuple[lib.StoredAudio, Speech]:
    """Synthesize (text already cleaned; normalised by the voice book) and process like any recording."""
    voices, speed = request.app[TTS_VOICES], tts_speed(request, body)
    try:
        speech = await voices.speak(text, body.get("voice") or None, speed)
    except AudioError as exc:
        raise refused(request, 422, exc.code, exc.message) from None
    if speech.fell_back:
        ctx(request).count("tts_fallback")
    src = job / "input"
    await asyncio.to_thread(src.write_bytes, speech.wav)
    return await _processed(request, job, src, urgent), speech


def tts_text(request: web.Request, body: dict[str, str]) -> str:
    try:
        return clean_text(body.get("text", ""), store_of(request).cfg.tts_max_chars)
    except AudioError as exc:  # empty, wordless or longer than this hub's configured limit
        raise refused(request, 422, exc.code, exc.message) from None


async def create_from_tts(request: web.Request, body: dict[str, str]) -> dict[str, Any]:
    p, store = principal(request), store_of(request)
    try:
        title = lib.clean_title(body.get("title", ""))
    except lib.ContentError as exc:
        raise refused(request, exc.status, exc.code, exc.message) from None
    text = tts_text(request, body)
    try:
        district, commune = await _area(request, body)
    except lib.ContentError as exc:
        raise refused(request, exc.status, exc.code, exc.message) from None
    await store.ensure_ready()
    with store.job() as job:
        stored, speech = await speak(request, job, text, body, is_urgent(request, body))
        new = lib.NewContent(
            district,
            commune,
            title,
            "tts",
            p.username,
            text=text,
            tts_voice=speech.voice,
            tts_speed=speech.speed,
        )
        return await _insert(request, new, stored)
