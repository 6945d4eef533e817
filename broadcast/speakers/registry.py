"""Loudspeaker receivers as the hub sees them: status (online/offline by Last Will, stale after silence) and
health from MQTT, kept in memory, written to the `speakers` table, `speaker_health` points to InfluxDB,
`speaker` live events, and SPEAKER_OFFLINE facts for the alert engine.

A receiver unknown to the hub is registered on first contact (name and village from its status message,
cleaned) as `pending`: in no programme and named in no alert until an administrator approves it. A receiver id
registered in one district or commune cannot appear in another (refused and counted). Only
the columns that receivers report are written here, so names or villages an administrator edited stay as they
are. SQL writes are coalesced: a changed speaker is written at the next flush (every `flush_s`), all in one
transaction in the shared SQL thread. With several hubs only the speakers of this hub's partitions (`owns`) are
changed here; the others are re-read from SQL every `mirror_s` (their owner writes them), and a partition just
taken over starts from what its previous owner wrote.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from broadcast.speakers.facts import offline_facts, stale_speakers
from broadcast.speakers.health_facts import HealthFacts
from broadcast.speakers.live import OFFLINE as OFFLINE
from broadcast.speakers.live import ONLINE as ONLINE
from broadcast.speakers.live import STALE as STALE
from broadcast.speakers.live import UNKNOWN as UNKNOWN
from broadcast.speakers.live import SpeakerLive as SpeakerLive
from broadcast.speakers.table_write import write_speakers
from contract import Model, SpeakerHealth, SpeakerStatus, Topic
from hub.core.db import Database, to_db_time, utc
from hub.core.events import EventBus
from hub.core.facts import Fact
from hub.core.influx import InfluxWriter
from hub.core.lineproto import line, series_key, ts_ms
from hub.core.speaker_models import Speaker
from hub.core.stats import RateLimitedLog
from hub.core.text import clean_text

log = logging.getLogger("broadcast.speakers")

RECONCILE_S = 60.0  # how often administrators' edits of the table (rename, remove) are picked up
SPEAKER_STATUS_LABELS = {
    ONLINE: "Trực tuyến",
    OFFLINE: "Mất kết nối",
    STALE: "Không báo cáo",
    UNKNOWN: "Chưa có dữ liệu",
}
AMPLIFIER_LABELS = {"on": "Bật", "off": "Tắt", "fault": "Lỗi"}


def speaker_key(district: str, commune: str, slug: str) -> str:
    return f"{district}/{commune}/{slug}"


def live_from_row(r: Speaker) -> SpeakerLive:
    def ts(v: Any) -> float | None:
        d = utc(v)
        return d.timestamp() if d else None

    return SpeakerLive(
        key=r.key, district=r.district, commune=r.commune, slug=r.slug, name=r.name, village=r.village,
        status=r.status, status_since=ts(r.status_since), version=r.version, volume=r.volume,
        amplifier=r.amplifier, signal_dbm=r.signal_dbm, disk_free_mb=r.disk_free_mb, playing=r.playing,
        last_seen=ts(r.last_seen), in_db=True, pending=bool(r.pending),
    )  # fmt: skip


def _iso(ts: float | None) -> str | None:
    return None if ts is None else to_db_time(ts).isoformat() + "Z"


def speaker_dict(s: SpeakerLive) -> dict[str, Any]:
    """The JSON shape of a speaker in the API and in `speaker` live events."""
    return {
        "key": s.key, "district": s.district, "commune": s.commune, "id": s.slug, "name": s.name,
        "village": s.village, "status": s.status, "status_since": _iso(s.status_since),
        "version": s.version, "volume": s.volume, "amplifier": s.amplifier, "signal_dbm": s.signal_dbm,
        "disk_free_mb": s.disk_free_mb, "playing": s.playing, "last_seen": _iso(s.last_seen),
        "pending": s.pending, "level_dbfs": s.level_dbfs, "clock_offset_ms": s.clock_offset_ms,
    }  # fmt: skip


def health_line(s: SpeakerLive, ts: float, cache_mb: float | None = None) -> str | None:
    fields: dict[str, int | float | str | None] = {
        "clock_offset_ms": float(s.clock_offset_ms) if s.clock_offset_ms is not None else None,
        "volume": s.volume,
        "signal_dbm": float(s.signal_dbm) if s.signal_dbm is not None else None,
        "disk_free_mb": float(s.disk_free_mb) if s.disk_free_mb is not None else None,
        "amplifier": s.amplifier,
        "online": 1 if s.online else 0,
        "cache_mb": float(cache_mb) if cache_mb is not None else None,
        "level_dbfs": float(s.level_dbfs) if s.level_dbfs is not None and s.level_at == ts else None,
    }
    if s.series is None:  # 5,000 speakers every 30 s at a province: the escaped tags once per speaker
        s.series = series_key(
            "speaker_health", {"district": s.district, "commune": s.commune, "speaker": s.slug}
        )
    return line(s.series, fields, ts_ms(ts))


class SpeakerRegistry:
    """Speaker state in memory (the event loop owns it) with coalesced SQL writes."""

    def __init__(
        self,
        db: Database,
        events: EventBus,
        influx: InfluxWriter | None,
        stale_after_s: float,
        flush_s: float = 1.0,
        clock: Callable[[], float] = time.time,
        rejected: Counter[str] | None = None,
        owns: Callable[[str], bool] = lambda district: True,
        mirror_s: float | None = None,
        health_facts: HealthFacts | None = None,
    ) -> None:
        self.health_facts = health_facts
        self.owns = owns
        self.mirror_s = mirror_s
        self._owned: set[str] = set()
        self.db = db
        # Claims refused, by reason: the hub's rejection counts (`/api/v1/stats`) when given.
        self.rejected: Counter[str] = rejected if rejected is not None else Counter()
        self.events = events
        self.influx = influx
        self.stale_after_s = stale_after_s
        self.flush_s = flush_s
        self.clock = clock
        self.clock_off: set[str] = set()  # speakers whose last health said their clock is off
        self.speakers: dict[str, SpeakerLive] = {}
        self.dirty: set[str] = set()
        self._rlog = RateLimitedLog(log)
        self._task: asyncio.Task[None] | None = None
        self._homes: dict[str, str] = {}  # receiver id → key of its registry row

    async def load(self) -> None:
        rows = await self.db.run(lambda s: list(s.scalars(select(Speaker))))
        self.speakers = {r.key: live_from_row(r) for r in rows}
        self._homes = {}
        for r in rows:
            self._homes.setdefault(r.slug, r.key)

    async def reconcile(self, now: float) -> int:
        """Follows what administrators changed in the table: names and villages they edited, communes merged,
        speakers they removed (decommissioned: forgotten here unless one reported within the stale window, which
        registers it again). Returns how many were forgotten."""
        rows = await self.db.run(
            lambda s: {
                k: (n, v, p, d, c)
                for k, n, v, p, d, c in s.execute(
                    select(Speaker.key, Speaker.name, Speaker.village, Speaker.pending, Speaker.district,
                           Speaker.commune)
                )
            }
        )  # fmt: skip
        gone = [
            k
            for k, sp in self.speakers.items()
            if k not in rows
            and k not in self.dirty
            and (sp.last_seen is None or now - sp.last_seen > self.stale_after_s)
        ]
        for k in gone:
            if self._homes.get(self.speakers.pop(k).slug) == k:
                del self._homes[k.rsplit("/", 1)[-1]]
            log.info("speaker %s removed from the registry by an administrator", k)
        for k, (name, village, pending, district, commune) in rows.items():
            sp = self.speakers.get(k)
            if sp is None and k.count("/") == 2:  # added by an administrator (import), not heard from yet
                d, c, slug = k.split("/")
                sp = self.speakers[k] = SpeakerLive(k, d, c, slug, in_db=True)
                self._homes.setdefault(slug, k)
            if sp is not None:
                sp.name, sp.village = name or sp.name, village or sp.village
                # Where it belongs: its commune may have been merged into another (the key, its topic, stays).
                sp.district, sp.commune = district, commune
                if sp.in_db:  # approval is an administrator's, written in the table
                    sp.pending = bool(pending)
        return len(gone)

    async def mirror(self) -> None:
        """Several hubs: speakers of partitions this hub does not hold, and of those it just took, from SQL."""
        rows = await self.db.run(lambda s: list(s.scalars(select(Speaker))))
        owned = {r.district for r in rows if self.owns(r.district)}
        taken, self._owned = owned - self._owned, owned
        for r in rows:
            if r.key not in self.dirty and (r.district in taken or not self.owns(r.district)):
                self.speakers[r.key] = live_from_row(r)

    def get(self, key: str) -> SpeakerLive | None:
        return self.speakers.get(key)

    def _speaker(self, topic: Topic) -> SpeakerLive | None:
        key = speaker_key(topic.district, topic.commune, topic.id)
        s = self.speakers.get(key)
        if s is None:
            home = self._homes.get(topic.id)
            if home is not None and home != key:
                # Receiver ids are broker accounts: one registered elsewhere does not get a second home.
                self.rejected["speaker_elsewhere"] += 1
                self._rlog.log(
                    logging.WARNING, "elsewhere", "speaker %s refused: registered as %s", key, home
                )
                return None
            s = self.speakers[key] = SpeakerLive(key, topic.district, topic.commune, topic.id, pending=True)
            self._homes[topic.id] = key
            log.info("speaker %s registered on first contact, waiting for approval", key)
        return s

    def _changed(self, s: SpeakerLive, announce: bool = True) -> None:
        self.dirty.add(s.key)
        if announce and self.events.wants("speaker", s.district, s.commune):
            self.events.publish({"type": "speaker", "speaker": speaker_dict(s)})

    def _set_status(self, s: SpeakerLive, status: str, at: float) -> bool:
        if s.status == status:
            return False
        log.info("speaker %s: %s → %s", s.key, s.status, status)
        s.status, s.status_since = status, at
        return True

    # MQTT handlers (event loop, quick) ------------------------------------------------------------------
    def on_status(self, topic: Topic, msg: Model | bytes, received: float) -> None:
        if not isinstance(msg, SpeakerStatus):
            return
        s = self._speaker(topic)
        if s is None:
            return
        # The broker keeps the order of messages on one topic, so the latest status is the truth. Its `ts` is
        # not compared: a Last Will carries the time its connection began, older than the online before it.
        s.version = msg.version or s.version
        s.name = s.name or clean_text(msg.name)
        s.village = s.village or msg.village
        if msg.state == ONLINE:
            s.last_seen = max(s.last_seen or 0.0, received)
        else:
            s.playing = None
        at = msg.ts if msg.state == ONLINE else received
        changed = self._set_status(s, msg.state, at)
        self._changed(s)
        if changed and self.influx is not None:
            self._influx(s, at)

    def on_health(self, topic: Topic, msg: Model | bytes, received: float) -> None:
        if not isinstance(msg, SpeakerHealth):
            return
        s = self._speaker(topic)
        if s is None:
            return
        s.volume, s.amplifier, s.signal_dbm = msg.volume, msg.amplifier, msg.signal_dbm
        s.disk_free_mb, s.playing = msg.disk_free_mb, msg.playing
        s.clock_offset_ms = msg.clock_offset_ms
        if msg.level_dbfs is not None:
            self.set_level(s.key, msg.level_dbfs, msg.ts, msg.playing)
        s.last_seen = received
        # A health report means the receiver is up, whatever the hub believed (stale, or a Last Will from an
        # earlier connection that arrived after the new one's status).
        self._set_status(s, ONLINE, msg.ts)
        self._changed(s)
        self._clock_offset(s.key, msg.clock_offset_ms)
        if self.influx is not None:
            self._influx(s, msg.ts, getattr(msg, "cache_mb", None))

    def _clock_offset(self, key: str, offset_ms: float | None) -> None:
        """A receiver whose clock is off says so (it corrects for it when it plays): told once, and when fixed."""
        if offset_ms is not None and key not in self.clock_off:
            self.clock_off.add(key)
            log.warning(
                "speaker %s: its clock is %+.0f ms off the hub's (NTP?); it starts on hub time",
                key,
                offset_ms,
            )
        elif offset_ms is None and key in self.clock_off:
            self.clock_off.discard(key)
            log.info("speaker %s: its clock agrees with the hub's again", key)

    def _influx(self, s: SpeakerLive, ts: float, cache_mb: float | None = None) -> None:
        assert self.influx is not None
        try:
            point = health_line(s, ts, cache_mb)
        except ValueError:
            return
        if point is not None:
            self.influx.add(point)

    def set_playing(self, key: str, airing: str | None) -> None:
        s = self.speakers.get(key)
        if s is not None and s.playing != airing:
            s.playing = airing
            self._changed(s)

    def set_level(self, key: str, level_dbfs: float, at: float, airing: str | None) -> None:
        """The level it sent to the amplifier (from health while playing, or an airing's end), if newer."""
        s = self.speakers.get(key)
        if s is not None and (s.level_at is None or at >= s.level_at):
            s.level_dbfs, s.level_at, s.level_airing = level_dbfs, at, airing

    def set_volume(self, key: str, volume: int) -> None:
        s = self.speakers.get(key)
        if s is not None and s.volume != volume:
            s.volume = volume
            self._changed(s)

    # periodic -------------------------------------------------------------------------------------------
    def check_stale(self, now: float) -> list[SpeakerLive]:
        mine = (s for s in self.speakers.values() if self.owns(s.district))
        found = stale_speakers(mine, now, self.stale_after_s)
        for s in found:
            self._set_status(s, STALE, now)
            self._changed(s)
            if self.influx is not None:
                self._influx(s, now)
        return found

    def facts(self, now: float) -> list[Fact]:
        out = offline_facts(self.speakers.values(), now)
        if self.health_facts is not None:
            out += self.health_facts(self.speakers.values(), now)
        return out

    async def flush(self) -> None:
        keys, self.dirty = self.dirty, set()
        rows = [self.speakers[k] for k in keys if k in self.speakers]
        if not rows:
            return
        try:
            await self.db.run(lambda s: write_speakers(s, rows))
        except Exception as exc:
            self.dirty |= keys  # kept for the next flush
            self._rlog.log(logging.ERROR, "sql", "writing %d speakers failed: %r", len(rows), exc)
            raise
        for r in rows:
            r.in_db = True

    async def _run(self) -> None:
        period = min(5.0, self.stale_after_s / 4)
        next_stale = self.clock() + period
        next_reconcile = self.clock() + RECONCILE_S
        next_mirror = self.clock()
        while True:
            await asyncio.sleep(self.flush_s)
            now = self.clock()
            if self.mirror_s is not None and now >= next_mirror:
                next_mirror = now + self.mirror_s
                with contextlib.suppress(Exception):
                    await self.mirror()
            if now >= next_stale:
                self.check_stale(now)
                next_stale = now + period
            try:
                await self.flush()
                if now >= next_reconcile:
                    next_reconcile = now + RECONCILE_S
                    await self.reconcile(now)
            except Exception as exc:
                self._rlog.log(logging.ERROR, "loop", "speaker registry: %r", exc)
                await asyncio.sleep(1.0)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="speaker-registry")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        try:
            await self.flush()
        except Exception as exc:
            log.error("final speaker flush failed: %r", exc)
