"""One playback in its own thread: open the sink early, pre-roll silence, then feed PCM in real time.

Timing: the programme was decoded at prepare time and its first block is read from disk before the wait. The
thread wakes `preroll_ms` before `start_at` (sleep, then a short busy-wait), reads the wall clock (which NTP
disciplines on every receiver) once, and starts the sink on silence: exactly round((start_at − t0) × rate)
frames of it, followed at once by the first programme block, so the programme's first sample sits at a
sample-accurate position t0 + silence/rate, whatever instant the thread happened to wake at. Waking a little late under load (50 receivers on two cores) therefore
no longer moves the start; only the clock read itself does. That position is `first_sample_at`, unless the
first audio block reached the sink after it (the sink would have run dry): then the write instant is honest.
A stop is seen between two blocks (`block_ms`, 20 ms by default).

For the wait the thread asks for real-time scheduling (SCHED_FIFO, `realtime_priority`) so that other work on
the box cannot delay its wake-up past the pre-roll; it is back to normal scheduling right after. Without the
privilege (CAP_SYS_NICE) it logs once and waits normally.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np

from broadcast.receiver.level import LevelMeter
from broadcast.receiver.pcm import SAMPLE_BYTES, Programme
from broadcast.receiver.relay import RelayStream
from broadcast.receiver.sinks import Sink, SinkError

log = logging.getLogger(__name__)

READ_SIZE = 256 * 1024
_realtime_refused = False  # logged once per process


def volume_gain(volume: int) -> float:
    """Amplitude gain for a 0–100 volume: squared, close to how loud it sounds (50 → −12 dB, 0 → mute); the
    contract states the same law in dB (`contract.payloads.volume_db`) for the hub's expected level."""
    return (max(0, min(100, volume)) / 100.0) ** 2


def apply_gain(block: bytes, gain: float) -> bytes:
    if gain >= 0.999:
        return block
    samples = np.frombuffer(block, dtype="<i2").astype(np.float32) * gain
    out: bytes = np.clip(samples, -32768, 32767).astype("<i2").tobytes()
    return out


def blocks_of(programme: Programme, block_bytes: int) -> Iterator[bytes]:
    """The programme as equal blocks (the last one shorter), reading each file as it comes."""
    pending = bytearray()
    for seg in programme.segments:
        if seg.path is None:
            left = seg.nbytes
            while left:
                take = min(left, block_bytes - len(pending))
                pending += bytes(take)
                left -= take
                if len(pending) == block_bytes:
                    yield bytes(pending)
                    pending.clear()
            continue
        with seg.path.open("rb") as f:
            left = seg.nbytes
            while left > 0:
                chunk = f.read(min(READ_SIZE, left))
                if not chunk:
                    break  # the file is shorter than when it was prepared: play what is there
                left -= len(chunk)
                pending += chunk
                while len(pending) >= block_bytes:
                    yield bytes(pending[:block_bytes])
                    del pending[:block_bytes]
    if pending:
        yield bytes(pending[: len(pending) - len(pending) % SAMPLE_BYTES])


@dataclass(frozen=True, slots=True)
class Outcome:
    state: Literal["finished", "stopped", "failed"]
    first_sample_at: float | None
    played_s: float
    error: str | None = None


class Player:
    def __init__(
        self,
        programme: Programme | RelayStream,
        sink: Sink,
        start_at: float,
        block_ms: float,
        spin_ms: float,
        realtime_priority: int,
        gain: Callable[[], float],
        on_started: Callable[[float, float], None],
        clock: Callable[[], float] = time.time,
        meter: LevelMeter | None = None,
        preroll_ms: float = 0.0,
        buffer_ms: float = 0.0,
    ) -> None:
        self.meter = meter
        self.programme = programme
        self.sink = sink
        self.start_at = start_at
        frames = max(1, round(programme.rate * block_ms / 1000))
        self.block_bytes = frames * SAMPLE_BYTES
        self.block_s = frames / programme.rate
        self.spin_s = spin_ms / 1000
        self.preroll_s = preroll_ms / 1000
        # Paced sinks are written this far ahead of when the samples are heard, like a device buffer.
        self.buffer_s = buffer_ms / 1000
        self.realtime_priority = realtime_priority
        self.gain = gain
        self.on_started = on_started
        self.clock = clock
        self._stop = threading.Event()
        self.played_bytes = 0
        self.silence_s = 0.0  # what was left of the pre-roll when the player woke, played as silence

    def stop(self) -> None:
        self._stop.set()

    @property
    def played_s(self) -> float:
        return self.played_bytes / (SAMPLE_BYTES * self.programme.rate)

    def start(self, loop: asyncio.AbstractEventLoop) -> asyncio.Future[Outcome]:
        """Run in a new thread; the future resolves on `loop` when the playback is over."""
        done: asyncio.Future[Outcome] = loop.create_future()

        def body() -> None:
            outcome = self.run()
            try:
                loop.call_soon_threadsafe(_resolve, done, outcome)
            except RuntimeError:
                pass  # the loop is gone (shutdown)

        threading.Thread(target=body, name="player", daemon=True).start()
        return done

    def run(self) -> Outcome:
        first: float | None = None
        try:
            self.sink.open()
            if isinstance(self.programme, RelayStream):
                blocks = self.programme.blocks(self.block_bytes)
            else:
                blocks = blocks_of(self.programme, self.block_bytes)
            block = next(blocks, None)
            if block is None:
                self.sink.close()
                return Outcome("failed", None, 0.0, "chương trình rỗng")
            realtime = self._enter_realtime()
            try:
                if not self._wait_until(self.start_at - self.preroll_s):
                    self.sink.abort()
                    return Outcome("stopped", None, 0.0)
                t0 = self.clock()
                origin = time.perf_counter()
                silence = silence_frames(self.start_at, t0, self.programme.rate)
                if silence:
                    self.sink.silence(silence * SAMPLE_BYTES)
                # The first block goes right behind the silence: a second wake-up under load could come late.
                block = apply_gain(block, self.gain())
                self.sink.write(block)
                written = self.clock()
            finally:
                if realtime:
                    _leave_realtime()
            position = t0 + silence / self.programme.rate
            first = max(position, written) if silence else written
            self.silence_s = silence / self.programme.rate
            self.played_bytes += len(block)
            self.on_started(first, self.silence_s)
            if self.meter is not None:  # after the timed first write, never before it
                self.meter.add(block)
            if not self._feed(blocks, origin, silence / self.programme.rate):
                self.sink.abort()
                return Outcome("stopped", first, self.played_s)
            self.sink.close()
            return Outcome("finished", first, self.played_s)
        except (SinkError, OSError) as exc:
            log.error("playback failed: %s", exc)
            try:
                self.sink.abort()
            except OSError:
                pass
            return Outcome("failed", first, self.played_s, str(exc))

    def _enter_realtime(self) -> bool:
        global _realtime_refused
        if self.realtime_priority <= 0 or not hasattr(os, "SCHED_FIFO"):
            return False
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(self.realtime_priority))
        except OSError as exc:
            if not _realtime_refused:
                _realtime_refused = True
                log.warning(
                    "no real-time scheduling for the start instant (%s): its precision depends on load", exc
                )
            return False
        return True

    def _wait_until(self, t: float) -> bool:
        while True:
            left = t - self.clock()
            if left <= self.spin_s:
                break
            if self._stop.wait(min(left - self.spin_s, 0.25)):
                return False
        while self.clock() < t:
            pass
        return not self._stop.is_set()

    def _pace(self, origin: float, heard_at_s: float) -> bool:
        """Paced sinks: wait until a block heard `heard_at_s` after `origin` is due (a buffer ahead); False when stopped."""
        if not self.sink.paced:
            return not self._stop.is_set()
        delay = origin + heard_at_s - self.buffer_s - time.perf_counter()
        if delay > 0 and self._stop.wait(delay):
            return False
        return not self._stop.is_set()

    def _feed(self, blocks: Iterator[bytes], origin: float, lead_s: float) -> bool:
        """Write the rest in real time after `lead_s` of silence; False when stopped."""
        for block in blocks:
            if not self._pace(origin, lead_s + self.played_s):
                return False
            out = apply_gain(block, self.gain())
            self.sink.write(out)
            if self.meter is not None:
                self.meter.add(out)
            self.played_bytes += len(block)
        if self.sink.paced:  # the last block is heard until its end
            delay = origin + lead_s + self.played_s - time.perf_counter()
            if delay > 0 and self._stop.wait(delay):
                return False
        return True


def silence_frames(start_at: float, now: float, rate: int) -> int:
    """Frames of silence that put the first programme sample at `start_at` when the sink starts at `now`."""
    return max(0, round((start_at - now) * rate))


def _leave_realtime() -> None:
    try:
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
    except OSError as exc:  # cannot happen when entering worked; never leave a thread stuck at real time
        log.error("could not leave real-time scheduling: %s", exc)


def _resolve(fut: asyncio.Future[Outcome], outcome: Outcome) -> None:
    if not fut.done():
        fut.set_result(outcome)
