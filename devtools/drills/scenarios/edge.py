"""The edge box itself: power lost in the middle of writing its queue."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from devtools.drills.report import Outcome
from devtools.drills.scenarios.common import Scenario, books_outcome, running, steady, wait
from devtools.drills.stack import AGENT, COMMUNE, DISTRICT, HOST, Stack, StackOptions

POWER_EXPECTED = "box comes back and sends what its queue held; at most the torn write is lost"


def queued(stack: Stack) -> int:
    """Messages in the box's queue file as a fresh start would find them (read on a copy: no recovery here)."""
    with tempfile.TemporaryDirectory() as tmp:
        for suffix in ("", "-wal"):
            src = stack.queue_file.with_name(stack.queue_file.name + suffix)
            if src.exists():
                shutil.copy(src, Path(tmp) / f"q.sqlite{suffix}")
        con = sqlite3.connect(Path(tmp) / "q.sqlite")
        try:
            return int(con.execute("SELECT count(*) FROM message").fetchone()[0])
        except sqlite3.Error:
            return 0
        finally:
            con.close()


def power_loss(workdir: Path, short: bool) -> Outcome:
    with running(workdir, StackOptions()) as stack:
        steady(stack)
        # The uplink is gone (broker stopped) so the queue fills, then the power goes mid-write.
        stack.kill_broker(signal.SIGTERM)
        wait("a queue on the box", lambda: queued(stack) >= 4, 30 if short else 120)
        time.sleep(0 if short else 15)
        stack.kill_agent()
        held = queued(stack)
        wal = stack.queue_file.with_name(stack.queue_file.name + "-wal")
        if wal.exists() and wal.stat().st_size > 200:
            os.truncate(wal, wal.stat().st_size - 100)  # the last frame only half on the card
        kept = queued(stack)
        torn = held - kept
        stack.start_broker()
        stack.start_agent()
        healed = time.monotonic()
        # The torn commit was on disk for the box's own record, so it counts as lost; nothing more may be.
        within = 30 if short else 90
        out = books_outcome("edge_power_loss", POWER_EXPECTED, stack, healed, within, allowed=torn)
        out.observed = f"queue held {held} at the cut, torn write cost {torn}; " + out.observed
        if torn:
            out.notes.append(
                f"{torn} message(s) of the half-written commit are lost: the card never had them"
            )
        return out


SCENARIOS = [Scenario("edge_power_loss", POWER_EXPECTED, power_loss)]


DISK_EXPECTED = "box keeps probing; the oldest data go first and exactly what went is reported as a gap"


def retained_status(stack: Stack) -> dict[str, Any]:
    """The box's retained status, as the broker holds it."""
    import json
    import threading

    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from contract import topics

    got: dict[str, Any] = {}
    done = threading.Event()
    topic = str(topics.edge_status(DISTRICT, COMMUNE, AGENT))

    def on_message(c: mqtt.Client, u: object, msg: mqtt.MQTTMessage) -> None:
        got.update(json.loads(msg.payload))
        done.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="drills-status-reader")
    client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)
    client.on_message = on_message
    client.connect(HOST, stack.mqtt_port)
    client.loop_start()
    try:
        done.wait(10)
    finally:
        client.loop_stop()
        client.disconnect()
    return got


def disk_full(workdir: Path, short: bool) -> Outcome:
    opts = StackOptions(box_disk_mb=8, min_free_mb=1)
    with running(workdir, opts) as stack:
        steady(stack)
        stack.kill_broker(signal.SIGTERM)  # nothing leaves the box: its queue grows on its small disk
        box = stack.queue_file.parent
        headroom = 2**20 + (40 if short else 200) * 1024  # the floor, plus room for a few dozen commits
        ballast = box / "ballast"
        with ballast.open("wb") as fh:
            fh.write(b"\0" * max(0, shutil.disk_usage(box).free - headroom))
        log = stack.workdir / "agent.log"
        wait(
            "the box dropping for space", lambda: "disk low: dropped" in log.read_text(), 40 if short else 240
        )
        probes_at_first_drop = log.read_text().count("probe camera=")
        time.sleep(4 if short else 15)
        kept_probing = log.read_text().count("probe camera=") - probes_at_first_drop
        ballast.unlink()  # the operator frees the disk
        stack.start_broker()
        healed = time.monotonic()
        status = wait(
            "the box's status after the gap",
            lambda: (s := retained_status(stack)).get("queue_dropped") and s,
            30,
        )
        reported = int(status["queue_dropped"])
        out = books_outcome(
            "edge_disk_full", DISK_EXPECTED, stack, healed, 30 if short else 90, allowed=reported
        )
        gap = (status.get("queue_gap_from"), status.get("queue_gap_to"))
        out.observed = (
            f"kept probing ({kept_probing} probes while full); reported {reported} dropped, gap "
            + (f"{gap[1] - gap[0]:.0f} s" if gap[0] is not None and gap[1] is not None else "missing")
            + "; "
            + out.observed
        )
        out.passed = out.passed and kept_probing > 0 and out.lost == reported and None not in gap
        out.notes.append("lost = the gap the box reported: by policy the oldest data go when its disk fills")
        return out


SCENARIOS.append(Scenario("edge_disk_full", DISK_EXPECTED, disk_full))
