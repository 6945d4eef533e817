"""POST /api/v1/broadcasts/bulletins: the intake the province's information source system connects to (TT39
bulletins). A multipart body: `bulletin` (JSON, broadcast/bulletins/intake.py `BulletinIn`) and optionally
`audio` (a file; without it the bulletin's text is read out by the TTS engine). It lands as one programme per
target commune, submitted for approval; the answer is the receipt (201), and a resend with the same
`upstream_id` gets the same receipt (200, `duplicate: true`). Documented in docs/BROADCAST.md."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from aiohttp import BodyPartReader, web
from aiohttp.http import HttpProcessingError
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from broadcast.bulletins import emergency, intake
from broadcast.config import broadcast_settings
from broadcast.content import store as lib
from broadcast.content.audio_input import AudioError
from broadcast.content.tts import clean_text
from broadcast.web.content.create import CHUNK, _processed, refused, speak, store_of, too_large_message
from broadcast.web.programmes.http import reload_scheduler, scheduler_of
from hub.core.openapi import ApiRoute, Body
from hub.web.access import Perm, in_scope, principal, requires
from hub.web.context import ctx
from hub.web.errors import ApiError
from hub.web.jsonout import json_response
from hub.web.queries import area_names

log = logging.getLogger(__name__)

MULTIPART = "multipart/form-data"
BULLETIN_MAX = 256 * 1024  # 20 000 characters of text even when each is sent as a 6-byte JSON escape


def validation_message(exc: ValidationError) -> tuple[str, str]:
    """(the bad key, what is wrong) of the first problem, for the 400."""
    err = exc.errors()[0]
    where = ".".join(str(x) for x in err["loc"]) or "bulletin"
    return where, f"{where}: {err['msg']}"


async def _read(request: web.Request, dest: Path) -> tuple[str, bool]:
    """The `bulletin` part's text and whether an `audio` part was streamed into `dest`."""
    store = store_of(request)
    if request.content_type != MULTIPART:
        raise refused(
            request, 400, "bad_form", "Cần multipart/form-data: phần 'bulletin' (JSON) và 'audio' (tệp)"
        )
    text: str | None = None
    got_audio = False
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                raise refused(request, 400, "bad_form", "Biểu mẫu lồng nhau không được hỗ trợ")
            if part.name == "bulletin" and text is None:
                data = bytearray()
                while chunk := await part.read_chunk(4096):
                    data += chunk
                    if len(data) > BULLETIN_MAX:
                        raise refused(request, 413, "too_large", "Phần 'bulletin' quá lớn (tối đa 256 KiB)")
                try:
                    text = data.decode()
                except UnicodeDecodeError:
                    raise refused(request, 400, "bad_bulletin", "Phần 'bulletin' không phải UTF-8") from None
            elif part.name == "audio" and not got_audio:
                got_audio, size = True, 0
                f = await asyncio.to_thread(dest.open, "wb")
                try:
                    while chunk := await part.read_chunk(CHUNK):
                        size += len(chunk)
                        if size > store.max_upload_bytes:
                            raise refused(request, 413, "too_large", too_large_message(store))
                        await asyncio.to_thread(f.write, chunk)
                finally:
                    await asyncio.to_thread(f.close)
            else:
                raise refused(
                    request, 400, "bad_form", f"Phần '{str(part.name)[:40]}' không được hỗ trợ hoặc lặp lại"
                )
    except (ValueError, HttpProcessingError) as exc:
        raise refused(request, 400, "bad_form", f"Biểu mẫu multipart hỏng: {str(exc)[:100]}") from None
    if text is None:
        raise refused(request, 400, "bad_bulletin", "Thiếu phần 'bulletin' (JSON)")
    return text, got_audio


def _parse(request: web.Request, text: str) -> intake.BulletinIn:
    try:
        return intake.BulletinIn.model_validate_json(text)
    except ValidationError as exc:
        field, message = validation_message(exc)
        ctx(request).count("bulletins_rejected")
        log.warning("bulletin refused: %s", message)
        raise ApiError(400, "bad_bulletin", f"Bản tin không hợp lệ: {message}", field=field) from None


@requires(Perm.SUBMIT_BULLETINS)
async def submit_bulletin(request: web.Request) -> web.Response:
    c, p, store = ctx(request), principal(request), store_of(request)
    await store.ensure_ready()
    with store.job() as job:
        src = job / "input"
        text, has_audio = await _read(request, src)
        b = _parse(request, text)
        found = await c.db.run(lambda s: intake.find(s, b.upstream_id))
        if found is not None:
            return json_response(intake.receipt(found, True))
        try:
            intake.check_meaning(b, c.clock())
        except intake.BulletinRefused as exc:
            ctx(request).count("bulletins_rejected")
            raise ApiError(
                422, "bad_bulletin", f"'{exc.field}' không hợp lệ: {exc.message}", field=exc.field
            ) from None
        names = await c.db.run(lambda s: area_names(s, c.config))
        for district, commune in b.areas:
            if not in_scope(p, district, commune):
                raise refused(
                    request, 403, "forbidden", f"Xã {district}/{commune} nằm ngoài phạm vi của tài khoản"
                )
            if (district, commune) not in names:
                raise refused(request, 422, "bad_area", f"Không có xã '{commune}' thuộc '{district}'")
        if has_audio:
            stored = await _processed(request, job, src)
        elif b.text:
            try:
                spoken = clean_text(b.text, store.cfg.tts_max_chars)
            except AudioError as exc:
                raise refused(request, 422, exc.code, exc.message) from None
            stored, _speech = await speak(request, job, spoken, {})
        else:
            raise refused(
                request, 422, "no_audio", "Bản tin cần tệp âm thanh (phần 'audio') hoặc văn bản (text)"
            )
        d0, c0 = b.areas[0]
        new = lib.NewContent(d0, c0, b.title, "upload" if has_audio else "tts", p.username, text=b.text)
        now = c.clock()
        horizon = broadcast_settings(c.config).schedule.conflict_horizon_days

        def run(s: Session) -> dict[str, Any]:
            again = intake.find(s, b.upstream_id)
            if again is not None:
                return intake.receipt(again, True)
            data = lib.insert_content(s, store, new, stored, now)
            row = intake.land(s, b, data["id"], "api", p.username, now, c.tz, horizon)
            return intake.receipt(row, False)

        try:
            rec = await c.db.run(run)
        except IntegrityError:  # the same bulletin sent twice at once: the other request stored it
            row = await c.db.run(lambda s: intake.find(s, b.upstream_id))
            assert row is not None
            rec = intake.receipt(row, True)
    if rec["duplicate"]:
        return json_response(rec)
    if b.level == 3 and broadcast_settings(c.config).bulletins.emergency == "air_now":
        rec = await emergency.air_now(c.db, scheduler_of(request), rec, p.username)
    c.count("bulletins_received")
    log.info(
        "bulletin %s (level %d) from %s landed as %s", b.upstream_id, b.level, p.username, rec["programmes"]
    )
    await reload_scheduler(request)
    return json_response(rec, status=201)


_PROGRAMME = {
    "type": "object",
    "properties": {
        "district": {"type": "string"}, "commune": {"type": "string"}, "programme_id": {"type": "integer"},
        "content_id": {"type": "integer"}, "state": {"type": "string"},
        "airing_id": {"type": "string", "description": "aired at once (emergency policy air_now)"},
        "air_error": {"type": "string", "description": "why it could not be aired at once"},
    },
}  # fmt: skip
RECEIPT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["bulletin_id", "upstream_id", "received_at", "level", "programmes", "duplicate"],
    "properties": {
        "bulletin_id": {"type": "integer"},
        "upstream_id": {"type": "string"},
        "received_at": {"type": "string", "format": "date-time"},
        "level": {"enum": [1, 2, 3]},
        "programmes": {"type": "array", "items": _PROGRAMME},
        "duplicate": {"type": "boolean", "description": "true: this upstream_id was received before"},
    },
}
FORM: dict[str, Any] = {
    "type": "object",
    "required": ["bulletin"],
    "additionalProperties": False,
    "properties": {
        "bulletin": {**intake.BULLETIN_SCHEMA, "description": "The bulletin (JSON part)"},
        "audio": {"type": "string", "format": "binary", "description": "The audio (mp3, wav, m4a, ogg …)"},
    },
}

ROUTES = [
    ApiRoute(
        "POST",
        "/broadcasts/bulletins",
        submit_bulletin,
        "Receive a bulletin from the province (TT39 level 1–3): lands as programmes for approval; the receipt",
        response=RECEIPT_SCHEMA,
        errors=(400, 401, 403, 413, 415, 422, 429),
        body=Body({MULTIPART: FORM}),
        status=201,
        also={200: RECEIPT_SCHEMA},
    )
]
