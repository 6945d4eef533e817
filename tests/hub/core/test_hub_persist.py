"""State → SQL: the batched flush writes every column where it belongs (first write and later updates)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from contract import CameraHealth, EdgeStatus
from devtools.services import Service
from hub.compose import open_database
from hub.core.db import Agent, Base, Camera, Database, Transition
from hub.core.persist import FlushBatch, load_registry, write_batch
from hub.core.state import StateStore

NOW = 1_763_880_000.0


def flush(db: Database, store: StateStore) -> None:
    ch = store.drain()
    batch = FlushBatch.collect(store, ch.cameras, ch.metrics, ch.agents, ch.transitions, {})
    with db.session() as s, s.begin():
        write_batch(s, batch)
    for k in batch.camera_keys:
        store.cameras[k].in_db = True
    for k in batch.agent_keys:
        store.agents[k].in_db = True


def health(ts: float, seq: int, **kw: object) -> CameraHealth:
    return CameraHealth.model_validate({"ts": ts, "seq": seq, "online": True, "agent": "box", **kw})


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """The same flush on SQLite (the driver fast path) and PostgreSQL (SQLAlchemy's path)."""
    if request.param == "sqlite":
        database = open_database(f"sqlite:///{tmp_path / 'hub.db'}")
    else:
        database = open_database(request.getfixturevalue("postgres_url"))
        Base.metadata.drop_all(database.engine)
    database.create_all()
    yield database
    database.close()


def test_flush_insert_then_metric_updates_then_reload(db: Database) -> None:
    store = StateStore(180)
    store.apply_edge_status("d", "c", "box", EdgeStatus(state="online", ts=NOW, version="2.1"), NOW)
    cam = store.camera("d", "c", "k1")
    store.apply_health(cam, health(NOW + 1, 0, fps=10.0, width=640, height=360), NOW + 1.5)
    flush(db, store)
    # Only metrics change now: the cheap UPDATE path.
    store.apply_health(
        cam,
        health(
            NOW + 31, 1, fps=12.5, brightness=80.25, sharpness=300.0, motion=2.0, open_ms=700.0, reason="slow"
        ),
        NOW + 31.5,
    )
    ch = store.changes
    assert ch.metrics == {"d/c/k1"} and not ch.cameras
    flush(db, store)
    with db.session() as s:
        row = s.get(Camera, "d/c/k1")
        assert row is not None
        got = (
            row.fps,
            row.width,
            row.height,
            row.brightness,
            row.sharpness,
            row.motion,
            row.open_ms,
            row.reason,
        )
        assert got == (12.5, None, None, 80.25, 300.0, 2.0, 700.0, "slow")
        assert row.last_seq == 1 and row.online is True and row.status == "ok"
        assert row.last_ts is not None and abs(row.last_ts.timestamp() - (NOW + 31)) < 1e-3
        assert row.last_seen is not None and abs(row.last_seen.timestamp() - (NOW + 31.5)) < 1e-3
        agent = s.get(Agent, "d/c/box")
        assert agent is not None and agent.version == "2.1" and agent.state == "online"
        assert [t.to_status for t in s.scalars(select(Transition).order_by(Transition.id))] == [
            "online",
            "ok",
        ]
        cams, agents = load_registry(s)
    again = {c.key: c for c in cams}["d/c/k1"]
    assert (again.fps, again.last_seq, again.agent_key, again.in_db) == (12.5, 1, "d/c/box", True)
    assert again.last_ts is not None and abs(again.last_ts - (NOW + 31)) < 1e-3
    assert [a.key for a in agents] == ["d/c/box"]


async def test_hub_runs_on_postgresql(postgres_url: str, mosquitto: Service, tmp_path: Path) -> None:
    """The whole hub with a PostgreSQL URL: registry, metrics, transitions and snapshots land there."""
    from hub.compose import Hub
    from hub.core.db import Snapshot
    from tests.fixtures_hub import Publisher, make_hub_config, wait_for
    from tests.hub.core.test_hub_ingest import JPEG

    clean = open_database(postgres_url)
    Base.metadata.drop_all(clean.engine)
    clean.close()
    cfg = make_hub_config(tmp_path, mosquitto.port, None)
    cfg.database.url = postgres_url
    hub = Hub(cfg)
    await hub.start()
    pub = Publisher(mosquitto.port)
    try:
        base = "ops/v1/yen_dinh/dinh_long"
        inventory = [{"id": "cam-1", "commune": "dinh_long", "name": "Cổng chợ"}]
        pub.publish(
            f"{base}/edge/box/status", {"state": "online", "ts": NOW, "version": "1", "inventory": inventory}
        )
        pub.publish(f"{base}/camera/cam-1/health", {"ts": NOW + 1, "seq": 0, "online": True, "agent": "box"})
        pub.publish(f"{base}/camera/cam-1/snapshot", JPEG)
        await wait_for(lambda: hub.stats.accepted == 3)
        await hub.flush()
        pub.publish(
            f"{base}/camera/cam-1/health",
            {"ts": NOW + 31, "seq": 1, "online": True, "fps": 9.5, "agent": "box"},
        )
        await wait_for(lambda: hub.stats.accepted == 4)
        await hub.flush()
        row = await hub.db.run(lambda s: s.get(Camera, "yen_dinh/dinh_long/cam-1"))
        assert row is not None and row.name == "Cổng chợ" and row.fps == 9.5 and row.status == "ok"
        snap = await hub.db.run(lambda s: s.get(Snapshot, "yen_dinh/dinh_long/cam-1"))
        assert snap is not None and (cfg.snapshot_dir / snap.path).read_bytes() == JPEG
        assert hub.stats.sql_errors == 0
    finally:
        pub.close()
        await hub.stop()


def test_flush_leaves_the_registrys_camera_details_alone(db: Database) -> None:
    """Point, purpose, owner and maintainer are set by people (admin, import); a status change written by the
    flush (the full-row UPDATE) keeps them."""
    store = StateStore(180)
    cam = store.camera("d", "c", "k1")
    store.apply_health(cam, health(NOW, 0, fps=10.0), NOW + 0.5)
    flush(db, store)
    with db.session() as s, s.begin():
        row = s.get(Camera, "d/c/k1")
        assert row is not None
        row.point, row.purpose, row.maintainer_phone = "cho", "traffic", "0912345678"
    store.apply_health(cam, health(NOW + 30, 1, online=False, problems=["unreachable"]), NOW + 30.5)
    assert "d/c/k1" in store.changes.cameras
    flush(db, store)
    with db.session() as s:
        row = s.get(Camera, "d/c/k1")
        assert row is not None and row.status == "offline"
        assert (row.point, row.purpose, row.maintainer_phone) == ("cho", "traffic", "0912345678")
