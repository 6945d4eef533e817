"""Process supervision for the demo: start children in order, watch them, restart a crashed one within a budget,
surface the notable lines of their logs, and stop everything in reverse order.

Kept apart from demo.py (which knows what to start) so the pieces are testable on their own; time-dependent
decisions take `now`.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

PR_SET_PDEATHSIG = 1


class Handle(Protocol):
    """A running child, whatever started it (our own Popen, devtools.services, the camera simulator client)."""

    @property
    def pid(self) -> int: ...

    def alive(self) -> bool: ...

    def stop(self) -> None: ...


def _die_with_parent() -> None:
    # If the supervisor itself is killed (kill -9), the kernel sends SIGTERM to this child instead of leaving it
    # orphaned. Runs in the forked child before exec.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class ProcessHandle:
    """A child in its own process group: stop() signals the whole group, so its own children go too."""

    def __init__(self, proc: subprocess.Popen[bytes], stop_timeout: float = 10.0) -> None:
        self.proc = proc
        self.stop_timeout = stop_timeout

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def _signal_group(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self.proc.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.proc.wait(5)
        # Grandchildren that ignored SIGTERM while their parent exited cleanly.
        self._signal_group(signal.SIGKILL)


def spawn(
    cmd: list[str], log: Path, env: dict[str, str] | None = None, stdin: bytes | None = None
) -> ProcessHandle:
    """Start `cmd` in a new session (a Ctrl-C in the terminal reaches only the supervisor, which then stops the
    children in order), output appended to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as fh:
        proc = subprocess.Popen(
            cmd,
            stdout=fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
            env=env,
            start_new_session=True,
            preexec_fn=_die_with_parent,  # only calls prctl: safe between fork and exec
        )
    if stdin is not None and proc.stdin is not None:
        proc.stdin.write(stdin)
        proc.stdin.close()
    return ProcessHandle(proc)


@dataclass
class RestartBudget:
    """At most `max_restarts` restarts within `window_s`; beyond that a child is crash-looping and the demo
    stops with its log rather than hiding the fault behind endless restarts."""

    max_restarts: int = 3
    window_s: float = 120.0
    history: list[float] = field(default_factory=list)

    def allows(self, now: float) -> bool:
        self.history = [t for t in self.history if now - t < self.window_s]
        return len(self.history) < self.max_restarts

    def record(self, now: float) -> None:
        self.history.append(now)


class ChildFailed(RuntimeError):
    """A child died and may not be restarted again."""


@dataclass
class Child:
    name: str
    start: Callable[[], Handle]
    log: Path
    budget: RestartBudget = field(default_factory=RestartBudget)
    handle: Handle | None = None


_NOTABLE = re.compile(
    r"\b(WARNING|WARN|ERROR|CRITICAL|FATAL)\b|lvl=(warn|error)|level=(warn|error)|Traceback|^\w*(Error|Exception)\b|"
    r"^\s*File \"|^Warning:|^Error:",
    re.IGNORECASE,
)


def is_notable(line: str) -> bool:
    """Lines worth showing on the console by default: warnings, errors, tracebacks."""
    return bool(_NOTABLE.search(line))


class LogTail:
    """Reads the lines appended to a log file since the last call (a partial last line waits for its end)."""

    def __init__(self, path: Path, from_start: bool = False) -> None:
        self.path = path
        self.offset = 0 if from_start or not path.exists() else path.stat().st_size
        self._partial = b""

    def new_lines(self, max_bytes: int = 1 << 20) -> list[str]:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return []
        if size < self.offset:  # truncated or replaced
            self.offset = 0
            self._partial = b""
        if size == self.offset:
            return []
        with self.path.open("rb") as fh:
            fh.seek(self.offset)
            data = fh.read(max_bytes)
        self.offset += len(data)
        chunks = (self._partial + data).split(b"\n")
        self._partial = chunks.pop()
        return [c.decode("utf-8", "replace").rstrip("\r") for c in chunks]


def tail_text(path: Path, n: int = 30) -> str:
    try:
        return "\n".join(path.read_text("utf-8", "replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


def ancestors(pid: int) -> set[int]:
    """`pid` and its parents up to init."""
    chain = set()
    while pid > 1 and pid not in chain:
        chain.add(pid)
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            break
        pid = int(stat.rpartition(")")[2].split()[1])
    return chain


def processes_with_env(key: str, value: str) -> list[int]:
    """Pids of processes whose environment holds KEY=VALUE, leaving out this process and its parents: the demo
    marks every child it starts this way, so this finds them, or their orphans after a crash."""
    needle = f"{key}={value}".encode()
    skip = ancestors(os.getpid())
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in skip:
            continue
        try:
            env = (entry / "environ").read_bytes()
        except OSError:
            continue
        if needle in env.split(b"\0"):
            found.append(int(entry.name))
    return sorted(found)


def pid_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # A zombie has exited; it only waits for its parent to collect it.
    return stat.rpartition(")")[2].split()[0] != "Z"


class Supervisor:
    def __init__(self, say: Callable[[str], None]) -> None:
        self.children: list[Child] = []
        self.say = say
        self._tails: dict[str, LogTail] = {}

    def add(self, child: Child) -> Child:
        """Start `child` now (in the order of calls) and watch it from then on."""
        self._tails.setdefault(child.name, LogTail(child.log))
        started = time.monotonic()
        child.handle = child.start()
        self.children.append(child)
        self.say(f"{child.name} started (pid {child.handle.pid}, {time.monotonic() - started:.1f} s)")
        return child

    def pids(self) -> dict[str, int]:
        return {c.name: c.handle.pid for c in self.children if c.handle is not None}

    def check(self, now: float) -> None:
        """Restart children that died, within their budget; raise ChildFailed when one may not come back."""
        for child in self.children:
            if child.handle is None or child.handle.alive():
                continue
            self.say(
                f"{child.name} exited unexpectedly; last lines of {child.log}:\n{tail_text(child.log, 15)}"
            )
            if not child.budget.allows(now):
                raise ChildFailed(
                    f"{child.name} died {child.budget.max_restarts + 1} times within "
                    f"{child.budget.window_s:.0f} s; see {child.log}"
                )
            child.budget.record(now)
            child.handle.stop()
            child.handle = child.start()
            self.say(f"{child.name} restarted (pid {child.handle.pid})")

    def log_lines(self, everything: bool = False) -> Iterator[tuple[str, str]]:
        for name, tail in self._tails.items():
            for line in tail.new_lines():
                if line.strip() and (everything or is_notable(line)):
                    yield name, line

    def stop_all(self) -> None:
        """Reverse start order: agents before the hub, the hub before its broker and database."""
        for child in reversed(self.children):
            if child.handle is None:
                continue
            t0 = time.monotonic()
            try:
                child.handle.stop()
            except Exception as exc:  # one stubborn child must not leave the others running
                self.say(f"{child.name}: stop failed: {exc!r}")
            self.say(f"{child.name} stopped ({time.monotonic() - t0:.1f} s)")
