"""The content library: audio files on disk and their `broadcast_content` rows.

Layout under the content dir: `media/<sha256>.mp3` (processed, what receivers download by hash),
`originals/<sha256>.<ext>` (as uploaded, kept), `tmp/job-*` (one working dir per upload, removed on every
exit). Files are moved from the job dir into place inside the SQL transaction that inserts the row, just
before it commits: a failure anywhere leaves neither a row without its file nor a half-written file.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from broadcast.config import ContentConfig
from broadcast.content import audio
from broadcast.content.jobs import JobQueue
from broadcast.content.media_store import FilesystemMediaStore, MediaStore
from broadcast.content.models import BroadcastContent
from broadcast.programmes.models import STATE_APPROVED, STATE_DRAFT, STATE_PENDING, Programme, ProgrammeItem
from hub.core.access import scope_where
from hub.core.audit import record_change
from hub.core.auth import Principal
from hub.core.serialize import iso

log = logging.getLogger("broadcast.content")

SOURCES = ("recording", "upload", "tts", "relay")  # relay: broadcast/relays/content.py, no file of its own
SOURCE_LABELS = {
    "recording": "Ghi âm",
    "upload": "Tệp tải lên",
    "tts": "Đọc văn bản (TTS)",
    "relay": "Tiếp âm",
}
TITLE_MAX = 200
NAME_MAX = 255
STALE_JOB_S = 6 * 3600  # job dirs older than this at start-up are leftovers of a crash
ACTIVE_PROGRAMME_STATES = (STATE_DRAFT, STATE_PENDING, STATE_APPROVED)


class ContentError(Exception):
    """A refused request about content (not about the audio itself): status, code, Vietnamese message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class StoredAudio:
    """A processed upload waiting in its job dir, with where its files go once the row is inserted."""

    job_mp3: Path
    job_original: Path
    path: str  # relative to the content dir
    original_path: str
    sha256: str
    size: int
    duration_s: float
    loudness_lufs: float
    true_peak_dbtp: float
    input_lufs: float


@dataclass(frozen=True)
class NewContent:
    district: str
    commune: str
    title: str
    source: str
    created_by: str
    text: str | None = None
    original_name: str | None = None
    tts_voice: str | None = None
    tts_speed: float | None = None


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def clean_title(title: str) -> str:
    title = " ".join(title.split())
    if not title:
        raise ContentError(422, "bad_title", "Hãy đặt tiêu đề cho nội dung")  # well-formed, only blanks
    if len(title) > TITLE_MAX:
        raise ContentError(400, "bad_title", f"Tiêu đề dài quá {TITLE_MAX} ký tự")
    return title


def clean_file_name(name: str | None) -> str | None:
    """The name the person's file had, for display only (never used as a path)."""
    if not name:
        return None
    if _PERCENT.search(name):  # some clients (aiohttp, curl --form-string) send the name percent-encoded
        name = unquote(name, errors="strict") if _utf8_percent(name) else name
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if ch.isprintable())[:NAME_MAX].strip()
    return base or None


_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")


def _utf8_percent(name: str) -> bool:
    try:
        unquote(name, errors="strict")
    except UnicodeDecodeError:
        return False
    return True


class ContentStore:
    """Files of the library and the processing queue (CPU-bound ffmpeg runs are limited to a few at once)."""

    def __init__(self, root: Path, cfg: ContentConfig, media: MediaStore | None = None) -> None:
        self.root = root
        self.cfg = cfg
        self.queue = JobQueue(
            cfg.max_parallel_jobs, cfg.max_jobs_per_user
        )  # emergencies first, capped per person
        self.media: MediaStore = media if media is not None else FilesystemMediaStore(root)
        self.counters: Counter[str] = Counter()
        self._prepared = False

    @property
    def max_upload_bytes(self) -> int:
        return int(self.cfg.max_upload_mb * 1024 * 1024)

    def prepare(self) -> None:
        """Create the directories and remove job dirs a crash left behind (blocking: call in a thread)."""
        for sub in ("media", "originals", "tmp"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        cutoff = time.time() - STALE_JOB_S
        for job in (self.root / "tmp").glob("job-*"):
            with contextlib.suppress(OSError):
                if job.stat().st_mtime < cutoff:
                    shutil.rmtree(job, ignore_errors=True)
                    log.info("removed leftover job dir %s", job.name)
        self._prepared = True

    async def ensure_ready(self) -> None:
        if not self._prepared:
            await asyncio.to_thread(self.prepare)

    @contextlib.contextmanager
    def job(self) -> Iterator[Path]:
        """A private working dir under tmp/ (same filesystem as media/, so the final move is atomic)."""
        path = self.root / "tmp" / f"job-{uuid.uuid4().hex}"
        path.mkdir(parents=True)
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)

    def media_file(self, sha256: str) -> Path | None:
        return self.media.local_path(f"media/{sha256}.mp3")

    def original_file(self, relative: str) -> Path | None:
        return self.media.local_path(relative)

    def refuse(self, code: str, detail: str) -> None:
        self.counters[f"rejected_{code}"] += 1
        log.warning("content refused (%s): %s", code, detail)

    async def process(self, job: Path, src: Path, user: str = "", urgent: bool = False) -> StoredAudio:
        """Validate and process `src` (inside `job`); raises AudioError (audio_input.py) for a refused input and
        QueueFull when `user` already has their share of jobs."""
        out = job / "out.mp3"
        async with self.queue.slot(user, urgent):
            result = await audio.process(src, out, self.cfg)
        sha, orig_sha = await asyncio.gather(
            asyncio.to_thread(sha256_file, out), asyncio.to_thread(sha256_file, src)
        )
        self.counters["processed"] += 1
        return StoredAudio(
            job_mp3=out,
            job_original=src,
            path=f"media/{sha}.mp3",
            original_path=f"originals/{orig_sha}.{result.source.extension}",
            sha256=sha,
            size=out.stat().st_size,
            duration_s=round(result.duration_s, 3),
            loudness_lufs=round(result.loudness.integrated_lufs, 2),
            true_peak_dbtp=round(result.loudness.true_peak_dbtp, 2),
            input_lufs=round(result.input_loudness.integrated_lufs, 2),
        )

    def move_into_place(self, stored: StoredAudio) -> None:
        """Called inside the inserting transaction; identical files already there are simply replaced."""
        self.media.place(stored.job_mp3, stored.path)
        self.media.place(stored.job_original, stored.original_path)


# SQL (run in the database thread) ---------------------------------------------------------------------------


def content_dict(c: BroadcastContent) -> dict[str, Any]:
    return {
        "id": c.id,
        "district": c.district,
        "commune": c.commune,
        "title": c.title,
        "source": c.source,
        "source_label": SOURCE_LABELS.get(c.source, c.source),
        "text": c.text,
        "voice": c.tts_voice,
        "speed": c.tts_speed,
        "original_name": c.original_name,
        "sha256": c.sha256,
        "size": c.size,
        "duration_s": c.duration_s,
        "loudness_lufs": c.loudness_lufs,
        "true_peak_dbtp": c.true_peak_dbtp,
        "created_by": c.created_by,
        "created_at": iso(c.created_at),
        "deleted_at": iso(c.deleted_at),
        "media_url": f"/media/{c.sha256}.mp3" if c.sha256 else None,
        "original_url": f"/api/v1/content/{c.id}/original" if c.original_path else None,
        "relay_upstream_id": c.relay_upstream_id,
        "relay_fallback_id": c.relay_fallback_id,
    }


def insert_content(
    s: Session, store: ContentStore, new: NewContent, stored: StoredAudio, now: datetime
) -> dict[str, Any]:
    row = BroadcastContent(
        district=new.district,
        commune=new.commune,
        title=new.title,
        source=new.source,
        text=new.text,
        tts_voice=new.tts_voice,
        tts_speed=new.tts_speed,
        original_name=new.original_name,
        original_path=stored.original_path,
        path=stored.path,
        sha256=stored.sha256,
        size=stored.size,
        duration_s=stored.duration_s,
        loudness_lufs=stored.loudness_lufs,
        true_peak_dbtp=stored.true_peak_dbtp,
        created_by=new.created_by,
        created_at=now,
    )
    s.add(row)
    s.flush()
    data = content_dict(row)
    record_change(
        s,
        actor=new.created_by,
        action="content.create",
        target=f"content:{row.id}",
        now=now,
        after={k: v for k, v in data.items() if k not in ("media_url", "original_url")},
        district=new.district,
        commune=new.commune,
    )
    store.move_into_place(stored)  # last: if it fails the row rolls back with it
    return data


def list_content(
    s: Session,
    p: Principal,
    *,
    district: str | None = None,
    commune: str | None = None,
    q: str | None = None,
    source: str | None = None,
    include_deleted: bool = False,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    query = select(BroadcastContent).where(
        scope_where(p, BroadcastContent.district, BroadcastContent.commune)
    )
    if district:
        query = query.where(BroadcastContent.district == district)
    if commune:
        query = query.where(BroadcastContent.commune == commune)
    if source:
        query = query.where(BroadcastContent.source == source)
    if not include_deleted:
        query = query.where(BroadcastContent.deleted_at.is_(None))
    if q:
        like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            or_(
                BroadcastContent.title.ilike(like, escape="\\"),
                BroadcastContent.text.ilike(like, escape="\\"),
            )
        )
    total = s.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = s.scalars(
        query.order_by(BroadcastContent.created_at.desc(), BroadcastContent.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [content_dict(c) for c in rows], total


def get_content(s: Session, p: Principal, content_id: int) -> BroadcastContent | None:
    """The row if it exists and is in the caller's scope (deleted rows included: history shows them)."""
    return s.scalars(
        select(BroadcastContent).where(
            BroadcastContent.id == content_id,
            scope_where(p, BroadcastContent.district, BroadcastContent.commune),
        )
    ).first()


def programmes_using(s: Session, content_id: int) -> list[dict[str, Any]]:
    """Programmes still to air (draft, waiting for approval or approved) that play this content."""
    rows = s.execute(
        select(Programme.id, Programme.title, Programme.state)
        .join(ProgrammeItem, ProgrammeItem.programme_id == Programme.id)
        .where(ProgrammeItem.content_id == content_id, Programme.state.in_(ACTIVE_PROGRAMME_STATES))
        .distinct()
        .order_by(Programme.id)
    )
    return [{"id": pid, "title": title, "state": state} for pid, title, state in rows]


def delete_content(s: Session, p: Principal, content_id: int, now: datetime) -> dict[str, Any]:
    """Soft delete (the files stay: past airings refer to them); refused while a programme uses it."""
    row = get_content(s, p, content_id)
    if row is None or row.deleted_at is not None:
        raise ContentError(404, "not_found", "Không tìm thấy nội dung")
    users = programmes_using(s, content_id)
    if users:
        names = ", ".join(f"«{u['title']}» (#{u['id']})" for u in users[:5])
        more = f" và {len(users) - 5} chương trình khác" if len(users) > 5 else ""
        raise ContentError(
            409,
            "in_use",
            f"Nội dung đang được dùng trong chương trình {names}{more}; hãy bỏ nội dung khỏi chương trình "
            "hoặc huỷ chương trình trước khi xoá",
        )
    before = content_dict(row)
    row.deleted_at = now
    record_change(
        s,
        actor=p.username,
        action="content.delete",
        target=f"content:{row.id}",
        now=now,
        before={k: v for k, v in before.items() if k not in ("media_url", "original_url")},
        after={"deleted_at": iso(now)},
        district=row.district,
        commune=row.commune,
    )
    return content_dict(row)


def media_available(s: Session, sha256: str) -> bool:
    """A processed file is served only while some live content row has it."""
    found = s.scalar(
        select(BroadcastContent.id)
        .where(BroadcastContent.sha256 == sha256, BroadcastContent.deleted_at.is_(None))
        .limit(1)
    )
    return found is not None
