"""The watched folder: the province's system (or an officer with a USB stick) drops a bulletin as a pair,
`NAME.json` (the same document as the API's `bulletin` part) and optionally `NAME.<audio ext>`. The JSON is the
signal that the pair is complete, so the sender writes the audio first and the JSON last, each atomically
(written under a dot-name or `.tmp`, then renamed; such names are ignored). Each pair is claimed by renaming it
into `processing/` (so two hubs sharing the folder never take the same one), then moved to `done/` with
`NAME.receipt.json` or to `rejected/` with `NAME.error.txt` naming what was wrong."""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy.orm import Session

from broadcast.bulletins import intake
from broadcast.bulletins.config import BulletinsConfig
from broadcast.content import store as lib
from broadcast.content.audio_input import AudioError
from broadcast.content.tts import VoiceBook, clean_text
from hub.core.areas import area_names
from hub.core.config import CoreConfig

log = logging.getLogger("broadcast.bulletins")

AUDIO_EXTS = (".mp3", ".wav", ".m4a", ".ogg", ".opus", ".webm", ".aac", ".flac")
SUBDIRS = ("processing", "done", "rejected")


class Refused(Exception):
    pass


class Database(Protocol):
    async def run(self, fn: Callable[[Session], Any]) -> Any: ...


class FolderIntake:
    name = "bulletin-folder"

    def __init__(
        self,
        inbox: Path,
        cfg: BulletinsConfig,
        config: CoreConfig,
        db: Database,
        store: lib.ContentStore,
        tts: VoiceBook,
        horizon_days: int,
        clock: Callable[[], datetime],
        on_landed: Callable[[], Any] | None = None,
        air_now: Callable[[dict[str, Any]], Any] | None = None,
    ) -> None:
        self.inbox, self.cfg, self.config, self.db = inbox, cfg, config, db
        self.store, self.tts, self.horizon_days, self.clock = store, tts, horizon_days, clock
        self.tz = ZoneInfo(config.timezone)
        self.on_landed = on_landed
        self.air_now = (
            air_now  # the emergency policy, when it says air_now: receipt → receipt with airing ids
        )
        self.counters: Counter[str] = Counter()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await asyncio.to_thread(self._prepare)
        self._task = asyncio.create_task(self._loop(), name="bulletin-folder")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def _prepare(self) -> None:
        for sub in SUBDIRS:
            (self.inbox / sub).mkdir(parents=True, exist_ok=True)

    async def _loop(self) -> None:
        while True:
            try:
                await self.scan()
            except Exception:  # one bad scan must not end the intake
                log.exception("bulletin folder scan failed")
            await asyncio.sleep(self.cfg.poll_s)

    def _pending(self) -> list[Path]:
        return sorted(p for p in self.inbox.glob("*.json") if not p.name.startswith(".") and p.is_file())

    async def scan(self) -> int:
        """Handles every complete pair now in the folder; returns how many."""
        done = 0
        for doc in await asyncio.to_thread(self._pending):
            claimed = await asyncio.to_thread(self._claim, doc)
            if claimed is None:
                continue  # another hub took it
            await self._handle(*claimed)
            done += 1
        return done

    def _claim(self, doc: Path) -> tuple[Path, Path | None] | None:
        stem = doc.stem
        audio = next((doc.with_suffix(e) for e in AUDIO_EXTS if doc.with_suffix(e).is_file()), None)
        proc = self.inbox / "processing"
        try:
            doc.rename(proc / doc.name)
        except FileNotFoundError:
            return None
        if audio is not None:
            audio.rename(proc / audio.name)
            audio = proc / audio.name
        log.info("bulletin %s picked up from the folder", stem)
        return proc / doc.name, audio

    async def _handle(self, doc: Path, audio: Path | None) -> None:
        try:
            rec = await self._receive(doc, audio)
        except Refused as exc:
            self.counters["rejected"] += 1
            log.warning("bulletin %s refused: %s", doc.name, exc)
            await asyncio.to_thread(self._finish, doc, audio, "rejected", f"{doc.stem}.error.txt", f"{exc}\n")
            return
        if not rec["duplicate"] and rec["level"] == 3 and self.air_now is not None:
            rec = await self.air_now(rec)
        self.counters["duplicate" if rec["duplicate"] else "received"] += 1
        body = json.dumps(rec, ensure_ascii=False, indent=2) + "\n"
        await asyncio.to_thread(self._finish, doc, audio, "done", f"{doc.stem}.receipt.json", body)
        if not rec["duplicate"] and self.on_landed is not None:
            await self.on_landed()

    def _finish(self, doc: Path, audio: Path | None, where: str, note_name: str, note: str) -> None:
        dest = self.inbox / where
        tmp = dest / f".{note_name}.tmp"
        tmp.write_text(note, encoding="utf-8")
        tmp.replace(dest / note_name)  # the sender sees the receipt whole or not at all
        for f in (doc, audio):
            if f is not None:
                shutil.move(f, dest / f.name)

    async def _receive(self, doc: Path, audio: Path | None) -> dict[str, Any]:
        try:
            b = intake.BulletinIn.model_validate_json(await asyncio.to_thread(doc.read_bytes))
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(x) for x in err["loc"]) or "bulletin"
            raise Refused(f"{where}: {err['msg']}") from None
        found = await self.db.run(lambda s: intake.find(s, b.upstream_id))
        if found is not None:
            return intake.receipt(found, True)
        now = self.clock()
        try:
            intake.check_meaning(b, now)
        except intake.BulletinRefused as exc:
            raise Refused(f"{exc.field}: {exc.message}") from None
        names = await self.db.run(lambda s: area_names(s, self.config))
        unknown = [f"{d}/{c}" for d, c in b.areas if (d, c) not in names]
        if unknown:
            raise Refused(f"communes: không có xã {', '.join(unknown)}")
        await self.store.ensure_ready()
        with self.store.job() as job:
            try:
                if audio is not None:
                    src = job / "input"
                    await asyncio.to_thread(shutil.copyfile, audio, src)
                elif b.text:
                    src = job / "input"
                    # The voice book normalises the text (numbers, dates, abbreviations) for whichever voice speaks.
                    speech = await self.tts.speak(clean_text(b.text, self.store.cfg.tts_max_chars), None)
                    await asyncio.to_thread(src.write_bytes, speech.wav)
                else:
                    raise Refused("audio: cần tệp âm thanh cùng tên hoặc văn bản (text)")
                stored = await self.store.process(job, src, self.cfg.account)
            except AudioError as exc:
                raise Refused(f"audio: {exc.message}") from None
            d0, c0 = b.areas[0]
            new = lib.NewContent(d0, c0, b.title, "upload" if audio else "tts", self.cfg.account, text=b.text)

            def run(s: Session) -> dict[str, Any]:
                again = intake.find(s, b.upstream_id)
                if again is not None:
                    return intake.receipt(again, True)
                data = lib.insert_content(s, self.store, new, stored, now)
                row = intake.land(
                    s, b, data["id"], "folder", self.cfg.account, now, self.tz, self.horizon_days
                )
                return intake.receipt(row, False)

            return dict(await self.db.run(run))
