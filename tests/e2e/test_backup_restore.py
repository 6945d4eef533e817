"""The restore drill: a running hub fed over MQTT (cameras, transitions, a snapshot, InfluxDB points) with users,
a programme and its audio, backed up while it runs, wiped, restored with `python -m hub restore`, and the same
data served again: through the API, the media route, a password login and InfluxDB. On SQLite and PostgreSQL.
A damaged set and a restore over data are refused before anything changes."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text

from broadcast.content.models import BroadcastContent
from broadcast.programmes.models import Programme, ProgrammeItem
from devtools.services import Service, influx_query, start_influxd
from hub.cli import main
from hub.compose import Hub, create_app, load_config, open_database
from hub.core import auth
from hub.core.config import CoreConfig
from hub.core.events import EventBus
from hub.migrations import schema
from tests.fixtures_hub import Publisher, wait_for

PASSWORD = "mat-khau-dung-123"
NOW = 1_763_880_000.0
BASE = "ops/v1/yen_dinh/dinh_long"
MP3 = b"ID3\x03" + bytes(range(256)) * 40  # the bytes matter, not that they play
ORIGINAL = b"RIFF" + bytes(range(200)) * 30


@pytest.fixture(scope="module")
def influxd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """An InfluxDB of the drill's own: its restore rewrites the server's metadata over RPC, which must not race
    the other test files sharing a worker's server."""
    svc = start_influxd(tmp_path_factory.mktemp("influxd-restore"))
    yield svc
    svc.stop()


def influx_rpc(influxd: Service) -> str:
    """influxd's RPC address, from the config the fixture wrote (backup and restore speak to it)."""
    conf = (influxd.workdir / "influxdb.conf").read_text()
    found = re.search(r'^bind-address = "([^"]+)"', conf, re.M)
    assert found
    return found.group(1)


def write_config(tmp_path: Path, url: str, mqtt_port: int, influx: Service, influx_db: str) -> str:
    path = tmp_path / "hub.yaml"
    path.write_text(
        f"data_dir: {tmp_path / 'data'}\nhttp: {{secure_cookies: false}}\n"
        f"mqtt: {{port: {mqtt_port}, client_id: drill-hub}}\n"
        # The drill's points carry a fixed date (NOW, a year back): keep raw points long enough to hold them.
        f"influx: {{url: '{influx.url}', database: {influx_db}, flush_interval_s: 0.2,"
        " retention: {raw_days: 3650, m5_days: 3650, h1_days: 3650}}\n"
        f"database: {{url: '{url}', auto_upgrade: true}}\n"
        # Hand-made reports of a fixed date and no box: the legacy rules and a long age limit accept them.
        "ingest: {state_flush_s: 0.2, legacy_reports: true, max_age_s: 630720000}\n"
    )
    return str(path)


async def feed(hub: Hub, mosquitto: Service, config: CoreConfig) -> str:
    """Cameras over MQTT as the edge agent sends them, then people, a programme and its audio. Returns the
    audio's sha256."""
    pub = Publisher(mosquitto.port)
    try:
        inventory = [{"id": "cong-cho", "commune": "dinh_long", "name": "Cổng chợ"}, {"id": "ben-do", "commune": "dinh_long"}]  # fmt: skip
        pub.publish(
            f"{BASE}/edge/box/status", {"state": "online", "ts": NOW, "version": "1", "inventory": inventory}
        )
        for seq, (t, frozen) in enumerate(((NOW + 1, False), (NOW + 31, True))):
            for slug in ("cong-cho", "ben-do"):
                problems = ["frozen"] if frozen and slug == "ben-do" else []
                health = {
                    "ts": t,
                    "seq": seq,
                    "online": True,
                    "agent": "box",
                    "fps": 12.0,
                    "problems": problems,
                }
                pub.publish(f"{BASE}/camera/{slug}/health", health)
        await wait_for(lambda: hub.stats.accepted == 5, what="5 messages accepted")
        await hub.flush()
    finally:
        pub.close()
    sha = hashlib.sha256(MP3).hexdigest()
    content_dir = config.broadcast.content.directory(config.data_dir)  # type: ignore[attr-defined]
    (content_dir / "media").mkdir(parents=True, exist_ok=True)
    (content_dir / "media" / f"{sha}.mp3").write_bytes(MP3)
    (content_dir / "originals").mkdir(exist_ok=True)
    (content_dir / "originals" / "1.wav").write_bytes(ORIGINAL)
    pw = auth.hash_password(PASSWORD)
    with hub.db.session() as s, s.begin():
        auth.add_user(s, "quantri", pw, "admin", full_name="Quản trị", now=datetime(2026, 11, 1))
        auth.add_user(s, "canbo", pw, "officer", district="yen_dinh", commune="dinh_long", full_name=None, now=datetime(2026, 11, 1))  # fmt: skip
        s.add(
            BroadcastContent(id=1, district="yen_dinh", commune="dinh_long", title="Tin sáng", source="upload",
                             original_path="originals/1.wav", path=f"media/{sha}.mp3", sha256=sha, size=len(MP3),
                             duration_s=60.0, loudness_lufs=-16.0, true_peak_dbtp=-1.5, created_by="canbo")
        )  # fmt: skip
        s.add(
            Programme(id=1, district="yen_dinh", commune="dinh_long", title="Tin sáng", state="approved",
                      schedule={"kind": "daily", "times": ["06:30"]}, created_by="canbo")
        )  # fmt: skip
        s.flush()
        s.add(ProgrammeItem(programme_id=1, position=0, content_id=1))
    return sha


async def served(config: CoreConfig, sha: str, influx: Service) -> dict[str, Any]:
    """What the install serves: API answers, media bytes, a password login, InfluxDB's point count."""
    db = open_database(config.database.url)
    client: TestClient[Any, Any] = TestClient(TestServer(create_app(config, db, EventBus(), lambda: {}), host="127.0.0.1"))  # fmt: skip
    await client.start_server()
    try:
        form = await (await client.get("/login")).text()
        csrf = re.search(r'name="csrf" value="([^"]+)"', form)
        assert csrf
        login = await client.post(
            "/login",
            data={"username": "quantri", "password": PASSWORD, "csrf": csrf.group(1)},
            allow_redirects=False,
        )
        assert login.status == 303, await login.text()

        async def api(path: str) -> Any:
            resp = await client.get(f"/api/v1{path}")
            assert resp.status == 200, (path, await resp.text())
            return await resp.json()

        cams = await api("/cameras")
        points = influx_query(influx.port, config.influx.database, "SELECT count(fps) FROM camera_health")
        media = await client.get(f"/media/{sha}.mp3")
        original = await client.get("/api/v1/content/1/original")
        return {
            "cameras": [(c["key"], c["name"], c["status"], c["problems"]) for c in cams["items"]],
            "transitions": (await api("/cameras/yen_dinh/dinh_long/ben-do/transitions"))["items"],
            "programmes": [(p["title"], p["state"], p["items"]) for p in (await api("/programmes"))["items"]],
            "me": (await api("/me"))["username"],
            "media": (media.status, await media.read()),
            "original": (original.status, await original.read()),
            "influx_points": json.dumps(points["results"]),
        }
    finally:
        await client.close()
        db.close()


def wipe(config: CoreConfig, url: str, influx: Service) -> None:
    """The machine lost: the database, every file, the metrics."""
    if url.startswith("sqlite"):
        shutil.rmtree(config.data_dir)
    else:
        db = open_database(url)
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        db.close()
        shutil.rmtree(config.data_dir)
    influx_query(influx.port, config.influx.database, f'DROP DATABASE "{config.influx.database}"')


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'hub.db'}"
    return str(request.getfixturevalue("postgres_db"))


@pytest.fixture
async def drill_hub(
    tmp_path: Path, db_url: str, mosquitto: Service, influxd: Service, influx_db: str
) -> AsyncIterator[tuple[str, Hub]]:
    path = write_config(tmp_path, db_url, mosquitto.port, influxd, influx_db)
    config = load_config(path)
    hub = Hub(config, prepare_schema=lambda db: schema.prepare(db, config.database.auto_upgrade))
    await hub.start()
    try:
        yield path, hub
    finally:
        await hub.stop()


async def test_restore_drill(
    drill_hub: tuple[str, Hub], db_url: str, mosquitto: Service, influxd: Service, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    path, hub = drill_hub
    config = hub.config
    sha = await feed(hub, mosquitto, config)
    await wait_for(
        lambda: influx_query(influxd.port, config.influx.database, "SELECT count(fps) FROM camera_health")["results"][0].get("series"),  # type: ignore[index]
        what="points in InfluxDB",
    )  # fmt: skip
    (config.data_dir / "snapshots").mkdir()
    (config.data_dir / "snapshots" / "ben-do.jpg").write_bytes(b"\xff\xd8jpeg")  # files the hub keeps on disk

    sets = tmp_path / "backups"
    rpc = ["--influx-rpc", influx_rpc(influxd)]
    assert main(["--config", path, "backup", str(sets / "one"), *rpc]) == 0  # while the hub runs
    await hub.stop()
    before = await served(config, sha, influxd)
    assert before["cameras"] == [
        ("yen_dinh/dinh_long/ben-do", None, "problem", ["frozen"]),
        ("yen_dinh/dinh_long/cong-cho", "Cổng chợ", "ok", []),
    ]
    assert (
        len(before["transitions"]) == 2
        and before["media"] == (200, MP3)
        and before["original"] == (200, ORIGINAL)
    )

    manifest = json.loads((sets / "one" / "manifest.json").read_text())
    assert manifest["database"]["schema_revision"] == schema.head() and manifest["influx"]["saved"] is True
    listed = {f["path"]: f for f in manifest["files"]}
    assert listed[f"files/broadcast/media/{sha}.mp3"]["sha256"] == sha
    assert "files/data_dir/snapshots/ben-do.jpg" in listed and "config/hub.yaml" in listed
    assert not any(p.startswith("files/data_dir/broadcast-content") or p.endswith("hub.db") for p in listed)

    damaged = sets / "damaged"
    shutil.copytree(sets / "one", damaged)
    (damaged / f"files/broadcast/media/{sha}.mp3").write_bytes(MP3[:-1] + b"!")
    capsys.readouterr()
    assert main(["--config", path, "restore", str(damaged), *rpc]) == 1
    assert "không khớp" in capsys.readouterr().err
    assert main(["--config", path, "restore", str(sets / "one"), *rpc]) == 1  # over live data: refused
    assert "--force" in capsys.readouterr().err

    wipe(config, db_url, influxd)
    assert main(["--config", path, "restore", str(sets / "one"), *rpc]) == 0
    after = await served(config, sha, influxd)
    assert after == before
    assert (config.data_dir / "snapshots" / "ben-do.jpg").read_bytes() == b"\xff\xd8jpeg"
    db = open_database(config.database.url)
    try:
        assert schema.read_state(db).kind == "current"
    finally:
        db.close()


@pytest.fixture
def small_install(tmp_path: Path) -> str:
    """A hub config over a SQLite database at head with one user, no InfluxDB."""
    path = tmp_path / "hub.yaml"
    path.write_text(
        f"data_dir: {tmp_path / 'data'}\ninflux: {{enabled: false}}\n"
        f"database: {{url: 'sqlite:///{tmp_path / 'data' / 'hub.db'}'}}\n"
    )
    assert main(["--config", str(path), "db", "upgrade"]) == 0
    db = open_database(load_config(path).database.url)
    with db.session() as s, s.begin():
        auth.add_user(s, "quantri", "x" * 40, "admin", full_name=None, now=datetime(2026, 11, 1))
    db.close()
    return str(path)


def test_backup_and_restore_refuse_what_they_cannot_do(
    small_install: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sets = tmp_path / "sets"
    (sets / "taken").mkdir(parents=True)
    (sets / "taken" / "x").write_text("x")
    assert main(["--config", small_install, "backup", str(sets / "taken")]) == 1
    assert "không trống" in capsys.readouterr().err
    assert main(["--config", small_install, "backup", str(tmp_path / "data" / "inside")]) == 1
    assert "nằm trong thư mục" in capsys.readouterr().err

    assert main(["--config", small_install, "backup", str(sets / "ok")]) == 0
    assert "InfluxDB tắt" in capsys.readouterr().out  # skipped, and said so
    manifest = json.loads((sets / "ok" / "manifest.json").read_text())
    assert manifest["influx"] == {
        "saved": False,
        "note": manifest["influx"]["note"],
        "database": None,
        "folder": None,
    }

    fresh = tmp_path / "fresh.yaml"
    fresh.write_text(
        f"data_dir: {tmp_path / 'fresh'}\ninflux: {{enabled: false}}\n"
        f"database: {{url: 'sqlite:///{tmp_path / 'fresh' / 'hub.db'}'}}\n"
    )
    refusals = (
        ({"extra": 1}, "extra: Extra inputs are not permitted"),
        ({"database": {**manifest["database"], "schema_revision": "f00d"}}, "f00d"),
        ({"database": {**manifest["database"], "backend": "postgresql"}}, "không khôi phục chéo"),
    )
    for n, (change, expect) in enumerate(refusals):
        bad = tmp_path / f"bad-{n}"
        shutil.copytree(sets / "ok", bad)
        (bad / "manifest.json").write_text(json.dumps({**manifest, **change}))
        assert main(["--config", str(fresh), "restore", str(bad)]) == 1
        assert expect in capsys.readouterr().err
    assert not (tmp_path / "fresh" / "hub.db").exists()  # refused before anything was written

    assert main(["--config", str(fresh), "restore", str(sets / "ok")]) == 0
    assert main(["--config", str(fresh), "user", "list"]) == 0
    assert "quantri" in capsys.readouterr().out
