"""The hub process core: MQTT in, state in memory and SQL, metrics to InfluxDB, live events out.

`HubCore` knows no feature: the composition root (hub/compose.py) builds it, then sets up each feature
through `hub.core.features.FeatureContext` and hands the resulting components back through
`add_component`. `HubCore` wires hub/core/mqtt_bridge.py → hub/core/ingest.py → hub/core/state.py and runs
the periodic tasks: SQL flush (status transitions at once, live metrics every `ingest.state_flush_s`), stale
marking, coalesced live events and the `hub_stats` measurement. The web app (hub/web/) reads SQL and subscribes to `hub.events`.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path

from sqlalchemy.engine import make_url

from contract import Channel, Kind, Model, Topic
from hub.core.acks import AckGate
from hub.core.area_merge import merged_homes
from hub.core.camera_views import CameraViews
from hub.core.cluster import ClusterIngest
from hub.core.config import CoreConfig, partition_map
from hub.core.control_channel import ControlChannel
from hub.core.db import Database
from hub.core.events import EventBus
from hub.core.features import Component
from hub.core.influx import InfluxWriter, Retention
from hub.core.influx_retention import InfluxSchemaError
from hub.core.influx_send import InfluxUnavailable
from hub.core.influx_spill import InfluxSpill
from hub.core.ingest import Handler, Ingest
from hub.core.leases import Leases
from hub.core.lineproto import line, series_key, ts_ms
from hub.core.mqtt_bridge import MqttBridge
from hub.core.order_signing import OrderSigner
from hub.core.persist import load_registry, sync_areas
from hub.core.snapshots import SnapshotStore, SnapshotWriter
from hub.core.sql_flush import SqlFlush
from hub.core.state import StateStore
from hub.core.stats import HubStats, RateLimitedLog
from hub.core.tasks import guarded
from hub.core.view_feed import ViewFeed

log = logging.getLogger("hub")

EVENT_PERIOD_S = 1.0  # at most one live event per camera per period, unless its status changed
STATS_PERIOD_S = 10.0  # hub_stats points
LAYOUT_PERIOD_S = 3600.0  # InfluxDB layout re-asserted, rp_config's horizons moved on
# Refusal reasons (hub/core/ingest.py, contract/payloads.py): the downsampled hub_stats keeps a field for each
# even before the first refusal of that kind.
REJECT_REASONS = ("bad_topic", "too_large", "not_json", "not_object", "invalid", "not_jpeg", "bad_jpeg",
                  "invalid_meta", "unknown_channel")  # fmt: skip
CONNECT_WAIT_S = 5.0  # start() waits this long for the broker, then carries on (it keeps retrying)


def _ensure_sqlite_dir(url: str) -> None:
    u = make_url(url)
    if u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:":
        Path(u.database).parent.mkdir(parents=True, exist_ok=True)


COMPONENT_STOP_S = 5.0
GC_YOUNG = 20_000  # allocations between collections of the young generation (Python's default: 700)
ROLES = ("all", "ingest", "web")


class HubCore:
    def __init__(
        self,
        config: CoreConfig,
        table_modules: Iterable[str] = (),
        prepare_schema: Callable[[Database], object] | None = None,
        role: str = "all",
    ) -> None:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        if role != "all" and not config.cluster.enabled:
            raise ValueError(f"role {role!r} needs cluster.enabled (several hubs on PostgreSQL)")
        self.config = config
        self.role = role
        cl = config.cluster
        self.hub_id = cl.hub_id or config.mqtt.client_id
        self.db = Database(config.database.url, table_modules)
        # Brings the database to the code's schema before anything reads it. `python -m hub run` passes the
        # migration check (hub/migrations/schema.py); without one (tests, tools) the tables are created.
        self.prepare_schema: Callable[[Database], object] = prepare_schema or Database.create_all
        self.events = EventBus()
        self.stats = HubStats()
        self.store = StateStore(config.ingest.stale_after_s)
        self.store.legacy_reports = config.ingest.legacy_reports
        self.feed = ViewFeed(self.store, self.events, self.stats, enabled=not cl.enabled)
        self.influx: InfluxWriter | None = None
        if config.influx.enabled:
            # A web-only process ingests nothing: only the ingesting hub owns a spill file.
            spill = (
                InfluxSpill(config.influx_spill_path, config.influx.spill_max_bytes, self.stats)
                if role != "web"
                else None
            )
            self.influx = InfluxWriter(config.influx, self.stats, fields=self.stats_field_types, spill=spill)
        self.acks = AckGate(self.influx.marks.mark if self.influx is not None else None)
        if self.influx is not None:
            self.influx.on_durable = self.acks.release
        self.retention: Retention | None = self.influx.retention if self.influx is not None else None
        self.ingest = Ingest(self.store, self.stats, self.influx, config.ingest)
        self.snapshots = SnapshotWriter(SnapshotStore.for_config(config))
        self.signer = OrderSigner.for_config(config)
        # Leader duties (features: ctx.leases) and, with several hubs, partitions. One hub alone always wins.
        self.leases = Leases(self.db, self.hub_id, cl.lease_ttl_s, cl.lease_renew_s, can_lead=role != "web")
        self.control: ControlChannel | None = None
        self.cluster: ClusterIngest | None = None
        if cl.enabled:
            # Device traffic comes through the sessions of the partitions this hub holds (hub/core/cluster.py);
            # the hub's own session carries publishes, live events between hubs and awaited replies.
            self.control = ControlChannel.open(config, self.stats, self.events, self.hub_id)
            self.bridge = self.control.bridge
            self.store.owned = set()
            if role != "web":
                self.cluster = ClusterIngest(self, config, partition_map(config))
        else:
            self.bridge = MqttBridge(
                config.mqtt,
                self.stats,
                self.ingest.drain,
                queue_max=config.ingest.queue_max,
                session_expiry_s=config.mqtt.session_expiry_s,
                inbox=self.ingest.inbox,
                # Acknowledged once durable (SQL committed, points in InfluxDB or the spill file): a killed
                # hub gets again from its session what it had not kept.
                manual_ack=True,
                receive_max=config.cluster.receive_max,
            )
        self.ingest.after_chunk = self._after_chunk
        self.stats.gauges.update(
            queue_depth=lambda: len(self.ingest.inbox),
            influx_buffered=lambda: self.influx.buffered if self.influx else 0,
            # Messages taken from the broker and not yet acknowledged (not yet durable: hub/core/acks.py).
            mqtt_unacked=lambda: len(self.ingest.acks) + self.acks.in_flush + len(self.acks.waiting),
            influx_spilled=lambda: self.influx.spill.spilled if self.influx and self.influx.spill else 0,
            influx_spill_batches=lambda: len(self.influx.spill) if self.influx and self.influx.spill else 0,
            influx_spill_bytes=lambda: self.influx.spill.bytes if self.influx and self.influx.spill else 0,
            cameras=lambda: len(self.store.cameras),
            agents=lambda: len(self.store.agents),
            duplicates=lambda: self.store.duplicates,
            out_of_order=lambda: self.store.out_of_order,
            seq_gaps=lambda: self.store.seq_gaps,
            snapshot_errors=lambda: self.snapshots.errors,
            orders_signed=lambda: self.signer.signed,
        )
        # Feature components (added by the composition root in setup order): they start after MQTT and stop
        # before it, in reverse order.
        self.components: list[Component] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._rlog = RateLimitedLog(log)
        self.sql = SqlFlush(self)
        self._started = False
        self.stats_period_s = STATS_PERIOD_S
        self.connect_wait_s = CONNECT_WAIT_S

    # lifecycle --------------------------------------------------------------------------------------------
    async def start(self) -> None:
        self.sql.started()
        self.config.data_dir.mkdir(parents=True, exist_ok=True)
        _ensure_sqlite_dir(self.config.database.url)
        await self.db.run(lambda s: self.prepare_schema(self.db))
        if self.role != "web":
            cams, agents = await self.db.run(load_registry)
            self.store.load(cams, agents)  # with several hubs: a mirror until partitions are taken
            self.store.homes = await self.db.run(merged_homes)
            future = self.store.drop_future_times(time.time(), self.config.ingest.max_future_s)
            if future:
                log.warning(
                    "%d cameras had device times in the future (from before they were refused): forgotten",
                    future,
                )
            log.info("registry loaded: %d cameras, %d agents", len(cams), len(agents))
            self.feed.loaded()
        if self.config.districts:
            await self.db.run(lambda s: sync_areas(s, self.config.districts))
        if self.influx is not None:
            self.influx.start()
        self.bridge.start()
        if self.control is not None:
            self.control.announce()
        if self.cluster is not None:
            await self.bridge.wait_connected(self.connect_wait_s)
            await self.cluster.start()
        for name, fn in (
            ("sql-flush", self.sql.run),
            ("stale-check", self._stale_loop),
            ("events", self._event_loop),
            ("stats", self._stats_loop),
            ("influx-layout", self._layout_loop),
        ):
            self._tasks.append(asyncio.create_task(self._guard(name, fn), name=f"hub-{name}"))
        for comp in self.components:
            await comp.start()
        await self.leases.start()
        # What start() loaded (the registry, its views, the features' state) lives as long as the process: the
        # cyclic GC need not walk it again. At province scale a full collection over it pauses the event loop,
        # so every answer waiting on it, for a tenth of a second or more.
        gc.freeze()
        # Rounds that build tens of thousands of short-lived objects (the alert engine's facts, a flush's rows)
        # would otherwise run many young collections each and push those objects into the old generation,
        # which then needs full collections: collect the young generation less often.
        gc.set_threshold(GC_YOUNG, 20, 50)
        self._started = True
        if not await self.bridge.wait_subscribed(self.connect_wait_s):
            log.warning(
                "MQTT broker %s:%s not reachable yet; retrying in the background",
                self.config.mqtt.host,
                self.config.mqtt.port,
            )

    async def stop(self) -> None:
        """Disconnects, applies what was already received, writes it to SQL and (within a few seconds) to
        InfluxDB."""
        if not self._started:
            self.snapshots.close()
            self.db.close()
            return
        self._started = False
        await self.leases.step_down()
        for comp in reversed(self.components):
            try:
                await asyncio.wait_for(comp.stop(), COMPONENT_STOP_S)
            except Exception as exc:
                log.error("stopping %s failed: %r", comp.name, exc)
        if self.cluster is not None:
            await (
                self.cluster.stop()
            )  # each partition: applied, flushed, acknowledged, session kept, released
        await self.leases.stop()
        own_session = self.cluster is None
        if own_session:
            # From now on nothing is taken (unacknowledged: the next start gets it again); what was taken is
            # applied, written, then acknowledged before the connection closes.
            self.bridge.closing = True
        else:
            await self.bridge.stop()
        while self.ingest.inbox:
            self.ingest.drain()
        for t in self._tasks:
            t.cancel()
        if self._tasks:  # bounded: a task that swallows its cancellation must not keep the hub from stopping
            _, stuck = await asyncio.wait(self._tasks, timeout=COMPONENT_STOP_S)
            for t in stuck:
                log.error("task %s did not stop when cancelled", t.get_name())
        self._tasks.clear()
        try:
            await asyncio.wait_for(self.flush(), 5.0)
        except Exception as exc:
            log.error("final SQL flush failed: %s", exc)
        if self.influx is not None:
            await self.influx.stop(3.0)
        self.acks.release()
        if own_session:
            await self.bridge.stop()
        self.events.close()
        await asyncio.get_running_loop().run_in_executor(None, self.snapshots.close)
        await asyncio.get_running_loop().run_in_executor(None, self.db.close)

    async def _guard(self, name: str, fn: Callable[[], Awaitable[None]]) -> None:
        """Keeps a periodic task alive: an unexpected error is logged and the task starts again."""

        def failed(name: str, exc: Exception) -> None:
            self.stats.error(f"{name}: {exc!r}")
            log.exception("hub task %s failed; restarting it", name)

        await guarded(name, fn, failed, 1.0)

    # public helpers ---------------------------------------------------------------------------------------
    def add_component(self, component: Component) -> None:
        if self._started:
            raise RuntimeError(f"component {component.name} added after the hub started")
        self.components.append(component)

    async def publish(self, topic: Topic, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        await self.bridge.publish(str(topic), payload, qos=qos, retain=retain)

    async def send_order(self, topic: Topic, order: Model) -> None:
        """Signs an order for the device of `topic` (its cmd topic) and publishes it (QoS 1, not retained)."""
        await self.publish(topic, self.signer.sign(topic, order), qos=1, retain=False)

    def add_handler(self, kind: Kind, channel: Channel, fn: Handler) -> None:
        self.ingest.add_handler(kind, channel, fn)

    async def flush(self) -> None:
        """Writes every pending change to SQL now (tests, shutdown)."""
        await self.sql.flush()

    @property
    def sql_failing(self) -> bool:
        """The latest SQL flush failed (readiness)."""
        return self.sql.failing

    async def settle_acks(self, within_s: float) -> bool:
        """Waits until every committed message is acknowledged (its points written or spilled)."""
        return await self.acks.settle(within_s)

    @property
    def views(self) -> CameraViews:
        return self.feed.views

    @property
    def web_views(self) -> CameraViews | None:
        """The views the web reads: this runtime's when it is the only hub; with several each holds only its
        partitions current, so the web follows SQL (hub/web/views.py)."""
        return self.feed.views if self.feed.enabled else None

    def forget_camera(self, key: str) -> None:
        """An administrator removed the camera from the registry (SQL already done)."""
        self.feed.forget(key)

    # events and staleness ---------------------------------------------------------------------------------
    def _after_chunk(self) -> None:
        busy = len(self.ingest.acks) >= self.config.cluster.receive_max // 2  # the broker's window fills up
        if self.store.changes.transitions or busy:
            self.sql.wake()
        ann = self.store.announce
        if ann.cameras_now or ann.agents:
            now_keys, ann.cameras_now = ann.cameras_now, set()
            agent_keys, ann.agents = ann.agents, set()
            ann.cameras -= now_keys
            self.feed.announce(now_keys, agent_keys)

    async def _event_loop(self) -> None:
        while True:
            await asyncio.sleep(EVENT_PERIOD_S)
            ann = self.store.announce
            keys, ann.cameras = ann.cameras, set()
            self.feed.announce(keys, ())

    def check_stale(self, now: float) -> int:
        n = self.store.check_stale(now)
        self._after_chunk()
        return n

    async def _stale_loop(self) -> None:
        period = min(5.0, self.config.ingest.stale_after_s / 4)
        while True:
            await asyncio.sleep(period)
            self.check_stale(time.time())

    # hub_stats --------------------------------------------------------------------------------------------
    def stats_fields(self) -> dict[str, bool | int | float | str | None]:
        snap = self.stats.snapshot()
        fields: dict[str, bool | int | float | str | None] = {}
        for k, v in snap.items():
            if isinstance(v, bool | int | float) and k not in ("last_error_at",):
                fields[k] = v
        for reason, n in snap["rejected"].items():
            fields[f"rejected_{reason}"] = n
        fields["last_error"] = snap["last_error"]
        return fields

    def stats_field_types(self) -> dict[str, type]:
        """The numeric and boolean fields of `hub_stats` (what its downsampling aggregates)."""
        types: dict[str, type] = {f"rejected_{r}": int for r in REJECT_REASONS}
        for k, v in self.stats_fields().items():
            if isinstance(v, bool | int | float):
                types[k] = type(v)
        return types

    def stats_line(self, now: float) -> str:
        fields = self.stats_fields()
        return line(series_key("hub_stats", {"hub": self.hub_id}), fields, ts_ms(now))

    async def _layout_loop(self) -> None:
        """Every hour: `rp_config` follows the clock (Grafana's choice of tier), and a policy or continuous
        query someone dropped comes back. The first run is the writer's, before its first write."""
        if self.retention is None:
            return
        while True:
            await asyncio.sleep(LAYOUT_PERIOD_S)
            try:
                await self.retention.apply(int(time.time() * 1000))
            except (InfluxUnavailable, InfluxSchemaError) as exc:
                self.stats.error(f"InfluxDB layout: {exc}")
                self._rlog.log(logging.WARNING, "layout", "InfluxDB layout not refreshed: %s", exc)

    async def _stats_loop(self) -> None:
        while True:
            await asyncio.sleep(self.stats_period_s)
            if self.influx is not None:
                self.influx.add(self.stats_line(time.time()))
