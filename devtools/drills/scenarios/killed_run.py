"""A run killed hard (SIGKILL, a CI timeout): nothing it started keeps running, no namespace is left behind."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from devtools.drills.report import Outcome
from devtools.drills.scenarios.common import Scenario, wait
from devtools.drills.stack import ROOT

EXPECTED = "every process the run started is gone within seconds, and its network namespace"


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def killed_run(workdir: Path, short: bool) -> Outcome:
    workdir.mkdir(parents=True, exist_ok=True)
    netns = os.geteuid() == 0
    with (workdir / "hold.log").open("ab") as log:
        runner = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "devtools.drills.hold",
                str(workdir / "run"),
                *(["--netns"] if netns else []),
            ],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait("the held stack", lambda: (workdir / "run" / "ready").exists() or runner.poll() is not None, 90)
        listing = (workdir / "run" / "children.pids").read_text().splitlines()
        pids = [int(x) for x in listing if x.isdigit()]
        namespaces = [x.split()[1] for x in listing if x.startswith("netns ")]
        runner.kill()
        runner.wait(5)
        t0 = time.monotonic()
        left: list[int] = pids
        while time.monotonic() - t0 < 15 and left:
            left = [p for p in pids if _alive(p)]
            time.sleep(0.2)
        took = time.monotonic() - t0
        ns_left = [
            n
            for n in namespaces
            if n in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        ]
    finally:
        if runner.poll() is None:
            runner.kill()
    observed = f"{len(pids)} processes started, {len(left)} left after SIGKILL of the runner ({took:.1f} s)"
    observed += f"; namespaces left: {ns_left or 'none'}"
    return Outcome("killed_run", EXPECTED, observed, not left and not ns_left and bool(pids), 0, 0, took)


SCENARIOS = [Scenario("killed_run", EXPECTED, killed_run)]
