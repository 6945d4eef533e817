"""The demo's run folder (scripts/demo.py): one demo per folder (a lock), the leftovers of a demo that was killed
outright, the log links and the state file `demo.json`."""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

from demo_setup import DemoError, Ports
from demo_supervisor import Supervisor, pid_alive, processes_with_env

from devtools.services import wait_until

# Set only by the demo, in its children: marks the processes it is responsible for (never its own parents).
CHILD_MARK_ENV = "OPS_DEMO_CHILD_OF"


@contextlib.contextmanager
def run_dir_lock(run_dir: Path) -> Iterator[None]:
    """One demo per run folder: a second one would fight the first over ports and files."""
    run_dir.mkdir(parents=True, exist_ok=True)
    with (run_dir / "demo.lock").open("a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            raise DemoError(
                f"another demo is running with {run_dir} (pid {fh.read().strip() or '?'}); stop it with Ctrl-C, "
                "or give this one its own --run-dir and ports"
            ) from None
        fh.truncate(0)
        fh.write(str(os.getpid()))
        fh.flush()
        yield


def all_gone(pids: list[int]) -> bool:
    return not any(pid_alive(p) for p in pids)


def stop_leftovers(run_dir: Path, say: Callable[[str], None]) -> bool:
    """Children of an earlier demo that was killed outright still hold the ports: they carry our run folder in
    their environment, so they are ours to stop. True if there were any."""
    pids = processes_with_env(CHILD_MARK_ENV, str(run_dir))
    if not pids:
        return False
    say(f"stopping {len(pids)} leftover process(es) of an earlier demo in {run_dir}: {pids}")
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        with contextlib.suppress(TimeoutError):
            wait_until(functools.partial(all_gone, pids), 5, "leftovers")
        pids = [p for p in pids if pid_alive(p)]
        if not pids:
            break
    return True


def link_log(run_dir: Path, name: str, target: Path) -> None:
    link = run_dir / "logs" / f"{name}.log"
    link.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        link.unlink()
    link.symlink_to(os.path.relpath(target, link.parent))


def write_state(run_dir: Path, sup: Supervisor, url: str, ports: Ports) -> None:
    state = {"pid": os.getpid(), "url": url, "children": sup.pids(), "ports": ports.as_dict()}
    tmp = run_dir / "demo.json.tmp"
    tmp.write_text(json.dumps(state, indent=2))
    tmp.replace(run_dir / "demo.json")
