"""The hub's relay re-streamer: one ffmpeg per relayed airing reads the allow-listed upstream (HTTP/Icecast, HLS,
RTSP) and the hub cuts it into numbered PCM chunks on its own clock; receivers play chunk k at start_at + k·chunk_s
(the same timed start as recordings, so they stay in step with each other), fetching it from
`/relay/{airing}/{k}.pcm` during the `delay_s − chunk_s` before.

Why the hub re-streams rather than every receiver pulling the upstream: in bench/relay_sync.py six ffmpeg readers
of one live HTTP stream, started together on one machine, played the same beep 164–566 ms apart (each starts,
probes and joins the server's burst differently), an audible echo between neighbouring horns; chunks on one
timeline bring that back to the timed start of recordings (docs/BROADCAST.md "Relays"). It also means
one upstream connection per commune instead of one per horn over 4G, receivers that talk only to the hub (their
download allow-list stays the hub), and one place that watches the upstream.

The chunk clock never waits for the upstream: a chunk is cut on time with what arrived, padded with silence (or
the fallback recording during a gap, broadcast/relays/monitor.py), so the receivers' timeline never slips.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from broadcast.config import RelayConfig
from broadcast.orders import AiringOrder
from broadcast.relays.monitor import Watch, classify, rms_dbfs
from broadcast.relays.report import save_session
from hub.core.db import Database, to_db_time
from hub.core.facts import Fact, FactKind

log = logging.getLogger("broadcast.relays")
CONNECT_LEAD_S = 3.0  # the upstream is opened this long before the first chunk's window (ffmpeg probes it)
SAVE_EVERY = 5  # chunks between two writes of the session row
STDERR_MAX = 300


def ffmpeg_args(url: str, rate: int, timeout_s: float) -> list[str]:
    """ffmpeg reading one allow-listed URL to mono s16le PCM on stdout. The protocol whitelist keeps it to the
    network protocols a relay needs (an HLS playlist cannot send it to local files)."""
    us = str(int(timeout_s * 1_000_000))
    net = ["-rtsp_transport", "tcp", "-timeout", us] if url.startswith("rtsp") else ["-rw_timeout", us]
    return [
        "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error",
        "-protocol_whitelist", "http,https,tcp,tls,rtsp,rtp,udp,crypto,hls",
        *net, "-i", url, "-vn", "-ac", "1", "-ar", str(rate), "-f", "s16le", "pipe:1",
    ]  # fmt: skip


@dataclass
class Live:
    """One relay in progress, as the alert facts see it."""

    order: AiringOrder
    watch: Watch
    name: str


class RelayStreamer:
    def __init__(
        self,
        db: Database,
        root: Path,
        cfg: RelayConfig,
        media_dir: Path,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.root = root  # chunks under root/{token}/{k}.pcm
        self.cfg = cfg
        self.media_dir = media_dir  # processed MP3s by sha256: the fallback recording
        self.clock = clock
        self.live: dict[str, Live] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def chunk_count(self, order: AiringOrder) -> int:
        assert order.relay is not None
        return max(1, round(order.relay.duration_s / self.cfg.chunk_s))

    def chunk_path(self, token: str, k: int) -> Path | None:
        """The file of chunk k of the relay with this token, if it was cut (names checked by the caller)."""
        path = self.root / token / f"{k}.pcm"
        return path if path.is_file() else None

    def start(self, order: AiringOrder) -> None:
        if order.relay is None or order.airing_id in self._tasks:
            return
        task = asyncio.create_task(self._run(order), name=f"relay-{order.airing_id}")
        self._tasks[order.airing_id] = task
        task.add_done_callback(lambda _t: self._tasks.pop(order.airing_id, None))

    async def cancel(self, airing: str) -> None:
        task = self._tasks.get(airing)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def stop(self) -> None:
        for airing in list(self._tasks):
            await self.cancel(airing)

    def facts(self, now: float) -> list[Fact]:
        """RELAY_UPSTREAM_LOST for every relay whose upstream is in a gap now (alerts the commune officers)."""
        out = []
        for lv in self.live.values():
            gap = lv.watch.open_gap
            if gap is None:
                continue
            what = "mất tín hiệu" if gap.kind == "lost" else "im lặng"
            fb = "; đang phát bản dự phòng" if gap.fallback else ""
            o = lv.order
            out.append(Fact(FactKind.RELAY_UPSTREAM_LOST, o.district, o.commune, f"relay/{o.airing_id}",
                            min(gap.start, now), lv.name, f"Luồng tiếp âm {lv.name} {what}{fb}",
                            detail={"airing": o.airing_id, "kind": gap.kind, "fallback": gap.fallback}))  # fmt: skip
        return out

    # one relay ---------------------------------------------------------------------------------------------
    async def _run(self, order: AiringOrder) -> None:
        assert order.relay is not None
        cfg, spec = self.cfg, order.relay
        folder = self.root / spec.token
        await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
        chunk_bytes = round(cfg.rate_hz * cfg.chunk_s) * 2
        t0 = order.start_at - cfg.delay_s  # chunk k holds what the upstream sent in [t0 + k·c, t0 + (k+1)·c)
        fallback = await self._fallback(spec.fallback.sha256, cfg.rate_hz) if spec.fallback else None
        watch = Watch(cfg.chunk_s, cfg.gap_after_s)
        self.live[order.airing_id] = Live(order, watch, spec.name)
        buf = bytearray()
        reader: asyncio.Task[None] | None = None
        try:
            await asyncio.sleep(max(0.0, t0 - CONNECT_LEAD_S - self.clock()))
            reader = asyncio.create_task(self._read(spec.url, buf, chunk_bytes * 3, order.airing_id))
            await asyncio.sleep(max(0.0, t0 - self.clock()))
            del buf[
                : max(0, len(buf) - chunk_bytes)
            ]  # what came while connecting: only the live edge is kept
            await self._chunks(order, t0, buf, chunk_bytes, fallback, watch, folder)
        finally:
            if reader is not None:
                reader.cancel()
                await asyncio.gather(reader, return_exceptions=True)
            self.live.pop(order.airing_id, None)
            asyncio.get_running_loop().call_later(cfg.keep_chunks_s, _remove, folder)

    async def _chunks(
        self, order: AiringOrder, t0: float, buf: bytearray, chunk_bytes: int, fallback: bytes | None,
        watch: Watch, folder: Path,
    ) -> None:  # fmt: skip
        """Cuts a chunk every chunk_s on the hub's clock, whatever the upstream does."""
        cfg, airing = self.cfg, order.airing_id
        n = self.chunk_count(order)
        started = to_db_time(self.clock())
        log.info(
            "relay %s: %s, %d chunks of %.1f s",
            airing,
            order.relay.url if order.relay else "",
            n,
            cfg.chunk_s,
        )
        fb_pos = 0
        for k in range(n):
            await asyncio.sleep(max(0.0, t0 + (k + 1) * cfg.chunk_s - self.clock()))
            got = bytes(buf[:chunk_bytes])
            del buf[:chunk_bytes]
            state = classify(len(got), chunk_bytes, rms_dbfs(got), cfg.silence_dbfs)
            use_fb, began, ended = watch.step(order.start_at + k * cfg.chunk_s, state, fallback is not None)
            if began is not None:
                log.warning("relay %s: upstream %s since chunk %d", airing, began.kind, k)
            if ended is not None:
                log.info(
                    "relay %s: upstream back at chunk %d (gap %.1f s)",
                    airing,
                    k,
                    (ended.end or 0) - ended.start,
                )
            if use_fb and fallback:
                out = loop_slice(fallback, fb_pos, chunk_bytes)
                fb_pos = (fb_pos + chunk_bytes) % len(fallback)
            else:
                out = got + bytes(chunk_bytes - len(got))
            await asyncio.to_thread(_write_chunk, folder, k, out)
            if k % SAVE_EVERY == 0:
                await self._save(order, watch, started, None)
        watch.close(order.start_at + n * cfg.chunk_s)
        await self._save(order, watch, started, to_db_time(self.clock()))
        log.info("relay %s over: %.0f s relayed, %.0f s of gaps", airing, watch.relayed_s, watch.gap_s)

    async def _fallback(self, sha256: str, rate: int) -> bytes | None:
        """The fallback recording as PCM at the chunks' rate (decoded once per relay)."""
        proc = await asyncio.create_subprocess_exec(
            "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-f", "mp3",
            "-i", str(self.media_dir / f"{sha256}.mp3"), "-ac", "1", "-ar", str(rate), "-f", "s16le", "pipe:1",
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await proc.communicate()
        if proc.returncode != 0 or len(out) < 2:
            log.error("relay fallback %s not decoded: %s", sha256, err[-STDERR_MAX:].decode(errors="replace"))
            return None
        return out[: len(out) - len(out) % 2]

    async def _read(self, url: str, buf: bytearray, cap: int, airing: str) -> None:
        """Keeps ffmpeg reading the upstream into `buf` (at most `cap` bytes: the live edge is kept), reopening
        it after `reconnect_s` whenever it ends."""
        while True:
            proc = await asyncio.create_subprocess_exec(
                *ffmpeg_args(url, self.cfg.rate_hz, self.cfg.open_timeout_s),
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            assert proc.stdout is not None and proc.stderr is not None
            try:
                while data := await proc.stdout.read(16384):
                    buf += data
                    if len(buf) > cap:
                        del buf[: len(buf) - cap]
                err = (await proc.stderr.read())[-STDERR_MAX:].decode(errors="replace").strip()
                await proc.wait()
                log.warning(
                    "relay %s: upstream ended (ffmpeg %s: %s); reopening", airing, proc.returncode, err
                )
            finally:
                if proc.returncode is None:
                    proc.kill()
                    with contextlib.suppress(ProcessLookupError):
                        await proc.wait()
            await asyncio.sleep(self.cfg.reconnect_s)

    async def _save(self, order: AiringOrder, watch: Watch, started: object, ended: object) -> None:
        try:
            await self.db.run(lambda s: save_session(s, order, watch, started, ended))
        except Exception as exc:  # the relay goes on; the report is written again at the next save
            log.error("relay %s: report not saved: %r", order.airing_id, exc)


def loop_slice(data: bytes, pos: int, n: int) -> bytes:
    """`n` bytes of `data` from `pos`, starting again at its beginning when it ends (a fallback on repeat)."""
    out = data[pos : pos + n]
    while len(out) < n:
        out += data[: n - len(out)]
    return out


def _write_chunk(folder: Path, k: int, data: bytes) -> None:
    tmp = folder / f".{k}.tmp"
    tmp.write_bytes(data)
    tmp.replace(folder / f"{k}.pcm")  # a receiver never reads half a chunk


def _remove(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
