"""The hub's side of the books: the hub killed (SIGKILL) at random moments, InfluxDB down, the Zalo API failing.

The fixes these drills ask for are the hub's (acknowledge MQTT only once durable, spill to disk, count Zalo
duplicates): until they are in, these scenarios fail and say what was lost.
"""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path

from devtools.drills import ledger
from devtools.drills.report import Outcome
from devtools.drills.scenarios.common import Scenario, books_outcome, running, steady, wait
from devtools.drills.stack import StackOptions

KILL_EXPECTED = "no health lost: MQTT acknowledged only once durable"
INFLUX_EXPECTED = "no health lost: the hub keeps points (and spills to disk) while InfluxDB is down"
ZALO_EXPECTED = "every notice delivered; duplicates only after a timeout (counted)"


def hub_kill(workdir: Path, short: bool) -> Outcome:
    kills = 2 if short else 10
    rng = random.Random(14)
    with running(workdir, StackOptions()) as stack:
        steady(stack)
        for _ in range(kills):
            time.sleep(rng.uniform(0.5, 3.0))
            stack.kill_hub()
            time.sleep(rng.uniform(0.2, 2.0))
            stack.start_hub()
        healed = time.monotonic()
        out = books_outcome("hub_kill", KILL_EXPECTED, stack, healed, within=20 if short else 45)
        out.observed = f"{kills} SIGKILLs; " + out.observed
        return out


def influx_down(workdir: Path, short: bool) -> Outcome:
    down_s = 8.0 if short else 45.0
    with running(workdir, StackOptions()) as stack:
        steady(stack)
        assert stack.influx is not None
        stack.influx.stop()
        time.sleep(down_s)
        stack.start_influx()
        healed = time.monotonic()
        out = books_outcome("influx_down", INFLUX_EXPECTED, stack, healed, within=30 if short else 90)
        out.observed = f"InfluxDB down {down_s:.0f} s; " + out.observed
        return out


def zalo_faults(workdir: Path, short: bool) -> Outcome:
    """Alerts raised while the Zalo API answers slowly, fails, and times out after accepting."""
    with running(workdir, StackOptions(cameras=3)) as stack:
        assert stack.camsim is not None
        steady(stack)
        stack.zalo_fault("group", "http_502", 1)
        stack.zalo_fault(
            "group", "hang", 1
        )  # answered only after the notifier gave up: may be delivered twice
        for cam in stack.cameras:
            stack.camsim.stop_stream(cam)
        wait("the cameras offline", lambda: set(ledger.camera_states(stack).values()) == {"offline"}, 60)
        fired = ledger.alerts_fired(stack)
        wait("a notice delivered", lambda: ledger.notices(stack)[0] > 0, 60)
        t_faults = time.monotonic()
        rows = wait(
            "the outbox settled",
            lambda: (
                r
                if (r := stack.sql("SELECT state, doubtful FROM notify_outbox"))
                and all(row[0] not in ("pending", "sending") for row in r)
                else None
            ),
            90,
        )
        sent, dup = ledger.notices(stack)
        undelivered = sum(1 for r in rows if r[0] != "sent")
        counted = sum(int(r[1] or 0) for r in rows)
        observed = (
            f"alerts {dict(fired)}; outbox {len(rows)} rows, {undelivered} undelivered, {counted} sends in doubt; "
            f"Zalo accepted {sent}, {dup} twice; settled in {time.monotonic() - t_faults:.1f} s"
        )
        ok = undelivered == 0 and dup <= counted
        return Outcome("zalo_faults", ZALO_EXPECTED, observed, ok, undelivered, dup, None)


PG_EXPECTED = (
    "hub rides out a PostgreSQL restart: no health lost, a change made meanwhile recorded at its true time"
)


def pg_restart(workdir: Path, short: bool) -> Outcome:
    down_s = 5.0 if short else 20.0
    with running(workdir, StackOptions(postgres=True)) as stack:
        assert stack.pg is not None and stack.camsim is not None
        steady(stack)
        broken = stack.cameras[-1]
        stack.pg.stop(signal.SIGQUIT)  # immediate shutdown: no checkpoint, as in a crash
        t_break = time.time()
        stack.camsim.stop_stream(broken)
        time.sleep(down_s)
        stack.pg.start()
        assert stack.pg.proc is not None
        stack.reaper.add(stack.pg.proc.pid)
        healed = time.monotonic()
        seen = None
        try:
            seen = wait(
                f"{broken} offline in SQL", lambda: ledger.camera_states(stack).get(broken) == "offline", 60
            )
        except TimeoutError:
            pass
        went_off = [
            at
            for k, at, _, to in ledger.transitions(stack, "camera")
            if k.endswith(broken) and to == "offline"
        ]
        out = books_outcome("pg_restart", PG_EXPECTED, stack, healed, within=30 if short else 90)
        alive = stack.alive()["hub"]
        lag = f"{went_off[0] - t_break:+.1f} s from the break" if went_off else "missing"
        out.observed = (
            f"PostgreSQL down {down_s:.0f} s; hub {'alive' if alive else 'DEAD'}; {broken} offline transition {lag}; "
            + out.observed
        )
        out.passed = (
            out.passed and alive and bool(seen) and bool(went_off) and went_off[0] - t_break < down_s + 10
        )
        return out


SCENARIOS = [
    Scenario("hub_kill", KILL_EXPECTED, hub_kill),
    Scenario("influx_down", INFLUX_EXPECTED, influx_down),
    Scenario("zalo_faults", ZALO_EXPECTED, zalo_faults),
    Scenario("pg_restart", PG_EXPECTED, pg_restart),
]
