"""The broadcast hub component: speaker registry, dispatcher and the programme scheduler, started after
MQTT and stopped before it. Built by broadcast/feature.py from the hub's `FeatureContext`.

Web handlers reach the parts as `ctx(request).services.find(BROADCAST)` → `.dispatcher` / `.scheduler` /
`.speakers`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from broadcast.airings.dispatcher import HubDispatcher
from broadcast.airings.store import active_airings
from broadcast.config import BroadcastConfig
from broadcast.live.service import LiveService
from broadcast.relays.dispatch import RelayingDispatcher
from broadcast.relays.streamer import RelayStreamer
from broadcast.scheduling.scheduler import BroadcastScheduler
from broadcast.speakers.health_facts import HealthFacts
from broadcast.speakers.registry import SpeakerRegistry
from contract import Channel, Kind, Model, Topic
from hub.core.features import FeatureContext, ServiceKey

log = logging.getLogger("broadcast")


class BroadcastService:
    name = "broadcast"

    def __init__(self, ctx: FeatureContext, clock: Callable[[], float] = time.time) -> None:
        cfg = ctx.settings(BroadcastConfig)
        assert ctx.send_order is not None
        self._send_order = ctx.send_order
        self.db = ctx.db
        if ctx.config.cluster.enabled and cfg.content.content_dir is None:
            log.warning(
                "several hubs: broadcast.content.content_dir is not set, so media uploaded here stay in this hub's "
                "data_dir and the other hubs cannot serve them; point it at a folder every hub mounts"
            )
        # One leader among the hubs plans the airings and follows them to their end (timers, proof of airing).
        self.lead = ctx.leases.leader("broadcast")
        self.speakers = SpeakerRegistry(
            ctx.db,
            ctx.events,
            ctx.influx,
            stale_after_s=cfg.dispatch.speaker_stale_after_s,
            flush_s=ctx.config.ingest.state_flush_s,
            clock=clock,
            rejected=ctx.stats.rejected,
            owns=ctx.owns,
            mirror_s=ctx.config.cluster.mirror_s if ctx.config.cluster.enabled else None,
            health_facts=HealthFacts(cfg.speaker_alerts),
        )
        self.dispatcher = HubDispatcher(
            ctx.db,
            self._publish,
            self.speakers,
            ctx.events,
            ctx.influx,
            cfg.dispatch,
            ctx.config.http.public_url,
            clock=clock,
            lead=self.lead,
            replies=ctx.replies,
            tz=ZoneInfo(ctx.config.timezone),
        )
        content_dir = cfg.content.directory(ctx.config.data_dir)
        self.relays = RelayStreamer(ctx.db, content_dir / "relay", cfg.relay, content_dir / "media", clock)
        self.scheduler = BroadcastScheduler(
            ctx.db,
            RelayingDispatcher(self.dispatcher, self.relays, cfg.relay),
            ZoneInfo(ctx.config.timezone),
            cfg.schedule,
            lead=self.lead,
        )
        # Live from the phone (broadcast/live/): a snapserver the hub supervises, when enabled.
        self.live = (
            LiveService(
                cfg.live,
                ctx.config.data_dir / "broadcast-live",
                self._send_order,
                clock,
                self.dispatcher,
                self._active_orders,
            )
            if cfg.live.enabled
            else None
        )
        ctx.add_handler(Kind.SPEAKER, Channel.STATUS, self.speakers.on_status)
        ctx.add_handler(Kind.SPEAKER, Channel.HEALTH, self.speakers.on_health)
        ctx.add_handler(Kind.SPEAKER, Channel.EVENT, self.dispatcher.on_event)
        ctx.add_fact_source(self.speakers.facts)
        ctx.add_fact_source(self.dispatcher.facts)
        ctx.add_fact_source(self.relays.facts)
        due_s = cfg.speaker_alerts.content_due_s
        ctx.add_fact_source(lambda now: self.dispatcher.readiness.facts(self._name, now, due_s))
        ctx.add_gauges(
            speakers=lambda: len(self.speakers.speakers),
            speakers_online=lambda: sum(1 for s in self.speakers.speakers.values() if s.online),
            airings_followed=lambda: self.dispatcher.followed,
            speaker_events_rejected=lambda: self.dispatcher.rejected,
            scheduler_leader=lambda: int(self.scheduler.is_leader),
            scheduler_jobs=lambda: self.scheduler.stats()["jobs"],
            airings_missed=lambda: self.scheduler.counters["missed"],
        )

    def _name(self, key: str) -> str | None:
        sp = self.speakers.get(key)
        return sp.name if sp is not None else None

    async def _active_orders(self) -> list[dict[str, Any]]:
        return [a.order for a in await self.db.run(active_airings) if a.order]

    async def _publish(self, topic: Topic, order: Model) -> None:
        await self._send_order(topic, order)

    async def start(self) -> None:
        await self.speakers.load()
        self.speakers.start()
        await self.dispatcher.start()
        await self.scheduler.start()
        if self.live is not None:
            await self.live.start()
        log.info("broadcast: %d speakers known", len(self.speakers.speakers))

    async def stop(self) -> None:
        if self.live is not None:
            await self.live.stop()
        await self.scheduler.stop()
        await self.relays.stop()
        await self.dispatcher.stop()
        await self.speakers.stop()


BROADCAST = ServiceKey("broadcast", BroadcastService)
# The programme pages need only the scheduler (replan after a change, air now): a key of its own.
SCHEDULER = ServiceKey("broadcast-scheduler", BroadcastScheduler)
