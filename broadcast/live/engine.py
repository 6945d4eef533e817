"""The hub's live audio engine: a supervised Snapcast server (`snapserver`, synchronised playout on every
connected `snapclient` with a shared buffer) whose pipe source is fed by ffmpeg decoding the phone's
MediaRecorder chunks (one continuous WebM/Opus stream cut into pieces). The same ffmpeg copies the Opus packets
into a WebM file: the recording of what went out, processed afterwards like an upload.

Nothing here speaks a streaming protocol of its own: chunks go into ffmpeg's stdin as they come, Snapcast
carries PCM to the receivers and keeps them in step (its clients sync to the server clock within a millisecond).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("broadcast.live")

SAMPLE_FORMAT = "48000:16:2"  # Snapcast's native format: no resampling in the clients
STOP_WAIT_S = 10.0


class LiveEngineError(RuntimeError):
    """snapserver or ffmpeg could not start or died."""


@dataclass(frozen=True, slots=True)
class EngineSettings:
    stream_port: int  # receivers' snapclients connect here
    control_port: int  # Snapcast JSON-RPC (loopback): who is connected
    bind: str = "0.0.0.0"
    buffer_ms: int = 1000  # end-to-end delay Snapcast keeps; receivers add their own (snapclient) on top
    chunk_ms: int = 20
    # opus: ~100 kbit/s a receiver instead of 1.5 Mbit/s for pcm; what a 4G cell shared by a commune can carry
    codec: str = "opus"


def snapserver_conf(s: EngineSettings, fifo: Path, datadir: Path) -> str:
    # mode=create: snapserver makes the fifo and reads it; silence plays while nothing is written
    return f"""[server]
threads = 2
datadir = {datadir}

[http]
enabled = false

[tcp]
enabled = true
bind_to_address = 127.0.0.1
port = {s.control_port}

[stream]
bind_to_address = {s.bind}
port = {s.stream_port}
source = pipe://{fifo}?name=live&mode=create
sampleformat = {SAMPLE_FORMAT}
codec = {s.codec}
chunk_ms = {s.chunk_ms}
buffer = {s.buffer_ms}
send_to_muted = false

[logging]
filter = *:notice
"""


def ffmpeg_cmd(fifo: Path, recording: Path) -> list[str]:
    return [
        "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
        # start decoding as soon as the first cluster arrives rather than after probing seconds of input
        "-fflags", "nobuffer", "-probesize", "4096", "-analyzeduration", "0",
        "-f", "webm", "-i", "pipe:0",
        "-map", "0:a:0", "-f", "s16le", "-ar", "48000", "-ac", "2", "-flush_packets", "1", str(fifo),
        "-map", "0:a:0", "-c:a", "copy", "-f", "webm", str(recording),
    ]  # fmt: skip


class LiveEngine:
    """One snapserver for the hub's life; one ffmpeg per live session."""

    def __init__(self, workdir: Path, settings: EngineSettings) -> None:
        self.workdir = workdir
        self.settings = settings
        self.fifo = workdir / "live.fifo"
        self._server: asyncio.subprocess.Process | None = None
        self._ffmpeg: asyncio.subprocess.Process | None = None
        self.recording: Path | None = None
        self.bytes_fed = 0

    async def start(self) -> None:
        binary = shutil.which("snapserver")
        if binary is None:
            raise LiveEngineError("snapserver not installed (Debian package snapserver)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        conf = self.workdir / "snapserver.conf"
        conf.write_text(snapserver_conf(self.settings, self.fifo, self.workdir))
        self._server = await asyncio.create_subprocess_exec(
            binary,
            "-c",
            str(conf),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        for _ in range(100):  # up to 10 s: the control port answers once the streams are set up
            if self._server.returncode is not None:
                raise LiveEngineError(f"snapserver exited ({self._server.returncode})")
            with contextlib.suppress(OSError):
                await self.clients()
                log.info("snapserver up: stream port %d", self.settings.stream_port)
                return
            await asyncio.sleep(0.1)
        raise LiveEngineError("snapserver did not open its control port")

    async def stop(self) -> None:
        await self.end_session()
        if self._server is not None and self._server.returncode is None:
            self._server.terminate()
            try:
                await asyncio.wait_for(self._server.wait(), STOP_WAIT_S)
            except TimeoutError:
                self._server.kill()
                await self._server.wait()
        self._server = None

    @property
    def running(self) -> bool:
        return self._server is not None and self._server.returncode is None

    async def begin_session(self, recording: Path) -> None:
        if self._ffmpeg is not None:
            raise LiveEngineError("a live session is already on air")
        recording.parent.mkdir(parents=True, exist_ok=True)
        self.recording, self.bytes_fed = recording, 0
        self._ffmpeg = await asyncio.create_subprocess_exec(
            *ffmpeg_cmd(self.fifo, recording),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )

    async def feed(self, chunk: bytes) -> None:
        proc = self._ffmpeg
        if proc is None or proc.stdin is None:
            raise LiveEngineError("no live session")
        if proc.returncode is not None:
            raise LiveEngineError(f"ffmpeg exited ({proc.returncode})")
        proc.stdin.write(chunk)
        self.bytes_fed += len(chunk)
        try:
            await proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise LiveEngineError(f"ffmpeg stopped reading: {exc}") from exc

    async def end_session(self) -> Path | None:
        """Closes ffmpeg's input so it finishes the recording; returns it (None when nothing was recorded)."""
        proc, self._ffmpeg = self._ffmpeg, None
        if proc is None:
            return None
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        try:
            _, err = await asyncio.wait_for(proc.communicate(), STOP_WAIT_S)
        except TimeoutError:
            proc.kill()
            _, err = await proc.communicate()
        if proc.returncode:
            log.warning(
                "live ffmpeg exited %s: %s", proc.returncode, (err or b"").decode(errors="replace")[-500:]
            )
        rec = self.recording
        return rec if rec is not None and rec.is_file() and rec.stat().st_size > 0 else None

    async def clients(self) -> list[dict[str, Any]]:
        """Snapcast's view of the receivers: [{id, connected, latency_ms}] (JSON-RPC Server.GetStatus)."""
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", self.settings.control_port), 2.0
        )
        try:
            writer.write(b'{"id":1,"jsonrpc":"2.0","method":"Server.GetStatus"}\r\n')
            await writer.drain()
            while True:  # notifications (a client joined) may come before the answer
                reply = json.loads(await asyncio.wait_for(reader.readline(), 2.0))
                if reply.get("id") == 1:
                    break
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        status = reply["result"]["server"]
        return [
            {
                # the client id is snapclient's --hostID (the speaker id), "#<n>" added for instance n > 1
                "id": str(c["id"]).split("#", 1)[0],
                "connected": bool(c["connected"]),
                "latency_ms": c["config"].get("latency", 0),
            }
            for g in status.get("groups", [])
            for c in g.get("clients", [])
        ]
