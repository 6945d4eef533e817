"""What a live session sent out goes into the content library like a recording from the phone: the same
processing (denoise, band limit, levelling for horns), a row with its title, the audit entry. The officer can
then replay it as a programme; the playout history keeps the session itself."""

from __future__ import annotations

import asyncio
import logging
import shutil
from typing import Any

from aiohttp import web

from broadcast.content import store as lib
from broadcast.content.audio_input import AudioError
from broadcast.content.jobs import QueueFull
from broadcast.live.service import LiveService, LiveTargets
from broadcast.live.session import LiveSession
from broadcast.web.content.create import store_of
from hub.core.labels import local_time
from hub.web.context import ctx

log = logging.getLogger("broadcast.live")


async def keep_recording(
    request: web.Request, live: LiveService, session: LiveSession, targets: LiveTargets
) -> dict[str, Any] | None:
    sid = session.session_id
    rec = live.recordings.get(sid)
    if rec is None:
        log.warning("live %s: nothing recorded", sid)
        return None
    c, store = ctx(request), store_of(request)
    started = local_time(c.clock().replace(microsecond=0), c.tz)
    title = f"Phát trực tiếp {started} ({targets.user})"[: lib.TITLE_MAX]
    await store.ensure_ready()
    try:
        with store.job() as job:
            src = job / "live.webm"
            await asyncio.to_thread(shutil.copyfile, rec, src)
            stored = await store.process(job, src, targets.user)
            new = lib.NewContent(
                targets.district,
                targets.commune,
                title,
                "recording",
                targets.user,
                original_name=f"{sid}.webm",
            )
            now = c.clock()
            data: dict[str, Any] = await c.db.run(lambda s: lib.insert_content(s, store, new, stored, now))
    except (AudioError, QueueFull, OSError) as exc:
        live.recordings_refused += 1
        log.warning("live %s: recording not added to the library: %s", sid, exc)
        return None
    live.contents[sid] = int(data["id"])
    log.info("live %s: recording is content %s (%.1f s)", sid, data["id"], data["duration_s"])
    return data
