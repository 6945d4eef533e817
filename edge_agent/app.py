"""The edge agent: ties the probe scheduler, the outbox and the MQTT link together on one asyncio loop."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

from contract import MAX_SNAPSHOT_BYTES, CommandReply, EdgeCommand, SnapshotMeta, encode, topics
from contract.configfile import ConfigError
from device_runtime.diskqueue import DiskOutbox, open_outbox
from device_runtime.link import Incoming, LinkEvent, MqttLink
from device_runtime.outbox import OutMessage
from device_runtime.publisher import Publisher
from device_runtime.redact import Redactor, redact_url
from edge_agent.commands import (
    BadCommand,
    ReloadRefused,
    parse_command,
    probe_reply,
    relearn_reply,
    reload_plan,
)
from edge_agent.config import CameraConfig, EdgeConfig, load_config
from edge_agent.health import (
    CameraState,
    build_health,
    clock_is_sane,
    describe_key,
    recheck_first,
    snapshot_properties,
    snapshot_wanted,
    state_key,
)
from edge_agent.judgement import CameraJudge
from edge_agent.probe import ProbeResult
from edge_agent.reference import ReferenceStore
from edge_agent.scheduler import ProbeScheduler
from edge_agent.status import check_publishable, free_mb, status_payload
from edge_agent.workers import WorkerPool, probe_in_pool

log = logging.getLogger(__name__)

MAX_COMMANDS_IN_PROGRESS = 16
DRAIN_ON_STOP_S = 1.5  # time given to the backlog before the offline status on shutdown
OFFLINE_ACK_S = 2.0
STATS_EVERY_S = 300.0
STATUS_EVERY_S = 60.0  # the retained status is refreshed so the hub sees the queue drain and the disk fill
ERROR_MAX = 500
CLOCK_WRONG = "Đồng hồ hệ thống của hộp sai (chưa đồng bộ NTP): chưa gửi được kết quả"


@dataclass
class Counters:
    probes: int = 0
    snapshots: int = 0
    commands: int = 0
    commands_rejected: int = 0
    clock_wrong: int = 0  # results and replies not sent because the system clock is not set


class EdgeAgent:
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
        self.clock = clock
        self.boot = secrets.token_hex(6)
        self.seq = 0
        a = config.agent
        self.status_topic = str(topics.edge_status(a.district, a.commune, a.id))
        self.cmd_topic = str(topics.edge_cmd(a.district, a.commune, a.id))
        self.reply_topic = str(topics.edge_reply(a.district, a.commune, a.id))
        # Raises DiskQueueError when the queue file cannot be opened.
        self.outbox = open_outbox(config.outbox, config_path.parent if config_path else Path.cwd())
        self.outbox_path = config.outbox.path  # the file in use until a restart, whatever a reload says
        # Free space reported in the status is that of the disk holding the queue (or the config's directory).
        self.data_dir = (
            self.outbox.path.parent
            if isinstance(self.outbox, DiskOutbox)
            else (config_path.parent if config_path else Path.cwd())
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
        self.link = MqttLink(
            config.mqtt,
            config.client_id,
            self.status_topic,
            lambda: status_payload(self.config, "offline", self.clock(), self.boot),
            self._post,
        )
        self.publisher = Publisher(self.link, self.outbox, self._on_link_up, self._on_incoming)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._events: asyncio.Queue[LinkEvent] = asyncio.Queue()
        self._command_tasks: set[asyncio.Task[None]] = set()
        self._reply_tasks: set[asyncio.Task[None]] = set()  # "busy" answers to refused commands

    # --- the one place where the paho thread hands over to asyncio -------------------------------------------

    def _post(self, event: LinkEvent) -> None:
        loop = self._loop
        if loop is None:
            return
        try:
            loop.call_soon_threadsafe(self._events.put_nowait, event)
        except RuntimeError:
            pass  # the loop closed while we were shutting down; nothing is left to receive it

    # --- life cycle --------------------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> int:
        """Run until `stop` is set; the exit code (non-zero when an internal task died)."""
        self._loop = asyncio.get_running_loop()
        log.info(
            "edge agent starting agent=%s boot=%s cameras=%d broker=%s:%d",
            self.config.agent.id,
            self.boot,
            len(self.scheduler.camera_ids),
            self.config.mqtt.host,
            self.config.mqtt.port,
        )
        self._log_cameras(c.id for c in self.config.enabled_cameras())
        self.pool.start()
        self.link.start()
        background = [
            asyncio.create_task(self._consume_events(), name="link-events"),
            asyncio.create_task(self.scheduler.run(), name="scheduler"),
            asyncio.create_task(self._log_stats_forever(), name="stats"),
            asyncio.create_task(self._status_forever(), name="status"),
        ]
        stopped = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([stopped, *background], return_when=asyncio.FIRST_COMPLETED)
        failed = False
        for task in done:
            if task is not stopped:
                failed = True
                log.error("internal task %s ended: %r", task.get_name(), task.exception())
        stopped.cancel()
        await self._shutdown(background)
        return 1 if failed else 0

    async def _shutdown(self, background: list[asyncio.Task[None]]) -> None:
        log.info("stopping")
        await self.scheduler.stop()
        await self.pool.close()
        for task in list(self._command_tasks):
            task.cancel()
        await asyncio.gather(*self._command_tasks, *self._reply_tasks, return_exceptions=True)
        await self.publisher.drain(DRAIN_ON_STOP_S)
        if self.publisher.gen is not None and self._clock_ok(self.clock()):
            payload = status_payload(self.config, "offline", self.clock(), self.boot)
            offline = OutMessage(self.status_topic, payload, qos=1, retain=True)
            if not await self.publisher.publish_and_wait(offline, OFFLINE_ACK_S):
                log.warning("broker did not acknowledge the offline status")
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        # Closed only now: with the event consumer gone nothing on the loop touches the outbox any more.
        if isinstance(self.outbox, DiskOutbox):
            if len(self.outbox):
                log.info(
                    "%d unsent messages stay in %s for the next start", len(self.outbox), self.outbox.path
                )
            await asyncio.to_thread(self.outbox.close)
        elif len(self.outbox):
            log.warning("discarding %d unsent messages at shutdown", len(self.outbox))
        await asyncio.to_thread(self.link.stop)
        self._log_stats()
        log.info("stopped")

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

    # --- link events -------------------------------------------------------------------------------------------

    async def _consume_events(self) -> None:
        while True:
            self.publisher.handle(await self._events.get())

    def _on_link_up(self, gen: int) -> None:
        if not self.link.subscribe(gen, self.cmd_topic, 1):
            log.error("could not subscribe to %s", self.cmd_topic)
        self._publish_status()

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
        )
        if self.publisher.publish_now(OutMessage(self.status_topic, payload, qos=1, retain=True)) is None:
            log.warning("could not publish the online status")

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

    # --- probe results -----------------------------------------------------------------------------------------

    async def _on_result(self, cam: CameraConfig, result: ProbeResult, forced: bool) -> dict[str, Any]:
        cfg = self.config
        now = self.clock()
        self.counters.probes += 1
        if not self._clock_ok(now):
            return {"camera": cam.id, "error": CLOCK_WRONG}
        state = self.cameras.setdefault(cam.id, CameraState())
        recheck_s = min(cfg.probe.recheck_s, cfg.probe.interval_s)  # never later than its next regular probe
        confirmed = cam.id in self._rechecking or (cam.id in self._swept and now >= self._sweep_at)
        if recheck_first(state.last_key, result.online, confirmed, forced, recheck_s):
            self._rechecking.add(cam.id)
            self.scheduler.recheck(cam.id, recheck_s)
            self._sweep_siblings(cam.id, recheck_s, now)
            log.info(
                "camera %s: probe failed (%s), looking again in %.0f s", cam.id, result.reason, recheck_s
            )
            return {"camera": cam.id, "online": False, "rechecking": True, "reason": result.reason}
        self._swept.discard(cam.id)
        self._rechecking.discard(cam.id)
        judge = await self._judge_of(cam)
        problems = judge.step(result, cam.expected_fps, cfg.thresholds_of(cam), now)
        await judge.save_learned()
        seq, self.seq = self.seq, self.seq + 1
        health = build_health(cam, result, problems, ts=now, seq=seq, agent=cfg.agent.id, boot=self.boot)
        commune = cfg.commune_of(cam)
        await self.publisher.enqueue(
            OutMessage(str(topics.camera_health(cfg.agent.district, commune, cam.id)), encode(health))
        )
        state = self.cameras.setdefault(cam.id, CameraState())
        state.probes += 1
        key = state_key(result.online, problems)
        if key != state.last_key:
            log.info(
                "camera %s: %s -> %s%s",
                cam.id,
                describe_key(state.last_key),
                describe_key(key),
                f" reason={health.reason}" if health.reason else "",
            )
        log.debug(
            "probe camera=%s seq=%d online=%s problems=%s fps=%s frames=%d probe_ms=%.0f",
            cam.id,
            seq,
            result.online,
            ",".join(p.value for p in problems) or "-",
            health.fps,
            result.frames,
            result.probe_ms,
        )
        sent = False
        if result.snapshot_jpeg is not None and snapshot_wanted(state, key, forced, cfg.probe.snapshot_every):
            sent = await self._publish_snapshot(cam, result, now, seq)
        state.last_key = key
        return {
            "camera": cam.id,
            "online": result.online,
            "problems": [p.value for p in problems],
            "reason": health.reason,
            "seq": seq,
            "snapshot": sent,
        }

    def _sweep_siblings(self, failed: str, delay_s: float, now: float) -> None:
        """Probe this agent's other healthy cameras together with the failed one's second look, so that a
        commune-wide fault reaches the hub within seconds for all of them (one grouped alert) instead of spread
        over a whole probe interval."""
        if now < self._sweep_at + self.config.probe.interval_s:
            return
        self._sweep_at = now + delay_s
        others = [
            cid
            for cid in self.scheduler.camera_ids
            if cid != failed
            and cid not in self._rechecking
            and (s := self.cameras.get(cid))
            and s.last_key
            and s.last_key[0]
        ]
        self._swept = set(others)
        self.scheduler.probe_soon(others, delay_s)

    async def _judge_of(self, cam: CameraConfig) -> CameraJudge:
        judge = self.judges.get(cam.id)
        if judge is not None:
            return judge
        th = self.config.thresholds_of(cam)
        store = self.references
        opened = await asyncio.to_thread(
            CameraJudge.open, cam.id, cam.url, store, self.config.reference.learn_probes, th
        )
        if store is not self.references:
            return opened  # a reload replaced the store meanwhile: the next probe opens from the new one
        return self.judges.setdefault(cam.id, opened)  # a command may have opened it meanwhile

    async def _publish_snapshot(self, cam: CameraConfig, result: ProbeResult, ts: float, seq: int) -> bool:
        jpeg = result.snapshot_jpeg
        if jpeg is None:
            return False
        if len(jpeg) > MAX_SNAPSHOT_BYTES:
            log.error(
                "snapshot of %s is %d bytes, over the contract's limit: lower snapshot_width",
                cam.id,
                len(jpeg),
            )
            return False
        meta = SnapshotMeta(ts=ts, width=result.snapshot_width, height=result.snapshot_height, seq=seq)
        topic = str(topics.camera_snapshot(self.config.agent.district, self.config.commune_of(cam), cam.id))
        props = snapshot_properties(meta)
        await self.publisher.enqueue(
            OutMessage(topic, jpeg, qos=1, retain=True, user_properties=props, replace_key=topic)
        )
        self.counters.snapshots += 1
        return True

    # --- commands ----------------------------------------------------------------------------------------------

    def _on_incoming(self, event: Incoming) -> None:
        if len(self._command_tasks) >= MAX_COMMANDS_IN_PROGRESS:
            self.counters.commands_rejected += 1
            log.warning("command refused: %d commands already in progress", len(self._command_tasks))
            parsed = parse_command(event.topic, event.payload, self.cmd_topic)
            tx = parsed.transaction
            if tx is not None:
                reply = self._reply(tx, "error", {}, "Hộp đang bận xử lý nhiều lệnh, hãy thử lại sau")
                busy = asyncio.create_task(reply)
                self._reply_tasks.add(busy)
                busy.add_done_callback(self._reply_tasks.discard)
            return
        task = asyncio.create_task(self._run_command(event.topic, event.payload))
        self._command_tasks.add(task)
        task.add_done_callback(self._command_tasks.discard)

    async def _run_command(self, topic: str, payload: bytes) -> None:
        cmd = parse_command(topic, payload, self.cmd_topic)
        if isinstance(cmd, BadCommand):
            self.counters.commands_rejected += 1
            log.warning("command rejected: %s", cmd.error)
            if cmd.transaction is not None:
                await self._reply(cmd.transaction, "error", {}, cmd.error)
            return
        self.counters.commands += 1
        log.info("command %s camera=%s transaction=%s", cmd.action, cmd.camera or "*", cmd.transaction)
        try:
            status, data, error = await self._execute(cmd)
        except Exception as exc:
            log.exception("command %s failed", cmd.action)
            status, data, error = "error", {}, f"Lỗi nội bộ: {type(exc).__name__}"
        await self._reply(cmd.transaction, status, data, error)

    async def _reply(self, transaction: str, status: str, data: dict[str, Any], error: str | None) -> None:
        now = self.clock()
        if not self._clock_ok(now):
            return
        if error is not None:
            error = self.redactor.scrub(error)[:ERROR_MAX]
        reply = CommandReply.model_validate(
            {"transaction": transaction, "status": status, "ts": now, "data": data, "error": error}
        )
        await self.publisher.enqueue(OutMessage(self.reply_topic, encode(reply)))

    async def _execute(self, cmd: EdgeCommand) -> tuple[str, dict[str, Any], str | None]:
        if cmd.action in ("snapshot", "probe"):
            return await self._probe_now(cmd)
        if cmd.action == "reload":
            return await self._reload()
        return await self._relearn(cmd)

    async def _relearn(self, cmd: EdgeCommand) -> tuple[str, dict[str, Any], str | None]:
        known = self.scheduler.camera_ids
        if cmd.camera is not None and cmd.camera not in known:
            return "error", {}, f"Không có camera {cmd.camera} đang được theo dõi trên hộp này"
        ids = [cmd.camera] if cmd.camera is not None else known
        by_id = {c.id: c for c in self.config.enabled_cameras()}
        try:
            for cid in ids:
                await (await self._judge_of(by_id[cid])).relearn()
        except OSError as exc:
            return "error", {}, f"Không xoá được ảnh tham chiếu cũ: {exc}"
        log.info("reference views to relearn: %s", ",".join(ids) or "-")
        return "ok", relearn_reply(ids, self.config.reference.learn_probes), None

    async def _probe_now(self, cmd: EdgeCommand) -> tuple[str, dict[str, Any], str | None]:
        known = self.scheduler.camera_ids
        if cmd.camera is not None and cmd.camera not in known:
            return "error", {}, f"Không có camera {cmd.camera} đang được theo dõi trên hộp này"
        ids = [cmd.camera] if cmd.camera is not None else known
        if not ids:
            return probe_reply([], False, False)
        futures = self.scheduler.request(ids, snapshot=cmd.action == "snapshot")
        probe = self.config.probe
        # Requested probes queue behind the worker limit: allow one hard cap per round of `concurrency` probes.
        rounds = -(-len(ids) // probe.concurrency) + 1
        done, _ = await asyncio.wait(futures, timeout=probe.hard_cap_s * rounds + 5)
        summaries = [
            f.result() if f in done else {"camera": cid, "error": "chưa xong trong thời gian chờ"}
            for cid, f in zip(ids, futures, strict=True)
        ]
        return probe_reply(summaries, cmd.camera is not None, cmd.action == "snapshot")

    async def _reload(self) -> tuple[str, dict[str, Any], str | None]:
        if self.config_path is None:
            return "error", {}, "Agent chạy không có tệp cấu hình để nạp lại"
        try:
            new = await asyncio.to_thread(load_config, self.config_path)
            check_publishable(new, str(self.config_path))
            plan = reload_plan(self.config, new)
        except (ConfigError, ReloadRefused) as exc:
            why = f"{exc.path}: {'; '.join(exc.problems)}" if isinstance(exc, ConfigError) else str(exc)
            log.warning("reload refused, keeping the running config: %s", why)
            return "error", {}, f"Không nạp lại cấu hình, vẫn chạy cấu hình cũ: {why}"
        self.config = new
        self.redactor.set_secrets(new.secrets())
        if new.outbox.path != self.outbox_path:
            log.warning("outbox.path changed: the new queue file is used after a restart")
        self.outbox.max_messages, self.outbox.max_bytes = new.outbox.max_messages, new.outbox.max_bytes
        self.pool.resize(new.probe.concurrency)
        self.scheduler.update(new.enabled_cameras(), new.probe, new.thresholds)
        if new.reference.dir != self.references.directory_text:
            self.references = ReferenceStore(new.reference.dir, self.config_path.parent)
            self.judges.clear()
        for cid in [*plan.removed, *plan.changed]:
            self.cameras.pop(cid, None)  # a changed camera starts afresh: its first probe sends a snapshot
            self.judges.pop(cid, None)  # its reference is read again from disk, its counts start over
        self._publish_status()
        self._log_cameras([*plan.added, *plan.changed])
        log.info("config reloaded: %s", plan.data())
        return "ok", plan.data(), None

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
            **self.pool.supervisor.stats(),
            "connected": self.publisher.gen is not None,
        }

    def _log_stats(self) -> None:
        log.info("stats %s", " ".join(f"{k}={v}" for k, v in self.stats().items()))

    async def _status_forever(self) -> None:
        while True:
            await asyncio.sleep(STATUS_EVERY_S)
            self._publish_status()

    async def _log_stats_forever(self) -> None:
        while True:
            await asyncio.sleep(STATS_EVERY_S)
            self._log_stats()
