"""Edge agent side of the alert latency budget: a camera that fails once is looked at again after
`probe.recheck_s` before it is reported offline (a short blip is never sent), and the status carries the free
disk space the hub's disk-low alert needs."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from contract import EdgeStatus, Problem
from device_runtime.redact import Redactor
from edge_agent.app import EdgeAgent
from edge_agent.config import CameraConfig, EdgeConfig, ProbeSection, Thresholds
from edge_agent.health import recheck_first
from edge_agent.probe import ProbeResult
from edge_agent.scheduler import ProbeScheduler
from edge_agent.status import free_mb, status_payload

ONLINE = (True, ())
OFFLINE = (False, ("unreachable",))
FAILED = ProbeResult(False, Problem.UNREACHABLE, "Kết nối bị từ chối")


def test_recheck_only_a_fresh_failure() -> None:
    assert recheck_first(ONLINE, False, False, False, 10)
    assert recheck_first(None, False, False, False, 10)  # never seen yet
    assert not recheck_first(ONLINE, False, True, False, 10)  # this was the second look
    assert not recheck_first(OFFLINE, False, False, False, 10)  # already reported offline
    assert not recheck_first(ONLINE, True, False, False, 10)
    assert not recheck_first(ONLINE, False, False, True, 10)  # someone asked for this probe
    assert not recheck_first(ONLINE, False, False, False, 0)  # switched off


async def test_scheduler_moves_the_next_probe_to_the_recheck_time() -> None:
    now = 1000.0
    handled = asyncio.Event()
    sched: ProbeScheduler

    async def runner(url: str, settings: ProbeSection, black: float) -> ProbeResult:
        return FAILED

    async def handle(cam: CameraConfig, result: ProbeResult, forced: bool) -> dict[str, Any]:
        sched.recheck(cam.id, 7.0)
        handled.set()
        return {}

    settings = ProbeSection(interval_s=30)
    sched = ProbeScheduler(
        [CameraConfig(id="a", url="rtsp://127.0.0.1/a")],
        settings,
        Thresholds(),
        runner,
        handle,
        clock=lambda: now,
    )
    task = asyncio.create_task(sched.run())
    await asyncio.wait_for(handled.wait(), 10)
    for _ in range(100):
        if not sched._slots["a"].running:
            break
        await asyncio.sleep(0.01)
    assert sched._slots["a"].due == now + 7.0  # not now + 30
    await sched.stop()
    task.cancel()


T0 = 1_800_000_000.0


def agent(
    tmp_path: Path,
    recheck_s: float = 10.0,
    ids: tuple[str, ...] = ("gate",),
    clock: list[float] | None = None,
) -> EdgeAgent:
    cfg = EdgeConfig.model_validate(
        {
            "agent": {"id": "box-1", "district": "soc-son", "commune": "phu-linh"},
            "probe": {"interval_s": 30, "recheck_s": recheck_s},
            "cameras": [{"id": i, "url": f"rtsp://127.0.0.1:9/{i}"} for i in ids],
        }
    )
    now = clock if clock is not None else [T0]
    return EdgeAgent(cfg, tmp_path / "edge.yaml", Redactor(), clock=lambda: now[0])


def health_sent(a: EdgeAgent, camera: str = "gate") -> list[dict[str, Any]]:
    """What the agent queued for the broker (it is not connected here: everything stays in its outbox)."""
    entries = a.outbox._entries.values()  # type: ignore[union-attr]
    return [json.loads(e.message.payload) for e in entries if e.message.topic.endswith(f"/{camera}/health")]


async def test_agent_reports_offline_only_after_the_second_failure(tmp_path: Path) -> None:
    a = agent(tmp_path)
    cam = a.config.cameras[0]
    ok = ProbeResult(True, fps=10.0, frames=10)
    await a._on_result(cam, ok, False)
    assert [h["online"] for h in health_sent(a)] == [True]
    first = await a._on_result(cam, FAILED, False)
    assert first["rechecking"] is True
    assert [h["online"] for h in health_sent(a)] == [True]  # nothing sent for the first failure
    await a._on_result(cam, FAILED, False)
    assert [h["online"] for h in health_sent(a)] == [True, False]
    # Already offline: each later failure is reported as it comes.
    await a._on_result(cam, FAILED, False)
    assert [h["online"] for h in health_sent(a)] == [True, False, False]
    # A blip: one failure, then fine at the second look: only online reports.
    await a._on_result(cam, ok, False)
    await a._on_result(cam, FAILED, False)
    await a._on_result(cam, ok, False)
    assert [h["online"] for h in health_sent(a)] == [True, False, False, True, True]


async def test_recheck_off_reports_the_first_failure(tmp_path: Path) -> None:
    a = agent(tmp_path, recheck_s=0)
    await a._on_result(a.config.cameras[0], FAILED, False)
    assert [h["online"] for h in health_sent(a)] == [False]


def test_status_carries_free_disk(tmp_path: Path) -> None:
    cfg = EdgeConfig.model_validate({"agent": {"id": "box-1", "district": "soc-son", "commune": "phu-linh"}})
    free = free_mb(tmp_path)
    assert free is not None and free > 0
    status = EdgeStatus.model_validate_json(
        status_payload(cfg, "online", 1_800_000_000.0, "b", disk_free_mb=free)
    )
    assert status.disk_free_mb == free
    assert free_mb(tmp_path / "missing" / "dir") is None


async def test_a_failure_brings_the_siblings_probes_forward(tmp_path: Path) -> None:
    """A switch or power fault takes every camera of the box: they are all looked at with the first one's
    second look, and a failure then is reported at once, so one grouped alert lists them all."""
    clock = [T0]
    a = agent(tmp_path, ids=("a", "b", "c"), clock=clock)
    by_id = {c.id: c for c in a.config.cameras}
    ok = ProbeResult(True, fps=10.0, frames=10)
    for cid in "abc":
        await a._on_result(by_id[cid], ok, False)
    assert (await a._on_result(by_id["a"], FAILED, False))["rechecking"]
    slots = a.scheduler._slots
    assert slots["b"].due <= T0 + 10 and slots["c"].due <= T0 + 10
    # A sibling failing in its own regular probe before the sweep is a first failure like any other (a blip).
    clock[0] = T0 + 3
    assert (await a._on_result(by_id["c"], FAILED, False))["rechecking"]
    # At the sweep: b fails too and is reported at once; a's second look fails and is reported.
    clock[0] = T0 + 10
    await a._on_result(by_id["b"], FAILED, False)
    await a._on_result(by_id["a"], FAILED, False)
    assert [h["online"] for h in health_sent(a, "b")] == [True, False]
    assert [h["online"] for h in health_sent(a, "a")] == [True, False]
    assert [h["online"] for h in health_sent(a, "c")] == [True]  # its own second look is still to come
