"""A watchdog that outlives a drills run killed hard (SIGKILL, a CI timeout) just long enough to stop what it
started: the runner writes each child's process group to a file; when the runner is gone, the watchdog kills
every group listed there, then the namespace it names, and exits.

Why not PR_SET_PDEATHSIG in each child: the services come from shared launchers (devtools/services.py,
devtools/camsim_client.py) that put them in their own sessions; the watchdog needs no change to them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path


class Reaper:
    """The runner's side: start the watchdog, register children, stop the watchdog on a clean exit."""

    def __init__(self, workdir: Path) -> None:
        self.file = workdir / "children.pids"
        self.file.write_text("")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "devtools.drills.reaper", str(os.getpid()), str(self.file)],
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C to the runner's group must not take the watchdog first
        )

    def add(self, pid: int) -> None:
        with self.file.open("a") as fh:
            fh.write(f"{pid}\n")

    def add_netns(self, name: str) -> None:
        with self.file.open("a") as fh:
            fh.write(f"netns {name}\n")

    def add_mount(self, path: Path) -> None:
        with self.file.open("a") as fh:
            fh.write(f"mount {path}\n")

    def close(self) -> None:
        self.proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)


def reap(listing: Path) -> None:
    for line in listing.read_text().splitlines():
        if line.startswith("mount "):
            subprocess.run(["umount", "-l", line[6:]], capture_output=True, check=False)
            continue
        if line.startswith("netns "):
            subprocess.run(["ip", "netns", "del", line.split()[1]], capture_output=True, check=False)
            continue
        pid = int(line)
        for kill in (os.killpg, os.kill):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")  # a killed runner not yet reaped by its parent is a zombie


def main() -> None:
    parent, listing = int(sys.argv[1]), Path(sys.argv[2])
    stop = False

    def _stop(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    while not stop:
        if not _alive(parent):
            reap(listing)
            return
        time.sleep(0.2)


if __name__ == "__main__":
    main()
