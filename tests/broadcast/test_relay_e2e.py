"""A relay end to end: a local upstream (ffmpeg serving a live MP3 over HTTP on loopback), the real hub with its
web app re-streaming it, two real receiver processes playing into WAV files. The upstream is stopped, then
silenced, then back: the gap is logged, alerted to the officers' path (a RELAY_UPSTREAM_LOST fact, an alert),
filled by the fallback recording, and reported; both receivers played the same audio on the same timeline."""

from __future__ import annotations

import asyncio
import time
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
from aiohttp import web
from sqlalchemy import select

from broadcast.airings.models import AiringReceipt
from broadcast.config import DispatchConfig, RelayConfig
from broadcast.content.models import BroadcastContent
from broadcast.orders import AiringOrder, PlayItem, Priority, RelaySpec
from broadcast.relays.dispatch import RelayingDispatcher
from broadcast.relays.report import relay_report
from devtools.services import Service, free_port
from hub.alerts.config import RuleSettings
from hub.compose import Hub, create_app
from hub.core.auth import Principal
from hub.core.facts import FactKind
from tests.fixtures_hub import make_hub_config, wait_for
from tests.receiver_support import COMMUNE, DISTRICT, ReceiverProcess, make_mp3, write_config
from tests.relay_support import Upstream

SPEAKERS = ("loa-1", "loa-2")


@pytest.fixture
async def hub(tmp_path: Path, mosquitto: Service) -> AsyncIterator[tuple[Hub, PlayItem]]:
    cfg = make_hub_config(tmp_path, mosquitto.port, None)
    port = free_port()
    cfg.http.port, cfg.http.public_url = port, f"http://127.0.0.1:{port}"
    cfg.broadcast.dispatch = DispatchConfig(answer_margin_s=1.5, finish_margin_s=1)
    cfg.broadcast.relay = RelayConfig(chunk_s=0.5, delay_s=2.5, gap_after_s=1.5, reconnect_s=0.3)
    cfg.alerts.startup_grace_s, cfg.alerts.eval_interval_s = 0, 0.2
    cfg.alerts.rules[FactKind.RELAY_UPSTREAM_LOST] = RuleSettings(for_s=0, clear_s=0, group_wait_s=0)
    media = cfg.broadcast.content.directory(cfg.data_dir) / "media"
    media.mkdir(parents=True)
    info = make_mp3(tmp_path / "fb.mp3", 2.0, freq=880)
    (tmp_path / "fb.mp3").rename(media / f"{info['sha256']}.mp3")
    h = Hub(cfg)
    await h.start()
    with h.db.session() as s, s.begin():
        row = BroadcastContent(
            district=DISTRICT, commune=COMMUNE, title="Nhạc chờ", source="upload", original_path="x",
            path=f"media/{info['sha256']}.mp3", sha256=info["sha256"], size=info["size"], duration_s=2.0,
            loudness_lufs=-16.0, true_peak_dbtp=-1.5, created_by="test",
        )  # fmt: skip
        s.add(row)
        s.flush()
        fallback = PlayItem(row.id, info["sha256"], info["size"], 2.0, "Nhạc chờ")
    runner = web.AppRunner(create_app(cfg, h.db, h.events, h.stats.snapshot, hub=h))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield h, fallback
    finally:
        await runner.cleanup()
        await h.stop()


def wav(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64) / 32768


def level(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x**2))) if len(x) else 0.0


async def test_relay_with_upstream_lost_silenced_and_back(
    hub: tuple[Hub, PlayItem], mosquitto: Service, tmp_path: Path
) -> None:
    h, fallback = hub
    base = h.config.http.public_url
    procs = {}
    for sp in SPEAKERS:
        d = tmp_path / sp
        d.mkdir()
        conf = write_config(d / "receiver.yaml", sp, mosquitto.port, [f"{base}/media/", f"{base}/relay/"],
                            {"type": "file", "path": "played/{airing}.wav"}, hub_public_key=h.signer.public_pem())  # fmt: skip
        procs[sp] = ReceiverProcess(conf, d / "receiver.log")
    upstream = Upstream()
    upstream.play("tone")
    try:
        reg = h.broadcast.speakers
        await wait_for(
            lambda: sum(1 for s in reg.speakers.values() if s.online) == 2, 30, "2 receivers online"
        )
        start = time.time() + 4.0
        relay = RelaySpec(1, "VOV thử", upstream.url, 14.0, fallback)
        order = AiringOrder("relay-1", 1, "Tiếp âm thử", DISTRICT, COMMUNE, SPEAKERS, (), 1, 0.0, start,
                            Priority.NORMAL, relay)  # fmt: skip
        await RelayingDispatcher(
            h.broadcast.dispatcher, h.broadcast.relays, h.config.broadcast.relay
        ).dispatch(order)

        # 2.5 s of tone on air, then the station drops off: after gap_after_s the gap is alerted
        await asyncio.sleep(max(0.0, start + 2.5 - time.time()))
        upstream.stop()
        facts = await wait_for(lambda: h.broadcast.relays.facts(time.time()), 8, "relay gap fact")
        assert facts[0].kind == FactKind.RELAY_UPSTREAM_LOST and "VOV thử" in facts[0].summary
        assert "dự phòng" in facts[0].summary
        await wait_for(
            lambda: any(a.kind == FactKind.RELAY_UPSTREAM_LOST and a.status == "firing"
                        for a in h.alerts.alerts.values()), 5, "alert firing",
        )  # fmt: skip
        upstream.play("silence")  # back, but silent: still a gap
        await asyncio.sleep(1.5)
        assert h.broadcast.relays.facts(time.time())
        upstream.play("tone")
        await wait_for(lambda: not h.broadcast.relays.live or not h.broadcast.relays.facts(time.time()), 12,
                       "gap over")  # fmt: skip

        def done() -> dict | None:  # type: ignore[type-arg]
            with h.db.session() as s:
                r = relay_report(s, Principal(1, "admin", None, "admin", None, None, "session"), "relay-1")
            return r if r is not None and r["status"] in ("aired", "partial", "failed") else None

        report = await wait_for(done, 30, "relay totalled")
        assert report["status"] == "aired" and report["speakers_played"] == list(SPEAKERS)
        assert 0 < report["minutes_relayed"] * 60 < 14.0 and report["gap_minutes"] > 0
        assert report["fallback_minutes"] > 0
        with h.db.session() as s:
            levels = [
                r.level_dbfs
                for r in s.scalars(select(AiringReceipt).where(AiringReceipt.airing_id == "relay-1"))
            ]
        assert len(levels) == 2 and all(
            v is not None and -60 < v < -3 for v in levels
        )  # what went to the amplifiers
        gap = report["gaps"][0]
        assert gap["kind"] == "lost" and gap["fallback"] is True and gap["end"] is not None
    finally:
        upstream.stop()
        for p in procs.values():
            if p.proc.poll() is None:
                p.stop()
    a, b = (wav(tmp_path / sp / "played" / "relay-1.wav") for sp in SPEAKERS)
    # Same chunks on the same timeline: the two horns sent the same samples (before the fallback's 880 Hz).
    n = min(len(a), len(b))
    assert n > 48000 * 8
    same = np.isclose(a[:n], b[:n], atol=2 / 32768).mean()
    assert same > 0.95, same
    first = a[: 48000 * 2]
    assert level(first) > 0.02  # the tone went out
