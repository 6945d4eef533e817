"""The edge agent's commands from the hub: probe or snapshot now, relearn reference views, reload the config.

Each command runs in its own task (at most `MAX_COMMANDS_IN_PROGRESS`; past that the hub is told the box is busy)
and is answered on the reply topic with its transaction id."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from contract import CommandReply, EdgeCommand, encode
from contract.configfile import ConfigError
from contract.orders import OrderRefused
from device_runtime.diskqueue import DiskOutbox
from device_runtime.link import Incoming
from device_runtime.orders import OrderGate
from device_runtime.outbox import MemoryOutbox, OutMessage
from device_runtime.publisher import Publisher
from device_runtime.redact import Redactor
from edge_agent.commands import (
    ReloadRefused,
    probe_reply,
    relearn_reply,
    reload_plan,
)
from edge_agent.config import CameraConfig, EdgeConfig, load_config
from edge_agent.health import CameraState
from edge_agent.judgement import CameraJudge
from edge_agent.reference import ReferenceStore
from edge_agent.scheduler import ProbeScheduler
from edge_agent.status import check_publishable
from edge_agent.workers import WorkerPool

if TYPE_CHECKING:
    from collections.abc import Iterable

    from edge_agent.counters import Counters

log = logging.getLogger(__name__)

MAX_COMMANDS_IN_PROGRESS = 16
ERROR_MAX = 500


class CommandRunner:
    """Part of `EdgeAgent` (edge_agent.app): runs the commands that arrive on its command topic."""

    config: EdgeConfig
    config_path: Path | None
    redactor: Redactor
    clock: Callable[[], float]
    counters: Counters
    cmd_topic: str
    reply_topic: str
    gate: OrderGate
    publisher: Publisher
    outbox: DiskOutbox | MemoryOutbox
    outbox_path: Path | None
    pool: WorkerPool
    scheduler: ProbeScheduler
    references: ReferenceStore
    judges: dict[str, CameraJudge]
    cameras: dict[str, CameraState]
    _command_tasks: set[asyncio.Task[None]]
    _reply_tasks: set[asyncio.Task[None]]

    def _clock_ok(self, now: float) -> bool:
        raise NotImplementedError

    async def _judge_of(self, cam: CameraConfig) -> CameraJudge:
        raise NotImplementedError

    def _publish_status(self) -> None:
        raise NotImplementedError

    def _log_cameras(self, ids: Iterable[str]) -> None:
        raise NotImplementedError

    def _on_incoming(self, event: Incoming) -> None:
        # Checked before anything else: an order the hub did not sign for this box is never run nor answered
        # (one whose signature verified but that is expired, replayed or malformed is answered with why).
        try:
            order = self.gate.admit(event.topic, event.payload, self.clock())
        except OrderRefused as exc:
            self.counters.commands_rejected += 1
            log.warning("order refused (%s): %s", exc.reason.value, exc.detail)
            if exc.transaction is not None:
                self._spawn_reply(exc.transaction, f"Lệnh bị từ chối ({exc.reason.value}): {exc.detail}")
            return
        except OSError as exc:  # the sequence could not be written: not run, or it could be replayed
            self.counters.commands_rejected += 1
            log.error("order not run: its sequence could not be saved: %s", exc)
            return
        assert isinstance(order, EdgeCommand)
        if len(self._command_tasks) >= MAX_COMMANDS_IN_PROGRESS:
            self.counters.commands_rejected += 1
            log.warning("command refused: %d commands already in progress", len(self._command_tasks))
            self._spawn_reply(order.transaction, "Hộp đang bận xử lý nhiều lệnh, hãy thử lại sau")
            return
        task = asyncio.create_task(self._run_command(order))
        self._command_tasks.add(task)
        task.add_done_callback(self._command_tasks.discard)

    def _spawn_reply(self, transaction: str, error: str) -> None:
        task = asyncio.create_task(self._reply(transaction, "error", {}, error))
        self._reply_tasks.add(task)
        task.add_done_callback(self._reply_tasks.discard)

    async def _run_command(self, cmd: EdgeCommand) -> None:
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
