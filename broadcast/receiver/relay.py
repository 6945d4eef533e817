"""Playing a relay: the hub's re-stream of an upstream station as numbered PCM chunks on one timeline.

A fetch thread downloads chunk k from the hub as soon as the hub has cut it (404 until then, retried every
`POLL_S`) and at the latest by its play time start_at + k·chunk_s; the player thread takes the chunks in order
without ever waiting for the network: a chunk that is not there when its turn comes is played as silence of the
same length, so this receiver never falls out of step with its neighbours, and a late link costs only that
chunk. Chunks are resampled to the sink's rate (linear interpolation; the horns' band ends at 8 kHz).
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator

import numpy as np

from contract import RelayPlan

log = logging.getLogger(__name__)

POLL_S = 0.25  # between two asks for a chunk the hub has not cut yet
AHEAD = 4  # chunks fetched ahead of the one playing (memory: a few seconds of PCM)
SAMPLE_BYTES = 2


def resample(pcm: bytes, src: int, dst: int) -> bytes:
    if src == dst or not pcm:
        return pcm
    x = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    n_out = round(len(x) * dst / src)
    out = np.interp(np.arange(n_out) * src / dst, np.arange(len(x)), x)
    return np.clip(np.round(out), -32768, 32767).astype("<i2").tobytes()


class RelayStream:
    """What the player reads for a relay (the relay's `Programme`)."""

    def __init__(
        self,
        plan: RelayPlan,
        rate: int,
        https: ssl.SSLContext | None = None,
        timeout_s: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.plan = plan
        self.rate = rate  # of the sink: what blocks() yields
        self.https = https
        self.timeout_s = timeout_s
        self.clock = clock
        self.chunk_bytes = round(rate * plan.chunk_s) * SAMPLE_BYTES
        self.chunks: dict[int, bytes] = {}
        self.missing = 0  # chunks played as silence because they had not arrived
        self.fetched = 0
        self._playing = 0
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._fetch_all, name=f"relay-{plan.airing}", daemon=True)

    @property
    def duration_s(self) -> float:
        return self.plan.chunks * self.plan.chunk_s

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()

    def deadline(self, k: int) -> float:
        return self.plan.start_at + k * self.plan.chunk_s

    # fetch thread ------------------------------------------------------------------------------------------
    def _fetch_all(self) -> None:
        for k in range(self.plan.chunks):
            with self._cond:
                while k > self._playing + AHEAD and not self._stop.is_set():
                    self._cond.wait(1.0)
            if self._stop.is_set():
                return
            data = self._fetch(k)
            if data is not None:
                with self._cond:
                    self.chunks[k] = data
                    self.fetched += 1

    def _fetch(self, k: int) -> bytes | None:
        url = self.plan.chunk_url.replace("{seq}", str(k))
        while not self._stop.is_set() and self.clock() < self.deadline(k):
            try:
                with urllib.request.urlopen(url, timeout=self.timeout_s, context=self.https) as r:
                    raw = r.read(round(self.plan.rate * self.plan.chunk_s) * SAMPLE_BYTES + 1)
                raw = raw[: len(raw) - len(raw) % SAMPLE_BYTES]
                out = resample(raw, self.plan.rate, self.rate)
                return out[: self.chunk_bytes] + bytes(max(0, self.chunk_bytes - len(out)))
            except urllib.error.HTTPError as exc:
                if exc.code != 404:
                    log.warning("relay %s chunk %d: HTTP %d", self.plan.airing, k, exc.code)
            except (OSError, ValueError) as exc:  # link down, timeout: try again while there is time
                log.debug("relay %s chunk %d: %s", self.plan.airing, k, exc)
            self._stop.wait(POLL_S)
        return None

    # player thread -----------------------------------------------------------------------------------------
    def blocks(self, block_bytes: int) -> Iterator[bytes]:
        """The relay as blocks of `block_bytes`, chunk after chunk, never waiting for the network."""
        for k in range(self.plan.chunks):
            with self._cond:
                self._playing = k
                data = self.chunks.pop(k, None)
                self._cond.notify_all()
            if data is None:
                self.missing += 1
                if self.missing == 1 or self.missing % 30 == 0:
                    log.warning(
                        "relay %s: chunk %d not here in time (%d so far)", self.plan.airing, k, self.missing
                    )
                data = bytes(self.chunk_bytes)
            for i in range(0, len(data), block_bytes):
                yield data[i : i + block_bytes]
        self.close()
