"""Children die with the run that started them: nothing the tests, the demo or a benchmark started keeps running
after that run was killed (SIGKILL, a CI timeout).

Services are started in sessions of their own (a Ctrl-C in the terminal reaches only the runner, which stops
them in order), so the terminal's signals no longer reach them; if the runner itself is killed, nothing would.
`die_with_parent` asks Linux (prctl PR_SET_PDEATHSIG) to signal the child the moment its parent ends. Caveats
the callers keep in mind: the signal follows the *thread* that forked the child (spawn from the main thread or
a thread that outlives the child), and a process that daemonises (pg_ctl, double fork) escapes it: start such
servers in the foreground (`postgres`, not `pg_ctl start`).

`exit_on_sigterm` turns SIGTERM into SystemExit in a runner, so its `finally` blocks stop what it started
(Python's default for SIGTERM is to die without running them).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import signal
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

PR_SET_PDEATHSIG = 1

# Loaded here, in the parent: between fork and exec the child may only call what is already resolved (a dlopen
# there could wait forever on a lock another thread of the parent held at the fork).
_libc: Any = None
if sys.platform.startswith("linux"):
    try:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        _prctl = _libc.prctl
    except (OSError, AttributeError):
        _libc = None


def die_with_parent(sig: signal.Signals = signal.SIGTERM) -> Callable[[], None] | None:
    """A `preexec_fn` for subprocess.Popen: the child gets `sig` when its parent dies (None off Linux)."""
    if _libc is None:
        return None
    number = int(sig)

    def arm() -> None:
        _prctl(PR_SET_PDEATHSIG, number, 0, 0, 0)

    return arm


def exit_on_sigterm() -> None:
    """In a runner's main thread: SIGTERM raises SystemExit, so `finally` blocks and context managers stop the
    services it started."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)
