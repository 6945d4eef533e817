"""The broker restarted (SIGTERM, no persistence), and killed (SIGKILL) then restarted on its persistence file."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from devtools.drills.report import Outcome
from devtools.drills.scenarios.common import Scenario, books_outcome, running, steady
from devtools.drills.stack import StackOptions

EXPECTED = "no health lost; hub and box reconnect by themselves"


def _drill(name: str, workdir: Path, short: bool, sig: int, persistence: bool) -> Outcome:
    down_s = 3.0 if short else 20.0
    with running(workdir, StackOptions(broker_persistence=persistence)) as stack:
        steady(stack)
        if sig == signal.SIGKILL:
            # As a broker that has been running a while: its file (saved every 5 minutes and at exit) already
            # holds the hub's session. A first start killed before any save forgets it (see OPERATIONS.md).
            stack.kill_broker(signal.SIGTERM)
            stack.start_broker()
            steady(stack)
        time.sleep(2)
        stack.kill_broker(sig)
        time.sleep(down_s)
        stack.start_broker()
        healed = time.monotonic()
        return books_outcome(name, EXPECTED, stack, healed, within=25 if short else 45)


def restart(workdir: Path, short: bool) -> Outcome:
    return _drill("broker_restart", workdir, short, signal.SIGTERM, persistence=True)


def kill(workdir: Path, short: bool) -> Outcome:
    return _drill("broker_kill", workdir, short, signal.SIGKILL, persistence=True)


SCENARIOS = [Scenario("broker_restart", EXPECTED, restart), Scenario("broker_kill", EXPECTED, kill)]
