"""The hub's dispatcher (broadcast/orders.py `Dispatcher`): sends each airing's playlist to its receivers,
follows what every receiver reports, and writes the proof of airing.

For an order it publishes a `prepare` command to each targeted speaker and creates one receipt per speaker.
Receiver events are handed from the MQTT handler to one worker task (in order) that updates receipts in SQL.
Two timers per airing: at `start_at + answer_margin_s` every speaker that has not started is marked
`no_answer` (reason "loa mất kết nối" when the hub sees it offline); at the planned end + `finish_margin_s` the
airing is finalised (aired / partial / failed / interrupted) and its `airing` point goes to InfluxDB. A receiver
that reports later (it played from its cache while its link was down) still updates its receipt and the
airing's totals. Airings in flight are picked up again after a hub restart.

Several hubs: receiver events are applied by the hub owning the speaker's partition; the timers run (fenced) on
the `broadcast` leader, which follows every active airing, whoever dispatched it; replies reach whoever asked.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from broadcast.airings import store
from broadcast.airings.models import Airing
from broadcast.airings.outcome import RECEIPT_EVENTS, Timing, timing_of
from broadcast.airings.recent import RecentAirings
from broadcast.airings.wire import airing_line, cmd_topic, new_transaction, prepare_command, report_of
from broadcast.config import DispatchConfig
from broadcast.orders import AiringOrder, Priority, speaker_key_in
from broadcast.speakers.readiness import Readiness
from broadcast.speakers.registry import SpeakerRegistry
from contract import (
    Channel,
    Model,
    SpeakerCommand,
    SpeakerEvent,
    StopData,
    Topic,
    VolumeData,
)
from contract.topics import speaker_topic
from hub.core.db import Database, to_db_time
from hub.core.events import EventBus
from hub.core.facts import Fact
from hub.core.influx import InfluxWriter
from hub.core.ingest import Handler
from hub.core.leases import Lead, LeaseLost, SoleLeader
from hub.core.stats import RateLimitedLog

log = logging.getLogger("broadcast.dispatch")
# Sends an order to a receiver: the hub signs it (contract/orders.py) and publishes it on the speaker's cmd topic.
Publish = Callable[[Topic, Model], Awaitable[None]]
QUEUE_MAX = 100_000
PUBLISH_BATCH = 500  # prepare commands awaiting the broker's acknowledgement at once
EVENT_BATCH = 500  # receiver events applied in one SQL transaction
RESCAN_S = 2.0  # the leader looks for active airings it does not follow yet (aired at once by another hub)


class HubDispatcher:
    def __init__(
        self,
        db: Database,
        publish: Publish,
        speakers: SpeakerRegistry,
        events: EventBus,
        influx: InfluxWriter | None,
        config: DispatchConfig,
        public_url: str,
        clock: Callable[[], float] = time.time,
        lead: Lead | None = None,
        replies: Callable[[Topic, Handler], AbstractAsyncContextManager[None]] | None = None,
        tz: ZoneInfo | None = None,
    ) -> None:
        self.replies = replies or (lambda _t, _fn: contextlib.nullcontext())
        self.lead: Lead = lead if lead is not None else SoleLeader()
        self.lead.on_change(self._lead_changed)
        self.db = db
        self.publish = publish
        self.speakers = speakers
        self.events = events
        self.influx = influx
        self.config = config
        self.public_url = public_url
        self.clock = clock
        self.rejected = 0  # receiver events about unknown airings/receipts
        self._queue: asyncio.Queue[tuple[Topic, SpeakerEvent, float]] = asyncio.Queue(QUEUE_MAX)
        self._timers: dict[str, asyncio.Task[None]] = {}
        self._worker: asyncio.Task[None] | None = None
        self._scan: asyncio.Task[None] | None = None
        self._pending = 0  # events queued or being applied
        self._replies: dict[str, asyncio.Future[SpeakerEvent]] = {}
        self._rlog = RateLimitedLog(log)
        self.recent = RecentAirings()  # finished airings, for the alert facts
        self.readiness = Readiness(
            tz or ZoneInfo("UTC")
        )  # playlists sent and not yet ready: content-missing facts

    @property
    def followed(self) -> int:
        """Airings sent and not yet totalled."""
        return len(self._timers)

    # lifecycle ------------------------------------------------------------------------------------------
    async def start(self) -> None:
        self._worker = asyncio.create_task(self._work(), name="dispatch-events")
        since = to_db_time(self.clock() - self.config.failure_facts_h * 3600)
        for a in await self.db.run(lambda s: store.finished_since(s, since)):
            self._remember(a)
        if self.lead.is_leader:
            await self._lead_changed(True)

    async def _lead_changed(self, leading: bool) -> None:
        if leading and self._worker is not None and self._scan is None:
            self._scan = asyncio.create_task(self._follow_active(), name="dispatch-scan")
        elif not leading:
            if self._scan is not None:
                self._scan.cancel()
                self._scan = None
            for t in self._timers.values():
                t.cancel()
            self._timers.clear()

    async def _follow_active(self) -> None:
        """While leading: every active airing has its timers (after a takeover, or aired by another hub)."""
        while True:
            with contextlib.suppress(Exception):
                for a in await self.db.run(store.active_airings):
                    if a.id not in self._timers:
                        self._arm(a.id, timing_of(a.order or {}))
            await asyncio.sleep(RESCAN_S)

    async def stop(self) -> None:
        tasks = [*self._timers.values(), *([self._worker] if self._worker else [])]
        tasks += [self._scan] if self._scan is not None else []
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._timers.clear()
        self._worker = None
        self._scan = None

    # Dispatcher -----------------------------------------------------------------------------------------
    async def dispatch(self, order: AiringOrder) -> None:
        keys = [speaker_key_in(order.district, order.commune, sp) for sp in order.speakers]
        now = self.clock()
        a = await self.db.run(lambda s: store.open_airing(s, order, keys, to_db_time(now)))
        log.info(
            "airing %s (%s) to %d speakers at %s", order.airing_id, order.priority, len(keys), a.start_at
        )
        self._announce(a)
        if order.priority is Priority.EMERGENCY:
            for k in keys:
                live = self.speakers.get(k)
                if live is not None and live.playing and live.playing != order.airing_id:
                    log.warning("emergency %s preempts %s on %s", order.airing_id, live.playing, k)
        timing = timing_of(store.order_dict(order))
        if self.lead.is_leader:  # otherwise the leader finds it at its next scan
            self._arm(order.airing_id, timing)
        if order.items or order.relay is not None:
            self.readiness.expect(order.airing_id, order.title, timing.start_at, timing.end_at, keys)
            await self._send_prepares(order, now)

    async def _send_prepares(self, order: AiringOrder, now: float) -> None:
        """Publishes the prepare commands a batch at a time (each awaits the broker's acknowledgement); a speaker
        whose command the broker did not take gets a failed receipt with the reason, the others go on."""
        speakers = list(dict.fromkeys(order.speakers))
        failed: dict[str, str] = {}
        for i in range(0, len(speakers), PUBLISH_BATCH):
            batch = speakers[i : i + PUBLISH_BATCH]
            results = await asyncio.gather(
                *(
                    self.publish(
                        cmd_topic(speaker_key_in(order.district, order.commune, sp)),
                        prepare_command(order, self.public_url, now),
                    )
                    for sp in batch
                ),
                return_exceptions=True,
            )
            for sp, res in zip(batch, results, strict=True):
                if isinstance(res, BaseException):
                    failed[speaker_key_in(order.district, order.commune, sp)] = (
                        f"Không gửi được lệnh tới loa ({res})"[:300]
                    )
        if failed:
            self._rlog.log(
                logging.ERROR, "publish", "airing %s: prepare not sent to %d speakers: %s",
                order.airing_id, len(failed), next(iter(failed.values())),
            )  # fmt: skip
            await self.db.run(lambda s: store.mark_unsent(s, order.airing_id, failed))

    async def cancel(self, airing_id: str, reason: str) -> None:
        found = await self.db.run(lambda s: store.cancel_airing(s, airing_id, reason))
        if found is None:
            log.warning("cancel: no airing %s", airing_id)
            return
        a, keys = found
        self.readiness.forget(airing_id)
        for k in keys:
            await self.stop_speaker(k, airing_id)
        timer = self._timers.pop(airing_id, None)
        if timer is not None:
            timer.cancel()
        await self._finalise(airing_id)
        log.info("airing %s cancelled (%s); stop sent to %d speakers", airing_id, reason, len(keys))

    async def finish_now(self, airing_id: str) -> None:
        """Totals an airing whose end the hub knows before its planned end (a live session that stopped)."""
        timer = self._timers.pop(airing_id, None)
        if timer is not None:
            timer.cancel()
        await self._finalise(airing_id)

    # commands from people -------------------------------------------------------------------------------
    async def stop_speaker(self, key: str, airing: str | None = None) -> str:
        cmd = SpeakerCommand(
            transaction=new_transaction(), action="stop", ts=self.clock(), data=StopData(airing=airing)
        )
        await self.publish(cmd_topic(key), cmd)
        return cmd.transaction

    async def set_volume(self, key: str, volume: int, wait_s: float | None = None) -> SpeakerEvent | None:
        """Sends a volume command; with `wait_s`, waits that long for the receiver's reply (None: no reply)."""
        d, c, sp = key.split("/")
        cmd = SpeakerCommand(
            transaction=new_transaction(), action="volume", ts=self.clock(), data=VolumeData(volume=volume)
        )
        fut: asyncio.Future[SpeakerEvent] = asyncio.get_running_loop().create_future()
        self._replies[cmd.transaction] = fut
        try:
            async with self.replies(speaker_topic(d, c, sp, Channel.EVENT), self._on_reply):
                await self.publish(speaker_topic(d, c, sp, Channel.CMD), cmd)
                if not wait_s:
                    return None
                with contextlib.suppress(TimeoutError):
                    return await asyncio.wait_for(asyncio.shield(fut), wait_s)
                return None
        finally:
            self._replies.pop(cmd.transaction, None)

    # receiver events ------------------------------------------------------------------------------------
    def on_event(self, topic: Topic, msg: Model | bytes, received: float) -> None:
        """MQTT handler (event loop, quick): queues the event for the worker."""
        if not isinstance(msg, SpeakerEvent):
            return
        self._on_reply(topic, msg, received)
        try:
            self._queue.put_nowait((topic, msg, received))
            self._pending += 1
        except asyncio.QueueFull:
            self.rejected += 1
            self._rlog.log(logging.ERROR, "queue", "speaker event queue full; event from %s dropped", topic)

    def _on_reply(self, _topic: Topic, msg: Model | bytes, _received: float) -> None:
        if isinstance(msg, SpeakerEvent) and msg.event == "reply":
            fut = self._replies.get(msg.transaction or "")
            if fut is not None and not fut.done():
                fut.set_result(msg)

    async def _work(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < EVENT_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._handle(batch)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._rlog.log(logging.ERROR, "event", "%d speaker events failed: %r", len(batch), exc)
            finally:
                self._pending -= len(batch)

    async def _handle(self, batch: list[tuple[Topic, SpeakerEvent, float]]) -> None:
        """Applies queued receiver events in arrival order, all receipts of the batch in one transaction."""
        reports: list[store.Report] = []
        for topic, ev, received in batch:
            key = f"{topic.district}/{topic.commune}/{topic.id}"
            if ev.event == "reply":
                if ev.data.volume is not None:
                    self.speakers.set_volume(key, ev.data.volume)
                continue
            if ev.event == "started" and ev.airing:
                self.speakers.set_playing(key, ev.airing)
            elif ev.event in ("finished", "stopped", "failed"):
                sp = self.speakers.get(key)
                if sp is not None and sp.playing == ev.airing:
                    self.speakers.set_playing(key, None)
            if ev.data.level_dbfs is not None:
                self.speakers.set_level(key, ev.data.level_dbfs, ev.ts, ev.airing)
            if ev.event in RECEIPT_EVENTS and ev.airing:
                reason = ev.data.reason.value if ev.data.reason is not None else None
                self.readiness.report(key, ev.airing, ev.event, reason, ev.ts, ev.error)
                reports.append(store.Report(ev.airing, key, report_of(ev), to_db_time(received)))
        if not reports:
            return
        changed, unknown = await self.db.run(lambda s: store.apply_reports(s, reports))
        if unknown:
            self.rejected += len(unknown)
            airing, key, event = unknown[0]
            self._rlog.log(
                logging.WARNING, "unknown", "%d events about airings not sent to their speaker ignored, e.g. %s "
                "from %s about %r", len(unknown), event, key, airing,
            )  # fmt: skip
        for a in changed:
            if a.status in store.ACTIVE:
                self._announce(a)
            else:
                await self._finalise(a.id)  # a late report: totals change

    # timers ---------------------------------------------------------------------------------------------
    def _arm(self, airing_id: str, t: Timing) -> None:
        old = self._timers.pop(airing_id, None)
        if old is not None:
            old.cancel()
        self._timers[airing_id] = asyncio.create_task(self._follow(airing_id, t), name=f"airing-{airing_id}")

    async def _sleep_until(self, at: float) -> None:
        await asyncio.sleep(max(0.0, at - self.clock()))

    async def _follow(self, airing_id: str, t: Timing) -> None:
        try:
            await self._sleep_until(t.start_at + self.config.answer_margin_s)
            await self._queue_join()
            await self._mark_silent(airing_id)
            await self._sleep_until(max(t.end_at, t.start_at) + self.config.finish_margin_s)
            await self._queue_join()
            await self._finalise(airing_id, fenced=True)
        except LeaseLost:
            log.warning("airing %s: no longer the leader; the next one follows it", airing_id)
        finally:
            if self._timers.get(airing_id) is asyncio.current_task():
                del self._timers[airing_id]

    async def _queue_join(self) -> None:
        """Lets events that arrived before a deadline be applied before the deadline's decision (bounded: a
        flood of events must not hold the deadline back for long)."""
        for _ in range(250):
            if self._pending <= 0:
                return
            await asyncio.sleep(0.02)

    async def _mark_silent(self, airing_id: str) -> None:
        offline = {k for k, sp in self.speakers.speakers.items() if not sp.online}

        def is_offline(key: str) -> bool:
            return key in offline or self.speakers.get(key) is None

        def mark(s: Session) -> tuple[Airing | None, int]:
            self.lead.fence(s)
            return store.mark_silent(s, airing_id, is_offline)

        a, n = await self.db.run(mark)
        if n:
            log.warning("airing %s: %d speakers did not start", airing_id, n)
        if a is not None:
            self._announce(a)

    async def _finalise(self, airing_id: str, fenced: bool = False) -> None:
        now = to_db_time(self.clock())

        def finalise(s: Session) -> tuple[Airing, Any] | None:
            if fenced:
                self.lead.fence(s)
            return store.finalise(s, airing_id, now)

        found = await self.db.run(finalise)
        if found is None:
            return
        a, res = found
        log.info(
            "airing %s: %s, %d of %d speakers played, skew %s ms",
            airing_id, a.status, res.played, res.targeted, res.skew_ms,
        )  # fmt: skip
        if self.influx is not None:
            self.influx.add(airing_line(a))
        self._remember(a)
        self._announce(a)

    def _remember(self, a: Airing) -> None:
        self.recent.remember(a, self.clock(), self.config.failure_facts_h * 3600)

    def facts(self, now: float) -> list[Fact]:
        """FactSource: BROADCAST_FAILED / BROADCAST_PARTIAL for airings finished recently."""
        return self.recent.facts(now, self.config.failure_facts_h * 3600)

    def _announce(self, a: Airing) -> None:
        if self.events.subscribers:
            self.events.publish({"type": "airing", "airing": store.airing_dict(a)})
