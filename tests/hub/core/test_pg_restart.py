"""PostgreSQL restarted: idle, the hub's next transaction takes a live connection (the pooled ones are tested);
under load, the flush cut mid-way is retried, nothing is acknowledged before it commits, and every message is in
SQL once (no transition lost or twice)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from devtools.pgserver import PgServer, start_postgres
from devtools.services import Service
from hub.compose import Hub
from hub.core.config import DatabaseConfig
from hub.core.db import Camera, Transition
from tests.fixtures_hub import Publisher, make_hub_config, wait_for

N = 1500
CAMERAS = 10


@pytest.fixture
def pg() -> Iterator[PgServer]:
    server = start_postgres(max_connections=50)  # this test's own server: it gets restarted
    yield server
    server.remove()


async def test_postgres_restart_under_load_loses_nothing(
    tmp_path: Path, mosquitto: Service, pg: PgServer
) -> None:
    cfg = make_hub_config(tmp_path, mosquitto.port, None)
    cfg.database = DatabaseConfig(url=pg.url)
    hub = Hub(cfg)
    await hub.start()
    pub = Publisher(mosquitto.port)
    t0 = time.time() - 3600
    topic = "ops/v1/yen_dinh/dinh_long/camera/cam-{}/health"

    def send(i: int) -> None:
        body = f'{{"ts":{t0 + i},"seq":{i},"online":{"true" if (i // CAMERAS) % 2 == 0 else "false"}}}'
        pub.client.publish(topic.format(i % CAMERAS), body, qos=1)

    def stream() -> None:
        for i in range(1, N):
            send(i)
            if i % 50 == 0:
                time.sleep(0.02)

    async def transitions() -> int:
        return int(await hub.db.run(lambda s: s.scalar(select(func.count()).select_from(Transition)) or 0))

    try:
        send(0)
        await wait_for(
            lambda: hub.stats.sql_flushes >= 1 and not hub.store.changes.transitions, what="a flush"
        )
        pg.restart()  # idle: every pooled connection is dead now
        cameras = await hub.db.run(lambda s: s.scalar(select(func.count()).select_from(Camera)))
        assert cameras == 1 and hub.stats.sql_errors == 0

        sender = threading.Thread(target=stream, daemon=True)
        sender.start()
        flushes = hub.stats.sql_flushes
        await wait_for(lambda: hub.stats.sql_flushes >= flushes + 3, what="flushes under load")
        pg.restart()  # fast shutdown: the hub's connections are cut mid-stream
        sender.join(60)
        await wait_for(lambda: hub.stats.accepted >= N, within=30, what="every message ingested")
        await hub.flush()
        assert await transitions() == N
        rows = await hub.db.run(lambda s: s.execute(select(Transition.subject_key, Transition.at)).all())
        assert len(set(rows)) == N
        last = await hub.db.run(lambda s: dict(s.execute(select(Camera.key, Camera.last_seq)).all()))
        assert last == {f"yen_dinh/dinh_long/cam-{c}": N - CAMERAS + c for c in range(CAMERAS)}
        assert not hub.sql_failing
    finally:
        pub.close()
        await hub.stop()
