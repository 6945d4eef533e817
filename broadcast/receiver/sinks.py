"""Where the PCM goes: an ALSA device (through a pre-started ffmpeg), a WAV file, or nowhere.

A sink is opened before the start instant (so no process start-up or file creation is in the critical path),
started on a pre-roll of silence (`silence`) that places the programme's first sample, written block by block
by the player thread, and closed (or aborted, which cuts the sound at once).
`paced` says whether the player must pace writes in real time itself (file, null) or the device's clock does it
by blocking the writes (ALSA).
"""

from __future__ import annotations

import logging
import struct
import subprocess
from pathlib import Path
from typing import BinaryIO, Protocol

from broadcast.receiver.config import SinkSection

log = logging.getLogger(__name__)

CLOSE_WAIT_S = 5.0


class SinkError(OSError):
    """The audio output failed (device gone, disk full, ffmpeg died)."""


class Sink(Protocol):
    paced: bool

    def open(self) -> None: ...

    def write(self, block: bytes) -> None: ...

    def silence(self, nbytes: int) -> None:
        """The pre-roll before the first programme sample (a file sink keeps only the programme)."""

    def close(self) -> None:
        """Played to the end: let buffered audio finish."""

    def abort(self) -> None:
        """Stopped: silence now, drop what is buffered."""


class NullSink:
    paced = True

    def open(self) -> None:
        pass

    def write(self, block: bytes) -> None:
        pass

    def silence(self, nbytes: int) -> None:
        pass

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass


def wav_header(rate: int, data_bytes: int) -> bytes:
    channels, bits = 1, 16
    byte_rate = rate * channels * bits // 8
    return (
        b"RIFF"
        + struct.pack("<I", 36 + data_bytes)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, channels, rate, byte_rate, channels * bits // 8, bits)
        + b"data"
        + struct.pack("<I", data_bytes)
    )


class FileSink:
    """A WAV file of exactly what was played (sizes fixed in the header when it closes)."""

    paced = True

    def __init__(self, path: Path, rate: int) -> None:
        self.path = path
        self.rate = rate
        self._f: BinaryIO | None = None
        self._bytes = 0

    def open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._f = self.path.open("wb")
            self._f.write(wav_header(self.rate, 0))
        except OSError as exc:
            raise SinkError(f"cannot open {self.path}: {exc}") from exc

    def write(self, block: bytes) -> None:
        assert self._f is not None
        try:
            self._f.write(block)
        except OSError as exc:
            raise SinkError(f"cannot write {self.path}: {exc}") from exc
        self._bytes += len(block)

    def silence(self, nbytes: int) -> None:
        pass  # the WAV's time origin is first_sample_at: it holds what the programme played, from its first sample

    def close(self) -> None:
        f, self._f = self._f, None
        if f is None:
            return
        try:
            f.seek(0)
            f.write(wav_header(self.rate, self._bytes))
        finally:
            f.close()

    def abort(self) -> None:
        self.close()  # the file keeps what was played up to the stop


class AlsaSink:
    """ffmpeg started before air time, reading raw PCM on stdin and playing it on an ALSA device."""

    paced = False

    def __init__(self, device: str, rate: int) -> None:
        self.device = device
        self.rate = rate
        self._proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        return [
            "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error",
            "-fflags", "nobuffer", "-probesize", "32",
            "-f", "s16le", "-ar", str(self.rate), "-ac", "1", "-i", "pipe:0",
            "-f", "alsa", self.device,
        ]  # fmt: skip

    def open(self) -> None:
        try:
            self._proc = subprocess.Popen(
                self.command(), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
        except OSError as exc:
            raise SinkError(f"cannot start ffmpeg for ALSA device {self.device}: {exc}") from exc

    def write(self, block: bytes) -> None:
        proc = self._proc
        assert proc is not None and proc.stdin is not None
        try:
            proc.stdin.write(block)
        except (BrokenPipeError, ValueError) as exc:
            raise SinkError(f"ALSA output {self.device} stopped: {self._stderr()}") from exc

    def silence(self, nbytes: int) -> None:
        self.write(bytes(nbytes))  # the device clock plays it, so the programme begins exactly after it

    def _stderr(self) -> str:
        proc = self._proc
        if proc is None or proc.stderr is None:
            return ""
        try:
            proc.wait(1.0)
            return proc.stderr.read().decode(errors="replace").strip()[-300:]
        except (subprocess.TimeoutExpired, OSError, ValueError):
            return "ffmpeg not answering"

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            if proc.stdin is not None:
                proc.stdin.close()
            proc.wait(CLOSE_WAIT_S)
        except (BrokenPipeError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
        finally:
            if proc.stderr is not None:
                proc.stderr.close()

    def abort(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.kill()
        proc.wait()
        for pipe in (proc.stdin, proc.stderr):
            if pipe is not None:
                try:
                    pipe.close()
                except BrokenPipeError:
                    pass


def make_sink(section: SinkSection, airing: str, base_dir: Path) -> Sink:
    if section.type == "null":
        return NullSink()
    if section.type == "alsa":
        return AlsaSink(section.device, section.rate)
    assert section.path is not None
    path = Path(section.path.replace("{airing}", airing))
    return FileSink(path if path.is_absolute() else base_dir / path, section.rate)
