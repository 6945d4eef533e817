"""The edge box itself: power lost in the middle of writing its queue."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import tempfile
import time
from pathlib import Path

from devtools.drills.report import Outcome
from devtools.drills.scenarios.common import Scenario, books_outcome, running, steady, wait
from devtools.drills.stack import Stack, StackOptions

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
        time.sleep(0 if short else 20)
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
