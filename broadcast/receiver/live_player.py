"""The receiver's side of a live session: a supervised `snapclient` connected to the hub's Snapcast server for
as long as the signed live order says. Snapcast keeps every client in step with the server clock and buffers
(the server's `buffer_ms`), so a short 4G stall is ridden out; a client that falls too far behind resyncs
(drops audio) rather than playing out of step, and snapclient logs it, which we count and report."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import shutil
from dataclasses import dataclass

log = logging.getLogger(__name__)

STOP_WAIT_S = 5.0
# snapclient's words when it cannot keep in step: it skips or fills, and we report it as falling behind
BEHIND = re.compile(rb"(?i)(xrun|underrun|buffer.*(empty|dropped)|out of sync|resync|hard sync)")


class LivePlayerError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class LiveTarget:
    host: str
    port: int
    host_id: str  # the speaker id: the hub lists listeners by it
    player: (
        str  # snapclient --player: "alsa" on a receiver, "file:filename=..." in tests, "file:filename=null"
    )
    soundcard: str = "default"


def snapclient_cmd(binary: str, t: LiveTarget, instance: int = 1) -> list[str]:
    cmd = [binary, "-h", t.host, "-p", str(t.port), "--hostID", t.host_id, "-i", str(instance)]
    cmd += ["--player", t.player, "--logsink", "stderr", "--logfilter", "*:notice"]
    if t.player == "alsa":
        cmd += ["-s", t.soundcard]
    return cmd


class LivePlayer:
    def __init__(self, target: LiveTarget, instance: int = 1) -> None:
        self.target = target
        self.instance = instance
        self.behind_events = 0
        self._proc: asyncio.subprocess.Process | None = None
        self._watch: asyncio.Task[None] | None = None

    @property
    def playing(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    async def start(self) -> None:
        binary = shutil.which("snapclient")
        if binary is None:
            raise LivePlayerError("snapclient not installed (Debian package snapclient)")
        self._proc = await asyncio.create_subprocess_exec(
            *snapclient_cmd(binary, self.target, self.instance),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        self._watch = asyncio.create_task(self._read_log(self._proc), name="snapclient-log")

    async def _read_log(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stderr is not None
        async for line in proc.stderr:
            if BEHIND.search(line):
                self.behind_events += 1
                log.warning("live: %s", line.decode(errors="replace").strip()[:200])

    async def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), STOP_WAIT_S)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        if self._watch is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self._watch, STOP_WAIT_S)
            self._watch = None
