"""Edge agent: the probe worker pool (real spawned processes): a probe past its hard cap ends on time with its
worker killed and replaced; a worker that dies mid-probe is reported and replaced; the pool closes cleanly; a worker
killed with SIGKILL is restarted and counted within the restart budget, reported as failing (and not restarted
in a loop) beyond it, restarted again once the window has passed."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from collections.abc import Callable, Iterator

import pytest

from contract import Problem
from device_runtime.supervisor import RestartBudget
from edge_agent.config import ProbeSection, Thresholds
from edge_agent.workers import WorkerPool, probe_in_pool
from tests.edge_support import pid_alive


@pytest.fixture
def silent_port() -> Iterator[int]:
    """Accepts TCP (the kernel completes the handshake) and never answers: a hung camera."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield sock.getsockname()[1]
    sock.close()


async def test_hard_cap_kills_and_replaces_the_worker(silent_port: int) -> None:
    # FFmpeg would wait 5 s for the stream to open; the cap is 1 s.
    settings = ProbeSection(open_timeout_s=5, read_timeout_s=5, max_probe_s=1)
    pool = WorkerPool(2)
    pool.start()
    try:
        before = set(pool.pids)
        result = await probe_in_pool(
            pool, f"rtsp://127.0.0.1:{silent_port}/x", settings, Thresholds().black_luma
        )
        assert not result.online and result.problem == Problem.NO_FRAMES
        assert result.reason is not None and "vượt quá giới hạn 1 s" in result.reason
        assert pool.killed == 1 and len(pool.pids) == 2
        gone = before - set(pool.pids)
        assert len(gone) == 1 and not pid_alive(gone.pop())
    finally:
        await pool.close()


async def test_a_worker_that_dies_is_reported_and_replaced(silent_port: int) -> None:
    settings = ProbeSection(open_timeout_s=10, read_timeout_s=5)
    pool = WorkerPool(1)
    pool.start()
    try:
        (pid,) = pool.pids
        probe = asyncio.create_task(
            probe_in_pool(pool, f"rtsp://127.0.0.1:{silent_port}/x", settings, Thresholds().black_luma)
        )
        await asyncio.sleep(0.5)  # let the worker take the task (any moment during the probe will do)
        os.kill(pid, signal.SIGKILL)
        result = await asyncio.wait_for(probe, 30)
        assert not result.online and result.problem == Problem.DECODE_ERROR
        assert pool.killed == 1 and len(pool.pids) == 1 and pool.pids != [pid]
    finally:
        await pool.close()
    assert not pool.pids


async def test_close_stops_idle_and_busy_workers(silent_port: int) -> None:
    settings = ProbeSection(open_timeout_s=20, read_timeout_s=5)
    pool = WorkerPool(2)
    pool.start()
    pids = pool.pids
    busy = asyncio.create_task(
        probe_in_pool(pool, f"rtsp://127.0.0.1:{silent_port}/x", settings, Thresholds().black_luma)
    )
    await asyncio.sleep(0.3)
    await pool.close()
    busy.cancel()
    await asyncio.gather(busy, return_exceptions=True)
    assert not [p for p in pids if pid_alive(p)]


async def wait_for(condition: Callable[[], bool], what: str, limit_s: float = 20.0) -> None:
    deadline = time.monotonic() + limit_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def test_a_killed_worker_is_restarted_and_reported_then_the_budget_stops_the_loop() -> None:
    now = [1000.0]
    pool = WorkerPool(1, RestartBudget(max_restarts=1, window_s=60.0), clock=lambda: now[0])
    changes: list[tuple[int, bool]] = []
    pool.on_change = lambda: changes.append((pool.supervisor.restarts, pool.supervisor.failing))
    pool.start()
    try:
        (first,) = pool.pids
        os.kill(first, signal.SIGKILL)  # idle: the watcher notices, not a probe
        await wait_for(lambda: pool.supervisor.restarts == 1 and len(pool.pids) == 1, "the restart")
        (second,) = pool.pids
        assert second != first
        assert pool.supervisor.stats()["workers_failing"] is False

        os.kill(second, signal.SIGKILL)
        await wait_for(lambda: pool.supervisor.failing, "the budget to refuse")
        assert pool.pids == [] and pool.supervisor.refused == 1 and pool.supervisor.retry_at == 1060.0
        # No worker left: a probe answers at once, saying why, instead of waiting on a worker that won't come.
        result = await probe_in_pool(pool, "rtsp://127.0.0.1:9/x", ProbeSection(), Thresholds().black_luma)
        assert not result.online and result.problem == Problem.DECODE_ERROR
        assert result.reason is not None and "liên tục bị lỗi" in result.reason
        await asyncio.sleep(1.5)  # a few watch rounds: still no restart loop
        assert pool.supervisor.restarts == 1 and pool.pids == []

        now[0] = 1060.0  # the first restart leaves the window
        await wait_for(lambda: len(pool.pids) == 1, "the deferred restart")
        assert pool.supervisor.restarts == 2 and not pool.supervisor.failing
        assert changes == [(1, False), (1, True), (2, False)]  # what the agent republishes in its status
    finally:
        await pool.close()
