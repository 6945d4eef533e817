"""End to end: a real hub (MQTT, SQL, its web app serving /media) and real receiver processes
(`python -m broadcast.receiver`, null sink) on a real Mosquitto. One receiver is switched off before air time and
is reported as such; an emergency interrupts a normal programme on one speaker and the programme's fate shows."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy import select

from broadcast.airings.models import Airing, AiringReceipt
from broadcast.config import DispatchConfig
from broadcast.content.models import BroadcastContent
from broadcast.orders import AiringOrder, PlayItem, Priority
from devtools.services import Service, free_port
from hub.compose import Hub, create_app
from tests.fixtures_hub import make_hub_config, wait_for
from tests.receiver_support import COMMUNE, DISTRICT, ReceiverProcess, make_mp3, write_config

SPEAKERS = ("loa-1", "loa-2", "loa-3")


@pytest.fixture
async def running(tmp_path: Path, mosquitto: Service) -> AsyncIterator[tuple[Hub, PlayItem]]:
    cfg = make_hub_config(tmp_path, mosquitto.port, None)
    port = free_port()
    cfg.http.port, cfg.http.public_url = port, f"http://127.0.0.1:{port}"
    cfg.broadcast.dispatch = DispatchConfig(answer_margin_s=1.5, finish_margin_s=1)
    media = cfg.broadcast.content.directory(cfg.data_dir) / "media"
    media.mkdir(parents=True)
    tmp_mp3 = tmp_path / "tone.mp3"
    info = make_mp3(tmp_mp3, 1.5)
    tmp_mp3.rename(media / f"{info['sha256']}.mp3")
    h = Hub(cfg)
    await h.start()
    with h.db.session() as s, s.begin():
        row = BroadcastContent(
            district=DISTRICT, commune=COMMUNE, title="Tiếng bíp thử", source="upload", original_path="x",
            path=f"media/{info['sha256']}.mp3", sha256=info["sha256"], size=info["size"], duration_s=1.5,
            loudness_lufs=-16.0, true_peak_dbtp=-1.5, created_by="test",
        )  # fmt: skip
        s.add(row)
        s.flush()
        item = PlayItem(row.id, info["sha256"], info["size"], 1.5, "Tiếng bíp thử")
    runner = web.AppRunner(create_app(cfg, h.db, h.events, h.stats.snapshot, hub=h))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield h, item
    finally:
        await runner.cleanup()
        await h.stop()


@pytest.fixture
def receivers(
    tmp_path: Path, mosquitto: Service, running: tuple[Hub, PlayItem]
) -> Iterator[dict[str, ReceiverProcess]]:
    hub = running[0]
    procs = {}
    for sp in SPEAKERS:
        d = tmp_path / sp
        d.mkdir()
        conf = write_config(
            d / "receiver.yaml", sp, mosquitto.port, [f"{hub.config.http.public_url}/media/"], {"type": "null"},
            hub_public_key=hub.signer.public_pem(),
        )  # fmt: skip
        procs[sp] = ReceiverProcess(conf, d / "receiver.log")
    yield procs
    for p in procs.values():
        if p.proc.poll() is None:
            p.stop()


def _order(airing: str, speakers: tuple[str, ...], item: PlayItem, start_at: float, repeats: int = 1,
           prio: Priority = Priority.NORMAL) -> AiringOrder:  # fmt: skip
    return AiringOrder(
        airing, 1, "Thông báo thử", DISTRICT, COMMUNE, speakers, (item,), repeats, 0.5, start_at, prio
    )


def _airing(h: Hub, airing_id: str) -> tuple[Airing, dict[str, AiringReceipt]]:
    with h.db.session() as s:
        a = s.get(Airing, airing_id)
        assert a is not None
        q = select(AiringReceipt).where(AiringReceipt.airing_id == airing_id)
        return a, {r.speaker_key.rsplit("/", 1)[1]: r for r in s.scalars(q)}


def _done(h: Hub, airing_id: str, status: str) -> tuple[Airing, dict[str, AiringReceipt]] | None:
    a, rs = _airing(h, airing_id)
    return (a, rs) if a.status == status else None


async def test_offline_speaker_and_emergency_with_real_receivers(
    running: tuple[Hub, PlayItem], receivers: dict[str, ReceiverProcess]
) -> None:
    hub, item = running
    reg = hub.broadcast.speakers
    await wait_for(lambda: sum(1 for s in reg.speakers.values() if s.online) == 3, 30, "3 receivers online")
    assert reg.get(f"{DISTRICT}/{COMMUNE}/loa-1").village == "thon-1"  # registered on first contact
    assert receivers["loa-3"].stop() == 0  # switched off before air time
    await wait_for(lambda: reg.get(f"{DISTRICT}/{COMMUNE}/loa-3").status == "offline", 15, "loa-3 offline")

    await hub.broadcast.dispatcher.dispatch(_order("e2e-1", SPEAKERS, item, time.time() + 3))
    found = await wait_for(lambda: _done(hub, "e2e-1", "partial"), 30, "airing totalled as partial")
    a, rs = found
    assert (a.played, a.targeted) == (2, 3)
    assert rs["loa-3"].state == "no_answer" and rs["loa-3"].error == "loa mất kết nối"
    for sp in ("loa-1", "loa-2"):
        r = rs[sp]
        assert r.state == "finished" and r.ready_at is not None and r.started_offset_ms is not None
        assert r.played_s is not None and r.played_s > 1.0
    assert a.skew_ms is not None
    assert isinstance(a.finished_at, datetime)

    # a normal programme of 2 × 1.5 s on two speakers, interrupted on loa-1 by an emergency
    await hub.broadcast.dispatcher.dispatch(
        _order("e2e-2", ("loa-1", "loa-2"), item, time.time() + 2.5, repeats=2)
    )
    await wait_for(lambda: _airing(hub, "e2e-2")[1]["loa-1"].started_at, 20, "normal programme playing")
    await hub.broadcast.dispatcher.dispatch(
        _order("khan-cap", ("loa-1",), item, time.time() + 0.5, prio=Priority.EMERGENCY)
    )
    e, ers = await wait_for(lambda: _done(hub, "khan-cap", "aired"), 30, "emergency aired")
    assert (e.played, e.targeted, ers["loa-1"].state) == (1, 1, "finished")
    n, nrs = await wait_for(lambda: _done(hub, "e2e-2", "interrupted"), 30, "normal programme interrupted")
    assert n.interrupted_by == "khan-cap" and n.played == 2
    assert nrs["loa-1"].state == "stopped" and "khẩn cấp" in (nrs["loa-1"].error or "")
    assert nrs["loa-2"].state == "finished"
