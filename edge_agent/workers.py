"""Probe worker processes: a bounded pool in which each probe has a hard, enforceable wall-clock cap.

Why processes and not threads: OpenCV's FFmpeg backend opens streams under one process-wide mutex, so in
threads one camera that never answers holds up the open of every other camera for its whole open timeout, and
a healthy RTSP open takes seconds (FFmpeg reads ~3 s of video to learn the stream) during which all other opens
wait (measured here: three threads opening a hanging camera and two healthy ones finished at 5, 8 and 11 s).
In separate processes the opens really run side by side, a probe stuck past its cap is ended by killing its
worker (a thread cannot be stopped), and a crash inside a decoder costs one worker, not the agent.

Workers are forked from a fork server (multiprocessing "forkserver"): a fresh, single-threaded interpreter
started once, which imports OpenCV, NumPy and the probe code and then forks one worker per request. Forking the
agent itself is unsafe (it already runs the paho thread); spawning a fresh interpreter per worker made every
worker load its own copy of those libraries, ~60 MB resident each (bench/edge_capacity.py). Forked from the
server they share those pages copy-on-write, so a worker costs little more than its decode buffers. Each worker
answers one probe at a time over a pipe. The asyncio side waits for the answer in a small thread pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from contract import Problem
from device_runtime.supervisor import RestartBudget, WorkerSupervisor
from edge_agent.config import ProbeSection
from edge_agent.probe import ProbeResult

log = logging.getLogger(__name__)

_CTX = multiprocessing.get_context("forkserver")
# Loaded once in the fork server, shared by every worker; also what unpickling a ProbeTask needs.
_CTX.set_forkserver_preload(["edge_agent.probe", "edge_agent.workers"])
STOP_GRACE_S = 1.0
WATCH_EVERY_S = 1.0  # how soon a worker that died while idle is noticed


@dataclass(frozen=True, slots=True)
class ProbeTask:
    url: str
    settings: ProbeSection
    black_luma: float
    soft_s: float  # stop reading frames after this many seconds


def _worker_main(conn: Connection) -> None:
    """Entry point of a worker process: answer probe tasks until the pipe closes."""
    # The parent decides when workers stop (a Ctrl-C in a terminal or systemd's stop reaches the whole group):
    # a worker dying first would turn its probe in flight into a false camera fault.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    from device_runtime.logsetup import setup_logging
    from device_runtime.redact import Redactor, url_secrets
    from edge_agent.probe import configure_opencv, safe_probe

    redactor = Redactor()
    setup_logging("WARNING", redactor)
    configure_opencv()
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return  # the agent is gone
        if task is None:
            return
        redactor.set_secrets(url_secrets(task.url))
        result = safe_probe(task.url, task.settings, task.black_luma, time.monotonic() + task.soft_s)
        try:
            conn.send(result)
        except (BrokenPipeError, OSError):
            return


class WorkerLost(Exception):
    """The worker died or did not answer in time; it has been killed."""

    def __init__(self, message: str, timed_out: bool) -> None:
        super().__init__(message)
        self.timed_out = timed_out


class _Worker:
    """One worker process and our end of its pipe. `exchange` runs in a wait thread while `stop`/`kill` may
    come from another (the pool closing, a cap passing): the lock keeps the pipe to one writer and the
    teardown to one pass."""

    def __init__(self, index: int) -> None:
        self.conn, child = _CTX.Pipe()
        self.process: BaseProcess = _CTX.Process(
            target=_worker_main, args=(child,), name=f"probe-worker-{index}", daemon=True
        )
        self.process.start()
        child.close()
        self._lock = threading.Lock()
        self._busy = False
        self._stopping = False
        self._killed = False

    def exchange(self, task: ProbeTask, cap_s: float) -> object:
        """Blocking: send one task and wait for its result for at most cap_s seconds."""
        with self._lock:
            if self._stopping:
                raise WorkerLost("worker is stopping", timed_out=False)
            self._busy = True
            try:
                self.conn.send(task)
            except OSError as exc:
                self._busy = False
                raise WorkerLost(f"worker gone ({exc})", timed_out=False) from exc
        try:
            if not self.conn.poll(cap_s):
                raise WorkerLost(f"no answer within {cap_s:g} s", timed_out=True)
            return self.conn.recv()
        except (EOFError, OSError) as exc:
            self.process.join(0.5)
            raise WorkerLost(f"worker exited (code {self.process.exitcode})", timed_out=False) from exc
        finally:
            self._busy = False

    @property
    def busy(self) -> bool:
        return self._busy

    @property
    def name(self) -> str:
        return self.process.name

    @property
    def exitcode(self) -> int | None:
        return self.process.exitcode

    def kill(self) -> None:
        with self._lock:
            self._stopping = True
            if self._killed:
                return
            self._killed = True
        if self.process.is_alive():
            self.process.kill()  # a reader blocked on the pipe sees EOF now
        self.process.join(2.0)
        self.conn.close()

    def stop(self) -> None:
        """Ask an idle worker to exit; a busy one is killed (its probe no longer matters)."""
        with self._lock:
            if self._stopping:
                return
            self._stopping = True
            graceful = not self._busy
        if graceful:
            with contextlib.suppress(OSError):
                self.conn.send(None)
            self.process.join(STOP_GRACE_S)
        self.kill()


class PoolFailing(Exception):
    """No worker is alive and the restart budget refuses new ones for now."""


class WorkerPool:
    """`size` worker processes; `run` borrows an idle one for one probe. Lost workers (killed at the cap, dead
    mid-probe or while idle) are replaced within the supervisor's restart budget."""

    def __init__(
        self, size: int, budget: RestartBudget | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._count = 0
        self._size = size
        self._idle: asyncio.Queue[_Worker] = asyncio.Queue()
        self._all: set[_Worker] = set()
        self._waits = ThreadPoolExecutor(max_workers=64, thread_name_prefix="probe-wait")
        self._closed = False
        self._clock = clock
        self._watcher: asyncio.Task[None] | None = None
        self.supervisor = WorkerSupervisor(budget or RestartBudget(), label="probe worker")
        self.on_change: Callable[[], None] | None = None  # called when restarts or the failing state change
        self.killed = 0

    def start(self) -> None:
        while len(self._all) < self._size:
            self._add()
        if self._watcher is None:
            with contextlib.suppress(RuntimeError):  # no running loop: no watcher (lost workers found on use)
                self._watcher = asyncio.get_running_loop().create_task(self._watch(), name="probe-workers")

    def _add(self) -> None:
        self._count += 1
        worker = _Worker(self._count)
        self._all.add(worker)
        self._idle.put_nowait(worker)

    @property
    def size(self) -> int:
        return self._size

    @property
    def pids(self) -> list[int]:
        return [w.process.pid for w in self._all if w.process.pid is not None]

    def resize(self, size: int) -> None:
        """Grow now; shrink as workers come back idle."""
        self._size = size
        self.supervisor.forget_missing(len(self._all) + self.supervisor.missing - size)
        if self._all:
            self.start()

    def _lose(self, worker: _Worker, cause: str) -> None:
        """Take a dead or killed worker out of the pool (once) and ask the supervisor for a replacement."""
        if worker not in self._all:
            return
        self._all.discard(worker)
        if not self._closed:
            before = (self.supervisor.restarts, self.supervisor.failing)
            self.supervisor.lost(cause)
            self.supervisor.forget_missing(len(self._all) + self.supervisor.missing - self._size)
            self._refill(before)

    def _refill(self, before: tuple[int, bool] | None = None) -> None:
        if self._closed:
            return
        if before is None:
            before = (self.supervisor.restarts, self.supervisor.failing)
        for _ in range(self.supervisor.grant(self._clock())):
            self._add()
        if self.on_change is not None and (self.supervisor.restarts, self.supervisor.failing) != before:
            try:
                self.on_change()
            except Exception:
                log.exception("reporting a worker restart failed")

    async def _watch(self) -> None:
        """Find workers that died while idle (a probe would otherwise be charged with it) and start the
        replacements the budget deferred."""
        loop = asyncio.get_running_loop()
        while not self._closed:
            for worker in list(self._all):
                if not worker.busy and not worker.process.is_alive():
                    log.warning(
                        "probe worker %s died while idle (exit code %s)", worker.name, worker.exitcode
                    )
                    self._lose(worker, f"died while idle, exit code {worker.exitcode}")
                    await loop.run_in_executor(self._waits, worker.kill)
            if self.supervisor.missing:
                self._refill()
            await asyncio.sleep(WATCH_EVERY_S)

    async def _borrow(self) -> _Worker:
        loop = asyncio.get_running_loop()
        while True:
            if not self._all and self.supervisor.failing:
                raise PoolFailing(
                    f"{self.supervisor.restarts} lần khởi động lại, vượt giới hạn "
                    f"{self.supervisor.budget.max_restarts} lần trong {self.supervisor.budget.window_s:g} s"
                )
            worker = await self._idle.get()
            if worker not in self._all:
                continue  # lost while it waited in the queue
            if not worker.process.is_alive():
                self._lose(worker, f"found dead, exit code {worker.exitcode}")
                await loop.run_in_executor(self._waits, worker.kill)
                continue
            return worker

    async def run(self, task: ProbeTask, cap_s: float) -> object:
        """The worker's result; raises WorkerLost after killing a worker that overran cap_s or died, and
        PoolFailing when no worker is left to run it."""
        worker = await self._borrow()
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(self._waits, worker.exchange, task, cap_s)
        except WorkerLost as exc:
            self.killed += 1
            self._lose(worker, str(exc))
            await loop.run_in_executor(self._waits, worker.kill)
            raise
        if len(self._all) > self._size:
            self._all.discard(worker)
            await loop.run_in_executor(self._waits, worker.stop)
        elif worker in self._all:
            self._idle.put_nowait(worker)
        return result

    async def close(self) -> None:
        """Stop every worker (busy ones are killed: the agent is leaving)."""
        self._closed = True
        if self._watcher is not None:
            self._watcher.cancel()
            await asyncio.gather(self._watcher, return_exceptions=True)
        workers, self._all = list(self._all), set()
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(self._waits, w.stop) for w in workers))
        self._waits.shutdown(wait=False, cancel_futures=True)


async def probe_in_pool(pool: WorkerPool, url: str, settings: ProbeSection, black_luma: float) -> ProbeResult:
    """One probe in a worker, always ending with a result by the hard cap."""
    cap = settings.hard_cap_s
    # Stop reading frames a little before the cap, so a slow-but-alive stream still reports its figures.
    task = ProbeTask(url, settings, black_luma, soft_s=max(cap - settings.read_timeout_s, cap / 2))
    try:
        result = await pool.run(task, cap)
    except PoolFailing as exc:
        reason = f"Không kiểm tra được: tiến trình kiểm tra camera của agent liên tục bị lỗi ({exc})"
        return ProbeResult(False, Problem.DECODE_ERROR, reason)
    except WorkerLost as exc:
        log.warning("probe worker killed: %s", exc)
        if exc.timed_out:
            reason = f"Camera treo giữa chừng: lần kiểm tra vượt quá giới hạn {cap:g} s"
            return ProbeResult(False, Problem.NO_FRAMES, reason, probe_ms=cap * 1000)
        return ProbeResult(
            False, Problem.DECODE_ERROR, "Bộ giải mã video bị lỗi nghiêm trọng khi đọc luồng này"
        )
    if not isinstance(result, ProbeResult):
        raise TypeError(f"probe worker answered {type(result).__name__}")
    return result
