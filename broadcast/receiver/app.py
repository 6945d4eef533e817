"""The receiver agent: MQTT link (Last Will, reconnect), disk outbox for events, commands, health, the engine.

Built on `device_runtime.agent.DeviceAgent` (the link: one paho thread that hands everything to asyncio through
`_post`; the publisher: outbox onto the wire, in order, after PUBACK; the crash-safe disk outbox).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from broadcast.receiver.cache import MB, AudioCache
from broadcast.receiver.commands import BadCommand, admit_command
from broadcast.receiver.config import ReceiverConfig, resolve
from broadcast.receiver.engine import Engine
from broadcast.receiver.hubclock import HubClock
from broadcast.receiver.live_session import ReceiverLive
from broadcast.receiver.player import volume_gain
from contract import (
    Channel,
    FailReason,
    LiveData,
    PreparePlaylist,
    RelayPlan,
    SpeakerCommand,
    SpeakerEvent,
    SpeakerHealth,
    SpeakerStatus,
    StopData,
    VolumeData,
    encode,
)
from contract.orders import Refusal
from contract.payloads import TS_MAX, TS_MIN
from contract.topics import speaker_topic
from device_runtime.agent import DeviceAgent
from device_runtime.link import Incoming
from device_runtime.orders import OrderGate, read_hub_key
from device_runtime.outbox import OutMessage
from device_runtime.version import VERSION

log = logging.getLogger(__name__)

COMMAND_QUEUE = 64
AMPLIFIER_STATES = ("on", "off", "fault")


@dataclass
class Counters:
    commands: int = 0
    commands_rejected: int = 0
    events: int = 0
    events_unsendable: int = 0  # could not be built (system clock not set): logged
    health_sent: int = 0


class ReceiverAgent(DeviceAgent):
    log = log
    unsent = "events"
    drain_on_stop_s = 2.0
    offline_ack_s = 2.0

    def __init__(
        self, config: ReceiverConfig, base_dir: Path, clock: Callable[[], float] = time.time
    ) -> None:
        self.config = config
        self.base_dir = base_dir
        r = config.receiver
        self.health_topic = str(speaker_topic(r.district, r.commune, r.id, Channel.HEALTH))
        self.event_topic = str(speaker_topic(r.district, r.commune, r.id, Channel.EVENT))
        cache_dir = resolve(base_dir, config.cache.dir)
        self.cache = AudioCache(cache_dir, int(config.cache.max_mb * MB))
        self.state_file = cache_dir / "state.json"
        self.volume = self._load_volume()
        outbox_cfg = config.outbox
        if outbox_cfg.path is None:  # a receiver always keeps its events on disk: default beside the cache
            outbox_cfg = outbox_cfg.model_copy(update={"path": cache_dir / "outbox.sqlite3"})
        super().__init__(
            config.mqtt,
            config.client_id,
            str(speaker_topic(r.district, r.commune, r.id, Channel.STATUS)),
            str(speaker_topic(r.district, r.commune, r.id, Channel.CMD)),
            outbox_cfg,
            base_dir,
            clock,
        )
        self.counters = Counters()
        # Orders are obeyed only when signed by the hub for this receiver (contract/orders.py).
        self.gate = OrderGate(
            read_hub_key(config.hub_public_key, base_dir),
            speaker_topic(r.district, r.commune, r.id, Channel.CMD),
            cache_dir / "orders.json",
        )
        # Airings are planned in the hub's time: a receiver clock that is off still starts on time (hubclock.py).
        self.hub_clock = HubClock(clock)
        self.engine = Engine(
            config, base_dir, self.cache, self._emit, lambda: volume_gain(self.volume), self.hub_clock
        )
        self.live = ReceiverLive(config, base_dir, self._emit, lambda t: self.engine.stop(t, None), clock)
        self._commands: asyncio.Queue[Incoming] = asyncio.Queue(COMMAND_QUEUE)

    # --- life cycle --------------------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> int:
        self._attach()
        r = self.config.receiver
        log.info(
            "receiver starting id=%s %s/%s boot=%s broker=%s:%d sink=%s volume=%d",
            r.id,
            r.district,
            r.commune,
            self.boot,
            self.config.mqtt.host,
            self.config.mqtt.port,
            self.config.sink.type,
            self.volume,
        )
        self.link.start()
        background = [
            asyncio.create_task(self._consume_link_events(), name="link-events"),
            asyncio.create_task(self._consume_commands(), name="commands"),
            asyncio.create_task(self._health_forever(), name="health"),
            asyncio.create_task(self._stats_forever(), name="stats"),
        ]
        await self.engine.resume()
        return await self._supervise(stop, background)

    async def _stop_work(self) -> None:
        await self.live.end("stopped", FailReason.COMMAND.value)
        await self.engine.close()

    # --- status ----------------------------------------------------------------------------------------------

    def _publish_status(self) -> None:
        if self._clock_ok():
            self._publish_online(self._status("online"))

    def _status(self, state: Literal["online", "offline"]) -> bytes:
        r = self.config.receiver
        return encode(
            SpeakerStatus(
                state=state, ts=self.clock(), version=VERSION, boot=self.boot, name=r.name, village=r.village
            )
        )

    def _offline_payload(self) -> bytes:
        return self._status("offline")  # raises ValueError while the clock is unset: the link waits

    def _clock_ok(self) -> bool:
        return TS_MIN <= self.clock() <= TS_MAX

    def _can_send(self) -> bool:
        return self._clock_ok()

    # --- events ------------------------------------------------------------------------------------------------

    async def _emit(
        self,
        event: str,
        airing: str | None,
        transaction: str | None,
        data: dict[str, Any],
        error: str | None = None,
        ts: float | None = None,
    ) -> None:
        """Into the disk outbox with the time it happened; the link sends it now or after a reconnect."""
        try:
            payload = SpeakerEvent.model_validate(
                {
                    "event": event,
                    "ts": ts if ts is not None else self.clock(),
                    "transaction": transaction,
                    "airing": airing,
                    "data": data,
                    "error": error[:500] if error else None,
                }
            )
        except ValidationError as exc:
            self.counters.events_unsendable += 1
            log.error("event %s for %s not sent: %s", event, airing, exc)
            return
        self.counters.events += 1
        await self.publisher.enqueue(OutMessage(self.event_topic, encode(payload)))

    # --- commands ------------------------------------------------------------------------------------------

    def _on_incoming(self, event: Incoming) -> None:
        try:
            self._commands.put_nowait(event)
        except asyncio.QueueFull:
            self.counters.commands_rejected += 1
            log.warning("command refused: %d commands waiting already", COMMAND_QUEUE)

    async def _consume_commands(self) -> None:
        """One at a time, in arrival order (a stop right after a prepare applies to it)."""
        while True:
            incoming = await self._commands.get()
            try:
                await self._handle(incoming)
            except Exception:
                log.exception("command failed")

    async def _handle(self, incoming: Incoming) -> None:
        cmd = await asyncio.to_thread(
            admit_command, self.gate, incoming.topic, incoming.payload, self.clock()
        )  # the accepted sequence is fsynced to disk: off the loop
        if isinstance(cmd, BadCommand):
            self.counters.commands_rejected += 1
            log.warning("command rejected: %s", cmd.error)
            if cmd.transaction is not None and cmd.reason is Refusal.INVALID:
                data = {"reason": FailReason.INVALID.value}
                await self._emit("failed", cmd.airing, cmd.transaction, data, error=cmd.error)
            return
        self.counters.commands += 1
        self.hub_clock.observe(cmd.ts, self.clock())
        log.info(
            "command %s transaction=%s clock_offset_ms=%s",
            cmd.action,
            cmd.transaction,
            self.hub_clock.offset_ms,
        )
        await self._execute(cmd)

    async def _execute(self, cmd: SpeakerCommand) -> None:
        data = cmd.data
        if isinstance(data, PreparePlaylist | RelayPlan):
            await self.engine.prepare(cmd.transaction, data)
        elif isinstance(data, LiveData):
            await self.live.start(cmd.transaction, data)
        elif isinstance(data, StopData):
            if await self.live.stop(data.airing):
                return
            if not await self.engine.stop(cmd.transaction, data.airing):
                what = f"chương trình {data.airing}" if data.airing else "chương trình nào đang phát"
                await self._emit("reply", data.airing, cmd.transaction, {}, error=f"Không có {what}")
        elif isinstance(data, VolumeData):
            self.volume = data.volume
            await asyncio.to_thread(self._save_volume)
            log.info("volume set to %d", self.volume)
            await self._emit("reply", None, cmd.transaction, {"volume": self.volume})

    # --- volume ------------------------------------------------------------------------------------------

    def _load_volume(self) -> int:
        try:
            value = json.loads(self.state_file.read_text(encoding="utf-8"))["volume"]
            if isinstance(value, int) and 0 <= value <= 100:
                return value
        except FileNotFoundError:
            pass
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("state file %s unreadable (%s): volume from the config", self.state_file, exc)
        return self.config.playback.volume

    def _save_volume(self) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"volume": self.volume}), encoding="utf-8")
        tmp.replace(self.state_file)

    # --- health --------------------------------------------------------------------------------------------

    async def _health_forever(self) -> None:
        while True:
            await self.publish_health()
            await asyncio.sleep(self.config.health.interval_s)

    async def publish_health(self) -> None:
        """Only while connected and straight onto the wire: an old health report has no value later."""
        if self.publisher.gen is None or not self._clock_ok():
            return
        readings = await asyncio.to_thread(self._read_device)
        # The hub's estimate wins once it is large (the receiver then plays on hub time); below that, the time
        # daemon's own figure when one is configured.
        ntp_offset = readings.pop("clock_offset_ms", None)
        clock_offset_ms = self.hub_clock.offset_ms if self.hub_clock.offset_ms is not None else ntp_offset
        meter = self.engine.meter
        level = meter.take_interval() if meter is not None else None
        health = SpeakerHealth(
            ts=self.clock(),
            seq=self.seq,
            volume=self.volume,
            playing=self.engine.playing or self.live.playing,
            cache_mb=self.cache.size_mb,
            queue=len(self.outbox),
            orders_refused=self.gate.counts(),
            level_dbfs=level.level_dbfs if level is not None else None,
            clock_offset_ms=clock_offset_ms,
            **readings,
        )
        self.seq += 1
        if self.publisher.publish_now(OutMessage(self.health_topic, encode(health))) is not None:
            self.counters.health_sent += 1

    def _read_device(self) -> dict[str, Any]:
        """Blocking reads (disk usage, amplifier and modem files): in a thread."""
        h = self.config.health
        out: dict[str, Any] = {"disk_free_mb": round(shutil.disk_usage(self.cache.dir).free / MB, 1)}
        amp: str | None = "on" if self.engine.playing else "off"
        if self.engine.sink_failed:
            amp = "fault"
        if h.amplifier_file is not None:
            text = _read_small(resolve(self.base_dir, h.amplifier_file))
            amp = text if text in AMPLIFIER_STATES else None
        out["amplifier"] = amp
        if h.signal_file is not None:
            text = _read_small(resolve(self.base_dir, h.signal_file))
            try:
                dbm = float(text) if text is not None else None
            except ValueError:
                dbm = None
            out["signal_dbm"] = dbm if dbm is not None and -150 <= dbm <= 0 else None
        if h.clock_offset_file is not None:
            out["clock_offset_ms"] = _number(
                _read_small(resolve(self.base_dir, h.clock_offset_file)), 86_400_000
            )
        return out

    # --- statistics ----------------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        return {
            **asdict(self.counters),
            **asdict(self.publisher.counters),
            **self.engine.counts,
            **self.live.counts,
            "orders_accepted": self.gate.accepted,
            **{f"orders_refused_{k}": v for k, v in self.gate.refused.items()},
            "downloads": self.engine.downloader.downloads,
            "download_retries": self.engine.downloader.retries,
            "cache_mb": self.cache.size_mb,
            "cache_evicted": self.cache.evicted,
            "outbox": len(self.outbox),
            "outbox_dropped": self.outbox.dropped,
            "connected": self.publisher.gen is not None,
        }


def _number(text: str | None, limit: float) -> float | None:
    """A finite number within ±limit from a device file, else None (the report leaves it out)."""
    try:
        v = float(text) if text is not None else None
    except ValueError:
        return None
    return v if v is not None and math.isfinite(v) and -limit <= v <= limit else None


def _read_small(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[:64].strip().lower()
    except OSError:
        return None
