"""Loudspeaker receivers: the link drops after a programme was prepared."""

from __future__ import annotations

import time
from pathlib import Path

from devtools.drills.receivers import Events, Receiver
from devtools.drills.report import Outcome
from devtools.drills.scenarios.common import Scenario, running, steady, wait
from devtools.drills.stack import StackOptions

DROP_EXPECTED = "plays on time with the link down, reports started/finished once the link is back"


def link_drop(workdir: Path, short: bool) -> Outcome:
    with running(workdir, StackOptions(netns=True, cameras=1)) as stack:
        assert stack.net is not None
        steady(stack)
        rx = Receiver(stack)
        events = Events(stack.mqtt_port)
        try:
            log = stack.workdir / "receiver.log"
            wait("the receiver online", lambda: log.exists() and "connected to broker" in log.read_text(), 30)
            start_at = time.time() + 6
            rx.prepare("drill-1", start_at)
            wait("the receiver ready", lambda: events.of("ready"), 6)
            stack.net.uplink(False)
            time.sleep(max(0.0, start_at + 2.0 + (2 if short else 20) - time.time()))
            t_restore = time.time()
            stack.net.uplink(True)
            healed = time.monotonic()
            finished = wait("the finished report", lambda: events.of("finished"), 40)
            recover = time.monotonic() - healed
            started = events.of("started")
            arrived, ev = started[0] if started else (0.0, {})
            offset_ms = float(ev.get("data", {}).get("offset_ms", float("nan")))
            on_time = abs(offset_ms) < 250
            later = arrived >= t_restore
            observed = (
                f"airings planned 1, played {len(finished)}; start offset {offset_ms:.0f} ms; "
                f"started reported {arrived - t_restore:+.1f} s after the link came back; "
                f"reports in {recover:.1f} s"
            )
            ok = on_time and later and len(finished) == 1 and len(started) == 1
            return Outcome("speaker_link_drop", DROP_EXPECTED, observed, ok, 1 - len(finished), 0, recover)
        finally:
            events.close()
            rx.stop()


CLOCK_EXPECTED = "receiver 2 s behind: the hub notices and reports it; the start is not heard 2 s late"


def clock_off(workdir: Path, short: bool) -> Outcome:
    skew = -2.0
    with running(workdir, StackOptions(netns=True, cameras=1)) as stack:
        assert stack.net is not None
        steady(stack)
        rx = Receiver(stack, clock_skew_s=skew)
        events = Events(stack.mqtt_port)
        try:
            log = stack.workdir / "receiver.log"
            wait("the receiver online", lambda: log.exists() and "connected to broker" in log.read_text(), 30)
            start_at = time.time() + 6
            rx.prepare("drill-clock", start_at)
            wait("the finished report", lambda: events.of("finished"), 30)
            arrived, ev = events.of("started")[0]
            late = arrived - start_at  # on the true clock: the report leaves right after the first sample
            hub_log = stack.workdir / "hub.log"
            noticed = wait("the hub to notice", lambda: "its clock is" in hub_log.read_text(), 15)
            reported = stack.influx_rows("SELECT last(clock_offset_ms) FROM speaker_health")
            offset = float(reported[0][1]) if reported else float("nan")
            observed = (
                f"receiver clock {skew:+.0f} s; started reported {late * 1000:.0f} ms after the planned start; "
                f"hub noticed: {bool(noticed)}, speaker_health clock_offset_ms {offset:.0f}"
            )
            ok = late < 1.0 and bool(noticed) and abs(offset - skew * 1000) < 500
            return Outcome("speaker_clock_off", CLOCK_EXPECTED, observed, ok, 0, 0, None)
        finally:
            events.close()
            rx.stop()


SCENARIOS = [
    Scenario("speaker_link_drop", DROP_EXPECTED, link_drop),
    Scenario("speaker_clock_off", CLOCK_EXPECTED, clock_off),
]
