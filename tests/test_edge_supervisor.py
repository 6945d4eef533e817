"""Edge agent: the probe workers' restart budget. The decision is checked with fixed times; the pool is checked
with real worker processes killed with SIGKILL: restarted and counted within the budget, reported as failing
(and not restarted in a loop) beyond it, restarted again once the window has passed."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable

import pytest

from contract import Problem
from device_runtime.supervisor import RestartBudget, WorkerSupervisor, decide_restart, in_window
from edge_agent.config import ProbeSection, Thresholds
from edge_agent.workers import WorkerPool, probe_in_pool

BUDGET = RestartBudget(max_restarts=3, window_s=60.0)


def test_restarts_within_the_budget_are_allowed() -> None:
    assert decide_restart([], 1000.0, BUDGET).allowed
    decision = decide_restart([990.0, 995.0], 1000.0, BUDGET)
    assert decision.allowed and decision.recent == 2 and decision.retry_at is None


def test_a_full_window_refuses_until_the_oldest_restart_leaves_it() -> None:
    history = [950.0, 970.0, 990.0]
    decision = decide_restart(history, 1000.0, BUDGET)
    assert not decision.allowed and decision.recent == 3
    assert decision.retry_at == 1010.0  # 950 + 60
    assert not decide_restart(history, 1009.9, BUDGET).allowed
    assert decide_restart(history, 1010.0, BUDGET).allowed


def test_old_restarts_do_not_count() -> None:
    history = [100.0, 200.0, 300.0, 990.0]
    assert in_window(history, 1000.0, 60.0) == [990.0]
    assert decide_restart(history, 1000.0, BUDGET).allowed
    # Unsorted history and restarts "in the future" (clock confusion) are handled, not trusted.
    assert in_window([995.0, 950.0, 1500.0], 1000.0, 60.0) == [950.0, 995.0]


def test_a_zero_budget_never_restarts() -> None:
    decision = decide_restart([], 1000.0, RestartBudget(max_restarts=0))
    assert not decision.allowed and decision.retry_at is None


def test_invalid_budgets_are_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="max_restarts"):
        RestartBudget(max_restarts=-1)
    with pytest.raises(ValueError, match="window_s"):
        RestartBudget(window_s=0)


def test_supervisor_counts_restarts_refusals_and_missing_workers() -> None:
    sup = WorkerSupervisor(RestartBudget(max_restarts=2, window_s=10.0))
    for t in (0.0, 1.0):
        sup.lost("killed")
        assert sup.grant(t) == 1
    sup.lost("killed")
    assert sup.grant(2.0) == 0
    assert sup.failing and sup.missing == 1 and sup.retry_at == 10.0
    assert sup.grant(5.0) == 0
    assert sup.refused == 1  # one refusal per blocked period, not one per check
    assert sup.grant(10.0) == 1
    assert sup.stats() == {
        "worker_restarts": 3,
        "worker_restarts_refused": 1,
        "workers_missing": 0,
        "workers_failing": False,
    }
    sup.lost("killed")
    sup.forget_missing(1)  # the pool shrank: nothing to replace
    assert not sup.failing


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
