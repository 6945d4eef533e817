"""The broadcast hub component (`hub.broadcast`): speaker registry, dispatcher and the programme scheduler,
started after MQTT and stopped before it.

Web handlers reach the parts as `ctx(request).hub.broadcast.dispatcher` / `.scheduler` / `.speakers`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from broadcast.airings.dispatcher import HubDispatcher
from broadcast.scheduling.scheduler import BroadcastScheduler
from broadcast.speakers.registry import SpeakerRegistry
from contract import Channel, Kind, Topic

if TYPE_CHECKING:
    from hub.core.runtime import Hub

log = logging.getLogger("broadcast")


class BroadcastService:
    name = "broadcast"

    def __init__(self, hub: Hub, clock: Callable[[], float] = time.time) -> None:
        self.hub = hub
        cfg = hub.config.broadcast
        self.speakers = SpeakerRegistry(
            hub.db,
            hub.events,
            hub.influx,
            stale_after_s=cfg.dispatch.speaker_stale_after_s,
            flush_s=hub.config.ingest.state_flush_s,
            clock=clock,
        )
        self.dispatcher = HubDispatcher(
            hub.db,
            self._publish,
            self.speakers,
            hub.events,
            hub.influx,
            cfg.dispatch,
            hub.config.http.public_url,
            clock=clock,
        )
        self.scheduler = BroadcastScheduler(
            hub.db, self.dispatcher, ZoneInfo(hub.config.timezone), cfg.schedule
        )
        hub.add_handler(Kind.SPEAKER, Channel.STATUS, self.speakers.on_status)
        hub.add_handler(Kind.SPEAKER, Channel.HEALTH, self.speakers.on_health)
        hub.add_handler(Kind.SPEAKER, Channel.EVENT, self.dispatcher.on_event)
        hub.stats.gauges.update(
            speakers=lambda: len(self.speakers.speakers),
            speakers_online=lambda: sum(1 for s in self.speakers.speakers.values() if s.online),
            airings_followed=lambda: self.dispatcher.followed,
            speaker_events_rejected=lambda: self.dispatcher.rejected,
            scheduler_leader=lambda: int(self.scheduler.is_leader),
            scheduler_jobs=lambda: self.scheduler.stats()["jobs"],
            airings_missed=lambda: self.scheduler.counters["missed"],
        )

    async def _publish(self, topic: Topic, payload: bytes) -> None:
        await self.hub.publish(topic, payload, qos=1, retain=False)

    async def start(self) -> None:
        await self.speakers.load()
        self.speakers.start()
        await self.dispatcher.start()
        await self.scheduler.start()
        alerts: Any = getattr(self.hub, "alerts", None)
        add_source = getattr(alerts, "add_source", None)
        if add_source is not None:
            add_source(self.speakers.facts)
            add_source(self.dispatcher.facts)
        else:
            log.info("no alert engine in this hub: speaker and broadcast facts are not alerted")
        log.info("broadcast: %d speakers known", len(self.speakers.speakers))

    async def stop(self) -> None:
        await self.scheduler.stop()
        await self.dispatcher.stop()
        await self.speakers.stop()
