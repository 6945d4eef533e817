"""Live on the receiver: two receiver agents obey a signed `live` order by playing the hub's Snapcast stream
(fed by the live engine from a simulated phone) into their file sinks; one is stopped by a person's `stop`,
the other ends at the order's `until`; an order naming another host is refused."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from broadcast.live.engine import EngineSettings, LiveEngine
from devtools.services import Service, free_port
from tests.edge_support import Recorder
from tests.live_support import chunks, phone_webm, read_s16_stereo, send_paced, tone_power
from tests.receiver_support import ReceiverProcess, Speaker, write_config

IDS = ("loa-live-1", "loa-live-2")


@pytest.fixture
def receivers(mosquitto: Service, tmp_path: Path) -> Iterator[list[tuple[Speaker, ReceiverProcess, Path]]]:
    rec = Recorder(mosquitto.port)
    out: list[tuple[Speaker, ReceiverProcess, Path]] = []
    try:
        for rid in IDS:
            d = tmp_path / rid
            d.mkdir()
            cfg = write_config(
                d / "receiver.yaml", rid, mosquitto.port, ["http://127.0.0.1:9/media/"],
                {"type": "file", "path": "played/{airing}.wav"},
            )  # fmt: skip
            out.append((Speaker(rec, rid), ReceiverProcess(cfg, d / "receiver.log"), d))
        for speaker, _, _ in out:
            rec.wait_for("online", lambda _, s=speaker: any(x.state == "online" for x in s.statuses()), 30)
        yield out
    finally:
        for _, proc, _ in out:
            if proc.proc.poll() is None:
                proc.stop()
        rec.close()


def test_live_order_plays_the_stream_and_ends(
    receivers: list[tuple[Speaker, ReceiverProcess, Path]], tmp_path: Path
) -> None:
    seconds, chunk_s = 3.0, 0.25
    parts = chunks(phone_webm(tmp_path / "phone.webm", seconds), seconds, chunk_s)
    (s1, p1, d1), (s2, p2, d2) = receivers

    async def run() -> None:
        engine = LiveEngine(
            tmp_path / "hub", EngineSettings(free_port(), free_port(), bind="127.0.0.1", buffer_ms=500)
        )
        await engine.start()
        try:
            order = {"airing": "live-1", "host": "127.0.0.1", "port": engine.settings.stream_port,
                     "priority": "emergency"}  # fmt: skip
            s1.send("live", {**order, "until": time.time() + 60})
            s2.send("live", {**order, "until": time.time() + 8})
            for s in (s1, s2):
                await asyncio.to_thread(s.event, "live-1", "started")
            for _ in range(100):
                if {c["id"] for c in await engine.clients() if c["connected"]} == set(IDS):
                    break
                await asyncio.sleep(0.1)
            await engine.begin_session(tmp_path / "live.webm")
            await send_paced(parts, chunk_s, engine.feed)
            assert await engine.end_session() is not None
            await asyncio.sleep(1.5)
            tx = s1.send("stop", {})  # a person stopping whatever plays
            stopped = await asyncio.to_thread(s1.end_of, "live-1")
            assert stopped.event == "stopped" and stopped.transaction != tx  # the session's own transaction
            assert stopped.data.reason is not None and stopped.data.reason.value == "command"
            finished = await asyncio.to_thread(s2.end_of, "live-1")
            assert finished.event == "finished" and finished.data.played_s is not None
            # the receiver shows in Snapcast's list no more
            for _ in range(50):
                if not any(c["connected"] for c in await engine.clients()):
                    break
                await asyncio.sleep(0.1)
            assert not any(c["connected"] for c in await engine.clients())
        finally:
            await engine.stop()

    asyncio.run(run())
    for d in (d1, d2):
        pcm = read_s16_stereo(d / "played" / "live-1.live.raw")
        windows = [pcm[i : i + 4800] for i in range(0, len(pcm) - 4800, 2400)]
        assert sum(tone_power(w, 440) > 0.1 for w in windows) >= 20
        assert max(tone_power(w, 2000) for w in windows) > 0.15

    # another host than the hub's: refused, answered
    s1.send("live", {"airing": "live-2", "host": "10.9.9.9", "port": 1704, "until": time.time() + 30,
                     "priority": "normal"})  # fmt: skip
    failed = s1.end_of("live-2")
    assert failed.event == "failed" and failed.data.reason is not None
    assert failed.data.reason.value == "host_not_allowed"
    assert p1.stop() == 0 and p2.stop() == 0
