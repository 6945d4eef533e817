"""Airings on one receiver: prepare (download, verify, decode), wait, play, preempt, stop, report.

Each accepted `prepare` gets one life-cycle task on the event loop; the playback itself runs in a `Player`
thread. At most one airing plays at a time (`current`). An emergency takes the speaker from whatever plays;
anything else finds it busy. Prepared airings are kept on disk (`airings/` in the cache dir) until they are over,
so a receiver restarted before air time still plays them, and a receiver that lost its link plays from its cache.
Events go to `emit`, which stores them in the disk outbox: they reach the hub whenever the link allows.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from broadcast.receiver.cache import AudioCache
from broadcast.receiver.config import ReceiverConfig
from broadcast.receiver.download import Downloader, PrepareError, url_allowed
from broadcast.receiver.level import LevelMeter
from broadcast.receiver.pcm import Programme, build_programme
from broadcast.receiver.player import Outcome, Player
from broadcast.receiver.relay import RelayStream
from broadcast.receiver.sinks import make_sink
from broadcast.receiver.timing import Plan, overlaps, planned_end, resumable, start_decision
from contract import FailReason, PreparePlaylist, RelayPlan

log = logging.getLogger(__name__)

LAUNCH_LEAD_S = 1.0  # the player thread (and an ALSA ffmpeg) starts this long before start_at
STOP_WAIT_S = 3.0

Emit = Callable[..., Coroutine[Any, Any, None]]


@dataclass(eq=False)
class Airing:
    plan: Plan
    transaction: str
    state: str = "preparing"  # preparing → ready → playing
    task: asyncio.Task[None] | None = None
    player: Player | None = None
    stop_reason: FailReason | None = None
    stopped_by: str | None = None
    stop_transaction: str | None = None  # of the stop command, which the stopped event answers
    started: asyncio.Task[None] | None = None
    meter: LevelMeter | None = None
    stream: RelayStream | None = None  # a relay's chunk feed
    done: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def id(self) -> str:
        return self.plan.airing

    @property
    def emergency(self) -> bool:
        return self.plan.priority == "emergency"


class Engine:
    def __init__(
        self,
        config: ReceiverConfig,
        base_dir: Path,
        cache: AudioCache,
        emit: Emit,
        gain: Callable[[], float],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.base_dir = base_dir
        self.cache = cache
        self.downloader = Downloader(cache, config.hub, config.mqtt.https_context())
        self.emit = emit
        self.gain = gain
        self.clock = clock
        self.airings: dict[str, Airing] = {}
        self.current: Airing | None = None
        self.state_dir = cache.dir / "airings"
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.sink_failed = False  # the last playback failed in the audio output (shown as amplifier fault)
        self.meter: LevelMeter | None = None  # of the latest playback: health takes its interval level
        self.counts: dict[str, int] = {"prepared": 0, "started": 0, "finished": 0, "failed": 0, "stopped": 0}

    @property
    def playing(self) -> str | None:
        return self.current.id if self.current is not None else None

    # --- commands --------------------------------------------------------------------------------------------

    async def prepare(self, transaction: str, plan: Plan, resumed: bool = False) -> None:
        old = self.airings.get(plan.airing)
        if old is not None:
            if old.transaction == transaction:
                log.info("airing %s: repeated prepare %s ignored", plan.airing, transaction)
                return
            log.info("airing %s: replaced by prepare %s", plan.airing, transaction)
            await self._end(old, FailReason.REPLACED, None, announce=False)
        if plan.priority != "emergency":
            clash = next((a for a in self.airings.values() if overlaps(a.plan, plan)), None)
            if clash is not None:
                await self._fail(
                    transaction, plan, FailReason.BUSY, f"Trùng giờ với chương trình {clash.id} đã nhận"
                )
                return
        a = Airing(plan, transaction)
        self.airings[a.id] = a
        if isinstance(plan, PreparePlaylist):
            self.cache.pin([i.sha256 for i in plan.items])
        if not resumed:
            await asyncio.to_thread(self._save, a)
        a.task = asyncio.create_task(self._life(a), name=f"airing-{a.id}")

    async def stop(self, transaction: str, airing: str | None) -> bool:
        """Stop one airing (prepared or playing) or, with None, whatever plays; False when nothing matched."""
        target = self.airings.get(airing) if airing is not None else self.current
        if target is None:
            return False
        await self._end(target, FailReason.COMMAND, None, announce=True, transaction=transaction)
        return True

    async def resume(self) -> int:
        """Prepared airings kept on disk by a previous run: prepare them again (from the cache)."""
        resumed = 0
        for path in sorted(self.state_dir.glob("*.json")):
            try:
                raw = json.loads(await asyncio.to_thread(path.read_text, encoding="utf-8"))
                model = RelayPlan if "chunk_url" in raw["plan"] else PreparePlaylist
                plan: Plan = model.model_validate(raw["plan"])
                transaction = str(raw["transaction"])
            except (OSError, ValueError, KeyError, TypeError, ValidationError) as exc:
                log.error("airing file %s unreadable, removed: %s", path, exc)
                path.unlink(missing_ok=True)
                continue
            if not resumable(self.clock(), plan):
                await self._fail(transaction, plan, FailReason.LATE, "Máy thu khởi động lại sau giờ phát")
                path.unlink(missing_ok=True)
                continue
            log.info("airing %s: resumed after a restart (start %.3f)", plan.airing, plan.start_at)
            await self.prepare(transaction, plan, resumed=True)
            resumed += 1
        return resumed

    async def close(self) -> None:
        """Shutdown: what plays is stopped (reported); prepared airings stay on disk for the next start."""
        if self.current is not None:
            await self._end(self.current, FailReason.SHUTDOWN, None, announce=False)
        for a in list(self.airings.values()):
            if a.task is not None:
                a.task.cancel()
        await asyncio.gather(*(a.task for a in self.airings.values() if a.task), return_exceptions=True)
        await self.downloader.close()

    # --- one airing's life ---------------------------------------------------------------------------------

    async def _life(self, a: Airing) -> None:
        keep_file = False
        try:
            programme = await self._prepare(a)
            if programme is None:
                return
            if not await self._wait_and_take_speaker(a):
                return
            await self._play(a, programme)
        except asyncio.CancelledError:
            keep_file = a.stop_reason is None  # shutdown: prepared airings resume at the next start
            raise
        except Exception as exc:  # a bug must cost this airing, not the receiver
            log.exception("airing %s: internal error", a.id)
            await self._fail(a.transaction, a.plan, FailReason.DECODE, f"Lỗi nội bộ máy thu: {exc!r}")
        finally:
            if a.stream is not None:
                a.stream.close()
            self._forget(a, keep_file)

    async def _prepare(self, a: Airing) -> Programme | RelayStream | None:
        began = time.monotonic()
        fetched = 0
        if isinstance(a.plan, RelayPlan):  # nothing to download ahead: the chunks come while it plays
            if not url_allowed(a.plan.chunk_url.replace("{seq}", "0"), self.config.hub.allowed_urls):
                await self._fail(
                    a.transaction, a.plan, FailReason.HOST_NOT_ALLOWED, "Địa chỉ tiếp âm không được phép"
                )
                return None
            a.stream = RelayStream(a.plan, self.config.sink.rate, self.config.mqtt.https_context(),
                                   self.config.hub.read_timeout_s, self.clock)  # fmt: skip
            a.stream.start()
            a.state = "ready"
            await self.emit(
                "ready", a.id, a.transaction, {"start_at": a.plan.start_at, "downloaded_bytes": 0}
            )
            return a.stream
        try:
            for item in a.plan.items:
                fetched += await self.downloader.ensure(item)
            programme = await build_programme(
                self.cache, a.plan, self.config.sink.rate, self.config.playback.prepare_timeout_s
            )
        except PrepareError as exc:
            log.warning("airing %s: not ready: %s (%s)", a.id, exc.reason.value, exc.message)
            await self._fail(a.transaction, a.plan, exc.reason, exc.message)
            return None
        a.state = "ready"
        self.counts["prepared"] += 1
        prepare_ms = round((time.monotonic() - began) * 1000, 1)
        log.info("airing %s ready in %.0f ms (%d bytes fetched)", a.id, prepare_ms, fetched)
        data = {"start_at": a.plan.start_at, "downloaded_bytes": fetched, "prepare_ms": prepare_ms}
        await self.emit("ready", a.id, a.transaction, data)
        return programme

    async def _wait_and_take_speaker(self, a: Airing) -> bool:
        grace = self.config.playback.late_grace_s
        if start_decision(self.clock(), a.plan, grace) == "late":
            late = self.clock() - a.plan.start_at
            await self._fail(
                a.transaction, a.plan, FailReason.LATE, f"Sẵn sàng trễ {late:.1f} giây so với giờ phát"
            )
            return False
        lead = a.plan.start_at - LAUNCH_LEAD_S - self.clock()
        if lead > 0:
            await asyncio.sleep(lead)
        cur = self.current
        if cur is not None and cur is not a:
            if a.emergency:
                await self._end(cur, FailReason.PREEMPTED, a.id, announce=False)
            elif cur.emergency:
                await self._stopped(a, FailReason.PREEMPTED, cur.id, 0.0)
                return False
            else:
                # The one before runs a little long: wait for it while there is still time.
                limit = a.plan.start_at + grace - self.clock()
                try:
                    await asyncio.wait_for(cur.done.wait(), max(0.0, limit))
                except TimeoutError:
                    await self._fail(a.transaction, a.plan, FailReason.BUSY, f"Loa đang phát {cur.id}")
                    return False
        if self.current is not None and self.current is not a:  # an emergency took it meanwhile
            await self._stopped(a, FailReason.PREEMPTED, self.current.id, 0.0)
            return False
        if start_decision(self.clock(), a.plan, grace) == "late":
            await self._fail(a.transaction, a.plan, FailReason.LATE, "Loa bận đến quá giờ phát")
            return False
        self.current = a
        return True

    async def _play(self, a: Airing, programme: Programme | RelayStream) -> None:
        loop = asyncio.get_running_loop()
        sink = make_sink(self.config.sink, a.id, self.base_dir)
        a.meter = self.meter = LevelMeter(programme.rate)
        player = Player(
            programme,
            sink,
            a.plan.start_at,
            self.config.sink.block_ms,
            self.config.sink.spin_ms,
            self.config.sink.realtime_priority,
            self.gain,
            lambda first, preroll: _call_soon(loop, self._on_started, a, first, preroll),
            meter=a.meter,
            clock=self.clock,  # the hub's time when the receiver's clock is off (hubclock.py)
            preroll_ms=self.config.sink.preroll_ms,
            buffer_ms=self.config.sink.buffer_ms,
        )
        a.player, a.state = player, "playing"
        outcome = await asyncio.shield(player.start(loop))
        if a.started is not None:
            await a.started  # started goes out before finished/stopped
        await self._report(a, outcome)

    def _on_started(self, a: Airing, first: float, preroll_s: float) -> None:
        self.counts["started"] += 1
        offset_ms = round((first - a.plan.start_at) * 1000, 3)
        preroll_ms = round(preroll_s * 1000, 3)
        log.info("airing %s started, offset %.3f ms after %.1f ms of pre-roll", a.id, offset_ms, preroll_ms)
        data = {
            "start_at": a.plan.start_at,
            "first_sample_at": first,
            "offset_ms": offset_ms,
            "preroll_ms": preroll_ms,
        }
        a.started = asyncio.create_task(self.emit("started", a.id, a.transaction, data, ts=first))

    async def _report(self, a: Airing, outcome: Outcome) -> None:
        played = round(outcome.played_s, 3)
        self.sink_failed = outcome.state == "failed"
        if outcome.state == "finished":
            self.counts["finished"] += 1
            log.info("airing %s finished, %.1f s played", a.id, played)
            await self.emit("finished", a.id, a.transaction, {"played_s": played, **_level_data(a)})
        elif outcome.state == "stopped":
            reason = a.stop_reason or FailReason.COMMAND
            await self._stopped(a, reason, a.stopped_by, played, a.stop_transaction)
        else:
            await self._fail(
                a.transaction, a.plan, FailReason.SINK, f"Lỗi đầu ra âm thanh: {outcome.error}", played
            )

    # --- endings -------------------------------------------------------------------------------------------

    async def _end(
        self,
        a: Airing,
        reason: FailReason,
        by: str | None,
        announce: bool,
        transaction: str | None = None,
    ) -> None:
        """Stop `a` whatever its state. A playing one reports `stopped` itself (with the time played); one not
        yet playing is reported here when `announce` (a stop command), silently dropped otherwise (replaced)."""
        a.stop_reason, a.stopped_by, a.stop_transaction = reason, by, transaction
        if a.state == "playing" and a.player is not None:
            a.player.stop()
            try:
                await asyncio.wait_for(a.done.wait(), STOP_WAIT_S)
            except TimeoutError:
                log.error("airing %s: playback did not stop within %.0f s", a.id, STOP_WAIT_S)
            return
        if a.task is not None:
            a.task.cancel()
            await asyncio.gather(a.task, return_exceptions=True)
        if announce:
            await self._stopped(a, reason, by, 0.0, transaction)

    async def _stopped(
        self, a: Airing, reason: FailReason, by: str | None, played: float, transaction: str | None = None
    ) -> None:
        self.counts["stopped"] += 1
        log.info(
            "airing %s stopped (%s%s), %.1f s played", a.id, reason.value, f" by {by}" if by else "", played
        )
        data: dict[str, Any] = {"reason": reason.value, "played_s": played, **_level_data(a)}
        if by is not None:
            data["by"] = by
        await self.emit("stopped", a.id, transaction or a.transaction, data)

    async def _fail(
        self, transaction: str, plan: Plan, reason: FailReason, message: str, played: float = 0.0
    ) -> None:
        self.counts["failed"] += 1
        data: dict[str, Any] = {"reason": reason.value}
        if played:
            data["played_s"] = played
        await self.emit("failed", plan.airing, transaction, data, error=message)

    def _forget(self, a: Airing, keep_file: bool) -> None:
        if self.airings.get(a.id) is a:
            del self.airings[a.id]
        if self.current is a:
            self.current = None
        if isinstance(a.plan, PreparePlaylist):
            self.cache.unpin([i.sha256 for i in a.plan.items])
        a.done.set()
        if not keep_file:
            self._file(a.id).unlink(missing_ok=True)  # one small unlink: not worth a thread hop in `finally`

    # --- persistence ---------------------------------------------------------------------------------------

    def _file(self, airing: str) -> Path:
        return self.state_dir / f"{airing}.json"

    def _save(self, a: Airing) -> None:
        tmp = self._file(a.id).with_suffix(".tmp")
        tmp.write_text(json.dumps({"transaction": a.transaction, "plan": a.plan.model_dump(mode="json")}))
        tmp.replace(self._file(a.id))

    def planned_ends(self) -> dict[str, float]:
        return {k: planned_end(a.plan) for k, a in self.airings.items()}


def _level_data(a: Airing) -> dict[str, float]:
    """The airing's level as sent to the amplifier (nothing when it never played a block)."""
    level = a.meter.airing() if a.meter is not None else None
    return {} if level is None else {"level_dbfs": level.level_dbfs, "silent_s": level.silent_s}


def _call_soon(
    loop: asyncio.AbstractEventLoop,
    fn: Callable[[Airing, float, float], None],
    a: Airing,
    t: float,
    preroll_s: float,
) -> None:
    try:
        loop.call_soon_threadsafe(fn, a, t, preroll_s)
    except RuntimeError:
        pass  # the loop is closed: shutting down
