"""Helpers for the live tests on a whole hub (no tests here): a hub with `broadcast.live` enabled serving its web
app, its speakers in SQL, receiver processes with file sinks, and a signed-in approver's session cookie."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web

from broadcast.config import DispatchConfig
from broadcast.live.config import LiveConfig
from devtools.services import free_port
from hub.compose import Hub, create_app
from hub.core import auth
from hub.core.speaker_models import Speaker
from tests.fixtures_hub import make_hub_config
from tests.receiver_support import COMMUNE, DISTRICT, ReceiverProcess, write_config

PASSWORD = "mat-khau-dai-1"


@asynccontextmanager
async def live_hub(tmp_path: Path, mqtt_port: int, speakers: tuple[str, ...]) -> AsyncIterator[Hub]:
    cfg = make_hub_config(tmp_path, mqtt_port, None)
    port = free_port()
    cfg.http.port, cfg.http.public_url = port, f"http://127.0.0.1:{port}"
    cfg.broadcast.live = LiveConfig(
        enabled=True, stream_port=free_port(), control_port=free_port(), bind="127.0.0.1", buffer_ms=500,
        grace_s=2,
    )  # fmt: skip
    cfg.broadcast.dispatch = DispatchConfig(answer_margin_s=3, finish_margin_s=1)
    h = Hub(cfg)
    await h.start()
    with h.db.session() as s, s.begin():
        for sp in speakers:
            s.add(Speaker(key=f"{DISTRICT}/{COMMUNE}/{sp}", district=DISTRICT, commune=COMMUNE, slug=sp,
                          village="thon-1"))  # fmt: skip
        auth.add_user(s, "chutich", auth.hash_password(PASSWORD), "approver", district=DISTRICT, commune=COMMUNE,
                      full_name=None, now=datetime.now(UTC).replace(tzinfo=None))  # fmt: skip
    runner = web.AppRunner(create_app(cfg, h.db, h.events, h.stats.snapshot, hub=h))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield h
    finally:
        await runner.cleanup()
        await h.stop()


@contextmanager
def live_receivers(
    tmp_path: Path, mqtt_port: int, h: Hub, speakers: tuple[str, ...]
) -> Iterator[dict[str, Path]]:
    procs, dirs = [], {}
    try:
        for sp in speakers:
            d = tmp_path / sp
            d.mkdir()
            conf = write_config(
                d / "receiver.yaml", sp, mqtt_port, [f"{h.config.http.public_url}/media/"],
                {"type": "file", "path": "played/{airing}.wav"}, hub_public_key=h.signer.public_pem(),
            )  # fmt: skip
            procs.append(ReceiverProcess(conf, d / "receiver.log"))
            dirs[sp] = d
        yield dirs
    finally:
        for p in procs:
            if p.proc.poll() is None:
                p.stop()


def live_cookie(h: Hub) -> dict[str, str]:
    with h.db.session() as s, s.begin():
        u = auth.get_user(s, "chutich")
        assert u is not None
        cookie, _ = auth.create_session(s, u.id, datetime.now(UTC).replace(tzinfo=None), 8)
    return {"ops_session": cookie}
