"""Live audio end to end below the hub: chunks from a simulated phone → ffmpeg → snapserver → two snapclients
writing to files; the recording of what went out; the session's end rules."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

from broadcast.live.engine import EngineSettings, LiveEngine
from broadcast.live.session import EndReason, LiveLimits, LiveSession
from broadcast.receiver.live_player import LivePlayer, LiveTarget
from devtools.services import free_port
from tests.live_support import chunks, phone_webm, read_s16_stereo, send_paced, tone_power


def test_session_ends_on_drop_limit_and_once() -> None:
    s = LiveSession("l1", 1000.0, LiveLimits(grace_s=10, max_duration_s=60))
    assert s.due_end(1009.0) is None  # nothing yet, still within the grace
    assert s.due_end(1010.5) is EndReason.DROPPED
    s.audio(100, 1010.0)
    assert s.due_end(1019.9) is None and s.chunks == 1 and s.bytes_in == 100
    s.audio(100, 1055.0)
    assert s.due_end(1060.0) is EndReason.TIME_LIMIT
    assert s.end(EndReason.STOPPED, 1056.0) and not s.end(EndReason.DROPPED, 1057.0)
    assert s.due_end(1100.0) is EndReason.STOPPED
    assert 0.05 <= s.next_check_in(1056.0) <= 4.1


def test_phone_to_two_receivers_and_recording(tmp_path: Path) -> None:
    seconds, chunk_s = 3.0, 0.25
    data = phone_webm(tmp_path / "phone.webm", seconds, marker_at=1.0)
    parts = chunks(data, seconds, chunk_s)
    out = [tmp_path / "r1.raw", tmp_path / "r2.raw"]

    async def run() -> Path | None:
        engine = LiveEngine(
            tmp_path / "live", EngineSettings(free_port(), free_port(), bind="127.0.0.1", buffer_ms=500)
        )
        await engine.start()
        players = [
            LivePlayer(
                LiveTarget("127.0.0.1", engine.settings.stream_port, f"loa-{i}", f"file:filename={p}"), i + 1
            )
            for i, p in enumerate(out)
        ]
        try:
            for p in players:
                await p.start()
            for _ in range(100):
                if sum(c["connected"] for c in await engine.clients()) == 2:
                    break
                await asyncio.sleep(0.1)
            assert {c["id"] for c in await engine.clients() if c["connected"]} == {"loa-0", "loa-1"}
            await engine.begin_session(tmp_path / "rec" / "live.webm")
            await send_paced(parts, chunk_s, engine.feed)
            rec = await engine.end_session()
            await asyncio.sleep(1.5)  # the buffer plays out
            return rec
        finally:
            for p in players:
                await p.stop()
            await engine.stop()

    rec = asyncio.run(run())
    for p in out:
        pcm = read_s16_stereo(p)
        # the receiver played the base tone and the marker, not just Snapcast's silence
        windows = [pcm[i : i + 4800] for i in range(0, len(pcm) - 4800, 2400)]
        base = [tone_power(w, 440) for w in windows]
        marker = [tone_power(w, 2000) for w in windows]
        assert sum(b > 0.1 for b in base) >= 20, p  # ≥ 1 s of the phone's tone
        assert max(marker) > 0.15, p
    assert rec is not None
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(rec)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert float(probe.stdout.strip()) > seconds - 0.5


def test_live_waits_for_a_higher_priority_and_preempts_the_rest() -> None:
    from broadcast.live.priority import blocking_airing

    prio = {"airing_id": "a1", "title": "Tin khẩn", "district": "d", "commune": "c", "speakers": ["loa-1"],
            "items": [{"duration_s": 60.0}], "repeats": 1, "gap_s": 0.0, "start_at": 1000.0, "priority": "priority"}  # fmt: skip
    assert blocking_airing("normal", "d", "c", ["loa-1", "loa-2"], [prio], 1030.0) == prio
    assert blocking_airing("priority", "d", "c", ["loa-1"], [prio], 1030.0) is None  # same level: preempted
    assert blocking_airing("normal", "d", "c", ["loa-2"], [prio], 1030.0) is None  # other speakers
    assert blocking_airing("normal", "d", "c", ["loa-1"], [prio], 1061.0) is None  # over
    assert blocking_airing("normal", "d", "x", ["loa-1"], [prio], 1030.0) is None  # other commune


def test_service_restarts_a_dead_snapserver_and_signs_orders_per_speaker(tmp_path: Path) -> None:
    from broadcast.live.config import LiveConfig
    from broadcast.live.service import LiveService, LiveTargets
    from contract import LiveData, Model, StopData, Topic

    sent: list[tuple[str, Model]] = []

    async def send(topic: Topic, order: Model) -> None:
        sent.append((str(topic), order))

    async def run() -> None:
        cfg = LiveConfig(enabled=True, stream_port=free_port(), control_port=free_port(), bind="127.0.0.1")
        svc = LiveService(cfg, tmp_path, send)
        await svc.start()
        assert svc.engine.running and svc.engine._server is not None
        svc.engine._server.kill()
        await svc.engine._server.wait()
        assert not svc.engine.running
        t = LiveTargets("yen-dinh", "dinh-long", ("loa-1", "loa-2"), "priority", "chutich")
        session = await svc.open(t)
        assert svc.engine.running  # started again for the session
        await svc.end(EndReason.STOPPED)
        await svc.wait_ended(session)
        await svc.stop()

    asyncio.run(run())
    orders = [o.data for _, o in sent]  # type: ignore[attr-defined]
    assert [type(d) for d in orders] == [LiveData, LiveData, StopData, StopData]
    assert {topic.split("/")[5] for topic, _ in sent} == {"loa-1", "loa-2"}
    assert orders[0].priority == "priority" and orders[0].port == orders[1].port
