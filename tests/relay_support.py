"""A local upstream station for the relay tests: ffmpeg serving a live MP3 stream over HTTP on loopback
(`-listen 1`), which the test can switch to silence or stop, as an upstream station would misbehave."""

from __future__ import annotations

import subprocess

from devtools.services import free_port, terminate

SOURCES = {"tone": "sine=frequency=440:sample_rate=44100", "silence": "anullsrc=r=44100:cl=mono"}


class Upstream:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/live.mp3"
        self.proc: subprocess.Popen[bytes] | None = None

    def play(self, what: str = "tone") -> None:
        """(Re)start serving `what` live; a client connected before is dropped and must reconnect."""
        self.stop()
        self.proc = subprocess.Popen(
            ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi", "-i", SOURCES[what],
             "-ac", "1", "-c:a", "libmp3lame", "-b:a", "64k", "-f", "mp3", "-listen", "1", self.url],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

    def stop(self) -> None:
        if self.proc is not None:
            terminate(self.proc, 5)
            self.proc = None
