"""Device runtime: the workers' restart budget, a pure decision checked with fixed times. The edge agent's pool
under that budget, with real worker processes, is checked in tests/edge_agent/test_workers.py."""

from __future__ import annotations

import logging

import pytest

from device_runtime.supervisor import RestartBudget, WorkerSupervisor, decide_restart, in_window

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


def test_supervisor_counts_restarts_refusals_and_missing_workers(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="device_runtime.supervisor")
    sup = WorkerSupervisor(RestartBudget(max_restarts=2, window_s=10.0), label="probe worker")
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
    assert "probe worker restarted (cause: killed)" in caplog.text
    assert "probe worker restart budget spent: 2 restarts in 10 s" in caplog.text
