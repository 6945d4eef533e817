"""The edge agent: ties the probe scheduler, the outbox and the MQTT link together on one asyncio loop.

The link, outbox and publisher wiring, the run loop and the shutdown come from `device_runtime.agent`; what is
done with each probe result is in `edge_agent.probe_results`, the hub's commands in `edge_agent.command_runner`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any

from contract import RecorderHealth, encode, topics
from device_runtime.agent import DeviceAgent
from device_runtime.diskqueue import DiskOutbox
from device_runtime.orders import OrderGate, read_hub_key
from device_runtime.outbox import OutMessage
from device_runtime.redact import Redactor, redact_url
from edge_agent.command_runner import CommandRunner
from edge_agent.config import EdgeConfig, RecorderConfig
from edge_agent.counters import Counters
from edge_agent.health import CameraState, clock_is_sane
from edge_agent.judgement import CameraJudge
from edge_agent.probe_results import ProbeResults
from edge_agent.recorders import RecorderWatcher
from edge_agent.reference import ReferenceStore
from edge_agent.scheduler import ProbeScheduler
from edge_agent.status import free_mb, status_payload
from edge_agent.workers import WorkerPool, probe_in_pool

log = logging.getLogger(__name__)

STATUS_EVERY_S = 60.0  # the retained status is refreshed so the hub sees the queue drain and the disk fill


class EdgeAgent(ProbeResults, CommandRunner, DeviceAgent):
    log = log
    unsent = "messages"
    drain_on_stop_s = 1.5
    offline_ack_s = 2.0

    def __init__(
        self,
        config: EdgeConfig,
        config_path: Path | None,
        redactor: Redactor,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.config_path = config_path
        self.redactor = redactor
        a = config.agent
        self.reply_topic = str(topics.edge_reply(a.district, a.commune, a.id))
        base_dir = config_path.parent if config_path else Path.cwd()
        # Opens the outbox: raises DiskQueueError when the queue file cannot be opened.
        super().__init__(
            config.mqtt,
            config.client_id,
            str(topics.edge_status(a.district, a.commune, a.id)),
            str(topics.edge_cmd(a.district, a.commune, a.id)),
            config.outbox,
            base_dir,
            clock,
        )
        self.outbox_path = config.outbox.path  # the file in use until a restart, whatever a reload says
        # Free space reported in the status is that of the disk holding the queue (or the config's directory).
        self.data_dir = self.outbox.path.parent if isinstance(self.outbox, DiskOutbox) else base_dir
        # Orders are run only when signed by the hub for this box (contract/orders.py); the last sequence
        # accepted is kept beside the queue.
        self.gate = OrderGate(
            read_hub_key(config.hub_public_key, base_dir),
            topics.edge_cmd(a.district, a.commune, a.id),
            self.data_dir / "orders.json",
        )
        # Cameras being looked at again after their own failed probe: a failure of that look is reported.
        self._rechecking: set[str] = set()
        # Healthy cameras probed together with a failed sibling's second look (a switch or power fault takes
        # several at once): a failure seen from that moment on counts as confirmed.
        self._swept: set[str] = set()
        self._sweep_at = 0.0
        self.counters = Counters()
        self.cameras: dict[str, CameraState] = {}
        self.references = ReferenceStore(config.reference.dir, config_path.parent if config_path else None)
        self.judges: dict[str, CameraJudge] = {}  # reference views and confirmation, across probes
        self.pool = WorkerPool(config.probe.concurrency)
        self.pool.on_change = self._publish_status  # restarts and failing show in the retained status
        self.scheduler = ProbeScheduler(
            config.enabled_cameras(),
            config.probe,
            config.thresholds,
            partial(probe_in_pool, self.pool),
            self._on_result,
        )
        self.recorders = RecorderWatcher(config.recorders, a.id, self._send_recorder, clock)
        self._command_tasks: set[asyncio.Task[None]] = set()
        self._reply_tasks: set[asyncio.Task[None]] = set()  # "busy" answers to refused commands

    # --- life cycle --------------------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> int:
        """Run until `stop` is set; the exit code (non-zero when an internal task died)."""
        self._attach()
        log.info(
            "edge agent starting agent=%s boot=%s cameras=%d broker=%s:%d",
            self.config.agent.id,
            self.boot,
            len(self.scheduler.camera_ids),
            self.config.mqtt.host,
            self.config.mqtt.port,
        )
        self._log_cameras(c.id for c in self.config.enabled_cameras())
        for rec in self.recorders.recorders:  # the account stays out: the URL never carries it (config check)
            log.info("watching recorder %s (%s) api=%s url=%s user=%s", rec.id, rec.name or "-", rec.api,
                     rec.url, rec.username)  # fmt: skip
        self.pool.start()
        self.link.start()
        background = [
            asyncio.create_task(self._consume_link_events(), name="link-events"),
            asyncio.create_task(self.scheduler.run(), name="scheduler"),
            asyncio.create_task(self._stats_forever(), name="stats"),
            asyncio.create_task(self._status_forever(), name="status"),
            asyncio.create_task(self.recorders.run(), name="recorders"),
        ]
        return await self._supervise(stop, background)

    async def _stop_work(self) -> None:
        await self.scheduler.stop()
        await self.pool.close()
        for task in list(self._command_tasks):
            task.cancel()
        await asyncio.gather(*self._command_tasks, *self._reply_tasks, return_exceptions=True)

    def _log_cameras(self, ids: Iterable[str]) -> None:
        """Which URL each camera is probed at (credentials masked): the first thing to check in the field."""
        cams = {c.id: c for c in self.config.cameras}
        for cid in ids:
            cam = cams[cid]
            log.info(
                "watching camera %s (%s) url=%s expected_fps=%s",
                cid,
                cam.name or "-",
                redact_url(cam.url),
                cam.expected_fps or "-",
            )

    async def _send_recorder(self, rec: RecorderConfig, health: RecorderHealth) -> None:
        if not self._clock_ok(health.ts):
            return
        a = self.config.agent
        topic = topics.recorder_health(a.district, rec.commune or a.commune, rec.id)
        await self.publisher.enqueue(OutMessage(str(topic), encode(health)))

    # --- status ------------------------------------------------------------------------------------------------

    def _publish_status(self) -> None:
        """Retained birth message, straight onto the wire: on a reconnect it must come before the backlog."""
        now = self.clock()
        if self.publisher.gen is None or not self._clock_ok(now):
            return
        sup = self.pool.supervisor
        payload = status_payload(
            self.config,
            "online",
            now,
            self.boot,
            len(self.outbox),
            self.outbox.dropped,
            sup.restarts,
            sup.failing,
            free_mb(self.data_dir),  # one statvfs: microseconds, not worth a thread
            self.gate.counts(),
            (self.outbox.gap.first, self.outbox.gap.last)
            if isinstance(self.outbox, DiskOutbox)
            else (None, None),
        )
        self._publish_online(payload)

    def _offline_payload(self) -> bytes:
        return status_payload(self.config, "offline", self.clock(), self.boot)

    def _can_send(self) -> bool:
        return self._clock_ok(self.clock())

    def _clock_ok(self, now: float) -> bool:
        if clock_is_sane(now):
            return True
        self.counters.clock_wrong += 1
        if self.counters.clock_wrong % 100 == 1:
            log.error(
                "system clock reads %s: messages are held back until NTP sets it (%d so far)",
                time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
                self.counters.clock_wrong,
            )
        return False

    async def _status_forever(self) -> None:
        while True:
            await asyncio.sleep(STATUS_EVERY_S)
            self._publish_status()

    # --- statistics --------------------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        return {
            **asdict(self.counters),
            **asdict(self.publisher.counters),
            "seq": self.seq,
            "outbox": len(self.outbox),
            "outbox_bytes": self.outbox.bytes,
            "outbox_dropped": self.outbox.dropped,
            "outbox_replaced": self.outbox.replaced,
            "workers_killed": self.pool.killed,
            "recorder_looks": self.recorders.looks,
            "recorder_failures": self.recorders.failures,
            **self.pool.supervisor.stats(),
            "connected": self.publisher.gen is not None,
            "orders_accepted": self.gate.accepted,
            **{f"orders_refused_{k}": v for k, v in self.gate.refused.items()},
        }
