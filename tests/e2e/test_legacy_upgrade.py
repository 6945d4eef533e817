"""A database written by the last release before migrations (tests/fixtures/legacy/, made by
make_legacy_db.py with that release's code) is recognised, brought to this release's schema by
`python -m hub db upgrade`, and served through the web API: cameras and their history, alerts, the Zalo
outbox, programmes and airings with their receipts. On SQLite (the committed file) and PostgreSQL (its
pg_dump)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.engine import make_url
from yarl import URL

from hub.cli import main
from hub.compose import create_app, load_config, open_database
from hub.core import auth
from hub.core.events import EventBus
from hub.migrations import schema

LEGACY = Path(__file__).resolve().parents[1] / "fixtures" / "legacy"


def load_dump(url: str, dump: Path) -> None:
    u = make_url(url)
    cmd = [
        "psql",
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "-h",
        str(u.host),
        "-p",
        str(u.port),
        "-U",
        str(u.username),
    ]
    subprocess.run(
        [*cmd, "-d", str(u.database), "-f", str(dump)], check=True, capture_output=True, timeout=60
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def legacy_config(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        db_file = tmp_path / "data" / "hub.db"
        db_file.parent.mkdir()
        shutil.copy(LEGACY / "hub-legacy.sqlite", db_file)
        url = f"sqlite:///{db_file}"
    else:
        url = str(request.getfixturevalue("postgres_db"))
        load_dump(url, LEGACY / "hub-legacy.sql")
    path = tmp_path / "hub.yaml"
    path.write_text(
        f"data_dir: {tmp_path / 'data'}\ninflux: {{enabled: false}}\ndatabase: {{url: '{url}'}}\n"
    )
    return str(path)


@pytest.fixture
async def api(legacy_config: str) -> AsyncIterator[TestClient[Any, Any]]:
    assert main(["--config", legacy_config, "db", "current"]) == 4  # tables, no revision: before migrations
    assert main(["--config", legacy_config, "db", "upgrade"]) == 0
    assert main(["--config", legacy_config, "db", "current"]) == 0
    config = load_config(legacy_config)
    db = open_database(config.database.url)
    state = schema.prepare(db, auto_upgrade=False)  # what `python -m hub run` checks first
    assert (state.kind, schema.differences(db)) == ("current", [])
    with db.session() as s, s.begin():
        admin = auth.get_user(s, "admin")
        assert admin is not None and admin.full_name == "Quản trị viên"
        cookie, _ = auth.create_session(s, admin.id, datetime.now(UTC).replace(tzinfo=None), 8)
    client: TestClient[Any, Any] = TestClient(
        TestServer(create_app(config, db, EventBus(), lambda: {}), host="127.0.0.1")
    )
    await client.start_server()
    client.session.cookie_jar.update_cookies({"ops_session": cookie}, URL(str(client.make_url("/"))))
    try:
        yield client
    finally:
        await client.close()
        db.close()


async def get(client: TestClient[Any, Any], path: str) -> Any:
    resp = await client.get(f"/api/v1{path}")
    assert resp.status == 200, (path, await resp.text())
    return await resp.json()


async def test_legacy_database_upgrades_and_is_served(api: TestClient[Any, Any]) -> None:
    cams = {c["key"]: c for c in (await get(api, "/cameras"))["items"]}
    assert {k: (c["status"], c["problems"]) for k, c in cams.items()} == {
        "yen_dinh/dinh_long/cong-cho": ("ok", []),
        "yen_dinh/dinh_long/ben-do": ("problem", ["frozen"]),
        "yen_dinh/dinh_tan/truong-hoc": ("offline", ["unreachable"]),
    }
    assert cams["yen_dinh/dinh_long/cong-cho"]["name"] == "Cổng chợ Định Long"
    history = await get(api, "/cameras/yen_dinh/dinh_long/ben-do/transitions")
    assert [(t["from"], t["to"], t["problems"]) for t in history["items"]] == [  # newest first
        ("ok", "problem", ["frozen"]),
        ("unknown", "ok", []),
    ]
    # Migration 0003 moved snapshots out of SQL and dropped the old release's pictures (each camera's next
    # probe brings a new one): none is served until then, and the camera itself is.
    snapshot = await api.get("/api/v1/cameras/yen_dinh/dinh_long/cong-cho/snapshot")
    assert snapshot.status == 404

    alerts = (await get(api, "/alerts"))["items"]
    assert [(a["device"], a["status"], a["ack"]["by"]) for a in alerts] == [
        ("yen_dinh/dinh_long/ben-do", "firing", "congan")
    ]
    outbox = (await get(api, "/notifications"))["items"]
    assert [(r["state"], r["target_name"], r["sent_at"]) for r in outbox] == [
        ("sent", "Trực ban Yên Định", "2026-11-20T01:36:02Z")
    ]

    programmes = (await get(api, "/programmes"))["items"]
    assert [
        (p["title"], p["state"], p["schedule_text"], [i["content_id"] for i in p["items"]])
        for p in programmes
    ] == [("Tin chiều", "approved", "Hằng ngày lúc 17:00", [1])]
    month = await get(api, "/airings?district=yen_dinh&commune=dinh_long&month=2026-11")
    assert [(a["id"], a["status"], a["played"], a["targeted"]) for a in month["airings"]] == [
        ("p1-20261120-1000", "aired", 2, 2)
    ]
    report = await get(api, "/airings/p1-20261120-1000")
    assert [(x["key"], x["state"], x["played_s"]) for x in report["speakers"]] == [
        ("yen_dinh/dinh_long/loa-1", "finished", 90.0),
        ("yen_dinh/dinh_long/loa-2", "finished", 90.0),
    ]
