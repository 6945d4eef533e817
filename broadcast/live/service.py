"""The hub's live sessions: one at a time per hub (one Snapcast stream). Opening a session sends a signed `live`
order to every targeted speaker, the phone's chunks go to the engine, and the session ends on stop, on a phone
silent beyond the grace, or at the time limit; then every speaker gets a `stop` naming the session and the
recording is closed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from broadcast.live.config import LiveConfig
from broadcast.live.engine import EngineSettings, LiveEngine, LiveEngineError
from broadcast.live.priority import blocking_airing
from broadcast.live.session import EndReason, LiveLimits, LiveSession
from broadcast.orders import AiringOrder, Priority, speaker_key_in
from contract import Channel, LiveData, Model, SpeakerCommand, StopData, Topic
from contract.topics import speaker_topic

log = logging.getLogger("broadcast.live")

SendOrder = Callable[[Topic, Model], Awaitable[None]]


REPORTS_WAIT_S = 3.0  # after the stop orders: the receivers' `finished` reports come in before the totals


class Airings(Protocol):
    """The dispatcher's part a live session uses: its airing and receipts, like a programme's."""

    async def dispatch(self, order: AiringOrder) -> None: ...

    async def finish_now(self, airing_id: str) -> None: ...


def live_order(sid: str, t: LiveTargets, now: float, max_duration_s: float) -> AiringOrder:
    """The airing of a live session in the playout history. No items (nothing to prepare): its planned length
    is the time limit, carried as the gap of an empty two-repeat playlist so the dispatcher's timers end it at
    the limit at the latest; `finish_now` totals it when it ends before."""
    title = f"Phát trực tiếp ({t.user})"
    return AiringOrder(sid, 0, title, t.district, t.commune, t.speakers, (), 2, max_duration_s, now,
                       Priority(t.priority))  # fmt: skip


class LiveBusy(Exception):
    """Another live session is on air."""


class LiveWaits(Exception):
    """An airing of a higher priority holds some of the speakers: its title."""


# Active airing orders (`airings.order`) the priority check compares a new session with.
ActiveOrders = Callable[[], Awaitable[list[dict[str, Any]]]]


@dataclass(frozen=True, slots=True)
class LiveTargets:
    district: str
    commune: str
    speakers: tuple[str, ...]
    priority: str  # normal | priority | emergency
    user: str


class LiveService:
    def __init__(
        self,
        cfg: LiveConfig,
        workdir: Path,
        send_order: SendOrder,
        clock: Callable[[], float] = time.time,
        airings: Airings | None = None,
        active: ActiveOrders | None = None,
    ) -> None:
        self.airings = airings
        self.active = active
        self._closing: set[asyncio.Task[None]] = set()
        self.cfg = cfg
        self.workdir = workdir
        self.send_order = send_order
        self.clock = clock
        self.engine = LiveEngine(
            workdir / "engine",
            EngineSettings(cfg.stream_port, cfg.control_port, cfg.bind, cfg.buffer_ms, codec=cfg.codec),
        )
        self.session: LiveSession | None = None
        self.targets: LiveTargets | None = None
        self.rejected_chunks = 0  # over max_chunk_kb
        self.engine_failures = 0  # snapserver would not start
        self.recordings: dict[str, Path] = {}
        self.contents: dict[str, int] = {}  # session id → its recording in the content library
        self.recordings_refused = (
            0  # refused by the content processing (silent, too short)  # session id → what went out
        )
        self._watch: asyncio.Task[None] | None = None
        self._ended: dict[str, asyncio.Event] = {}  # set once a session has ended and its recording is closed
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        await self._ensure_engine()

    async def _ensure_engine(self) -> None:
        """snapserver up; started again when it died (supervised: a session must not find it gone). A hub
        whose snapserver cannot start keeps running: the live page says so when a session is opened."""
        if self.engine.running:
            return
        try:
            await self.engine.stop()  # reap a dead one
            await self.engine.start()
        except LiveEngineError as exc:
            self.engine_failures += 1
            log.error("live engine not running: %s", exc)

    async def stop(self) -> None:
        if self.session is not None:
            await self.end(EndReason.STOPPED)
        for task in list(self._closing):
            task.cancel()
        await self.engine.stop()

    async def open(self, targets: LiveTargets) -> LiveSession:
        async with self._lock:
            if self.session is not None:
                raise LiveBusy(self.session.session_id)
            now = self.clock()
            if self.active is not None:
                higher = blocking_airing(
                    targets.priority,
                    targets.district,
                    targets.commune,
                    targets.speakers,
                    await self.active(),
                    now,
                )
                if higher is not None:
                    raise LiveWaits(str(higher.get("title", higher.get("airing_id", ""))))
            await self._ensure_engine()
            if not self.engine.running:
                raise LiveEngineError("snapserver is not running")
            sid = f"live-{int(now)}-{secrets.token_hex(3)}"
            limits = LiveLimits(self.cfg.grace_s, self.cfg.max_duration_s)
            session = LiveSession(sid, now, limits)
            await self.engine.begin_session(self.workdir / "recordings" / f"{sid}.webm")
            self.session, self.targets = session, targets
            self._ended[sid] = asyncio.Event()
            data = LiveData(
                airing=sid,
                host=self.cfg.stream_host,
                port=self.cfg.stream_port,
                until=now + limits.max_duration_s,
                priority=targets.priority,  # checked by the web input model
            )
            if self.airings is not None:
                await self.airings.dispatch(live_order(sid, targets, now, limits.max_duration_s))
            await self._to_speakers(targets, "live", data, now)
            log.info("live %s opened by %s on %d speakers", sid, targets.user, len(targets.speakers))
            self._watch = asyncio.create_task(self._watchdog(session), name=f"live-watch-{sid}")
            return session

    async def audio(self, chunk: bytes) -> None:
        session = self.session
        if session is None:
            raise LiveBusy("no session")
        session.audio(len(chunk), self.clock())
        await self.engine.feed(chunk)

    async def _watchdog(self, session: LiveSession) -> None:
        while self.session is session:
            reason = session.due_end(self.clock())
            if reason is not None:
                try:
                    await self.end(reason)
                except Exception:  # the hub stopping under it: nothing else may end this task
                    log.exception("live %s: ending failed", session.session_id)
                return
            await asyncio.sleep(session.next_check_in(self.clock()))

    async def end(self, reason: EndReason) -> Path | None:
        async with self._lock:
            session, targets = self.session, self.targets
            if session is None or targets is None:
                return None
            now = self.clock()
            session.end(reason, now)
            self.session = self.targets = None
            watch, self._watch = self._watch, None
            if watch is not None and watch is not asyncio.current_task():
                watch.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watch
            await self._to_speakers(targets, "stop", StopData(airing=session.session_id), now)
            rec = await self.engine.end_session()
            if rec is not None:
                self.recordings[session.session_id] = rec
            done = self._ended.pop(session.session_id, None)
            if done is not None:
                done.set()
            if self.airings is not None:
                task = asyncio.create_task(
                    self._total(session.session_id), name=f"live-total-{session.session_id}"
                )
                self._closing.add(task)
                task.add_done_callback(self._closing.discard)
            log.info(
                "live %s ended: %s after %.1f s", session.session_id, reason.value, now - session.started_at
            )
            return rec

    async def wait_ended(self, session: LiveSession) -> None:
        """Until the session has ended (stop, the grace after a dropped phone, the time limit) and its
        recording is closed."""
        done = self._ended.get(session.session_id)
        if done is not None:
            await done.wait()

    async def _total(self, sid: str) -> None:
        assert self.airings is not None
        await asyncio.sleep(REPORTS_WAIT_S)
        try:
            await self.airings.finish_now(sid)
        except Exception:
            log.exception("live %s: totals not written", sid)

    async def _to_speakers(self, t: LiveTargets, action: str, data: LiveData | StopData, now: float) -> None:
        for slug in t.speakers:
            cmd = SpeakerCommand(transaction=secrets.token_hex(8), action=action, ts=now, data=data)
            # A speaker of a commune merged into this one keeps its old topics: the order names its whole key.
            d, c, sp = speaker_key_in(t.district, t.commune, slug).split("/")
            try:
                await self.send_order(speaker_topic(d, c, sp, Channel.CMD), cmd)
            except Exception as exc:  # one speaker's order lost must not keep the others from theirs
                log.warning("live: %s order to %s not sent: %s", action, slug, exc)

    async def listeners(self) -> list[str]:
        """Targeted speakers Snapcast has connected now: who is listening."""
        if self.targets is None:
            return []
        wanted = set(self.targets.speakers)
        try:
            return sorted(
                c["id"] for c in await self.engine.clients() if c["connected"] and c["id"] in wanted
            )
        except OSError:
            return []

    def describe(self) -> dict[str, Any] | None:
        s, t = self.session, self.targets
        if s is None or t is None:
            return None
        return {
            "session": s.session_id, "started_at": s.started_at, "user": t.user, "commune": t.commune,
            "speakers": list(t.speakers), "priority": t.priority, "bytes": s.bytes_in,
        }  # fmt: skip
