"""Helpers for the notifier tests: a real SQLite database, the fake Zalo server, notices and configs."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from sqlalchemy import select

from broadcast.digest import airings_digest
from devtools.fakezalo import FakeZalo
from hub.compose import HubConfig, open_database
from hub.core.config import DistrictConfig, HttpConfig
from hub.core.db import Camera, Database, to_db_time
from hub.core.facts import AlertNotice, FactKind, NoticeItem, Severity
from hub.core.snapshots import SnapshotStore, store_and_index
from hub.notify.config import BotConfig, GroupDirectory, NotifyConfig, OaConfig, RetryConfig
from hub.notify.models import OutboxRow
from hub.notify.service import Notifier

DISTRICTS = {
    "yen_dinh": DistrictConfig(
        name="Huyện Yên Định", communes={"dinh_long": "Xã Định Long", "dinh_tan": "Xã Định Tân"}
    )
}


@dataclass
class HubParts:
    """What the notifier uses of the hub: its config and database."""

    config: HubConfig
    db: Database


def notify_config(fake: FakeZalo | None, **over: Any) -> NotifyConfig:
    data: dict[str, Any] = {
        "groups": GroupDirectory(
            police={"yen_dinh": "g-police"},
            officers={"yen_dinh/dinh_long": "g-officers"},
            oncall={"*": ["chat-1"]},
        ),
        "retry": RetryConfig(base_s=0.05, max_s=0.2, rate_limit_s=0.1, max_attempts=5),
        "digest": {"enabled": False},
    }
    if fake is not None:
        data["oa"] = OaConfig(
            app_id=fake.state.app_id,
            secret_key=fake.state.secret_key,
            refresh_token=fake.state.refresh_token,
            base_url=fake.url,
            oauth_url=fake.url,
            timeout_s=1.0,
        )
        data["bot"] = BotConfig(token=fake.state.bot_token, base_url=fake.url, timeout_s=1.0)
    data.update(over)
    return NotifyConfig.model_validate(data)


def hub_config(tmp_path: Path, notify: NotifyConfig) -> HubConfig:
    return HubConfig(
        data_dir=tmp_path / "hub",
        http=HttpConfig(public_url="http://hub.example:8080", secure_cookies=False),
        districts=DISTRICTS,
        notify=notify,
    )


def notice(
    event_id: str = "ev-1",
    kind: FactKind = FactKind.CAMERA_OFFLINE,
    n: int = 1,
    status: str = "firing",
    severity: Severity = Severity.WARNING,
    commune: str = "dinh_long",
    snapshot: str | None = None,
    created_at: float | None = None,
    **kw: Any,
) -> AlertNotice:
    now = time.time() if created_at is None else created_at
    items = tuple(
        NoticeItem(
            device=f"yen_dinh/{commune}/cam{i}",
            name=f"Camera số {i}",
            summary="Mất tín hiệu: kết nối bị từ chối",
            since=now - 600,
            until=now if status == "resolved" else None,
        )
        for i in range(1, n + 1)
    )
    return AlertNotice(
        event_id=event_id,
        group_key=f"{kind}:yen_dinh:{commune}",
        status=status,  # type: ignore[arg-type]
        kind=kind,
        severity=severity,
        district="yen_dinh",
        commune=commune,
        items=items,
        created_at=now,
        link_path="/alerts/7",
        snapshot_camera=snapshot,
        **kw,
    )


def big_jpeg(width: int = 1000, height: int = 700) -> bytes:
    """Noise compresses badly: well over 1 MB at quality 100."""
    rng = np.random.default_rng(1)
    img = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 100])
    assert ok
    return bytes(buf.tobytes())


def snapshot_store(db: Database) -> SnapshotStore:
    """The store of the config `hub_config` gives for the `db` fixture's tmp_path (its data_dir is beside it)."""
    return SnapshotStore(Path(db.url.removeprefix("sqlite:///")).parent / "hub" / "snapshots")


def add_camera(db: Database, key: str, name: str, jpeg: bytes | None = None, **kw: Any) -> None:
    d, c, slug = key.split("/")
    with db.session() as s, s.begin():
        s.add(Camera(key=key, district=d, commune=c, slug=slug, name=name, problems=[], **kw))
        s.flush()
        if jpeg is not None:
            store_and_index(s, snapshot_store(db), key, jpeg, to_db_time(time.time()), 1, 1)


def rows(db: Database) -> list[OutboxRow]:
    with db.session() as s:
        return list(s.scalars(select(OutboxRow).order_by(OutboxRow.id)))


NotifierFactory = Callable[..., Awaitable[Notifier]]


@pytest.fixture
async def fake() -> AsyncIterator[FakeZalo]:
    f = FakeZalo()
    await f.start()
    try:
        yield f
    finally:
        await f.stop()


@pytest.fixture
def db(tmp_path: Path) -> Any:
    d = open_database(f"sqlite:///{tmp_path / 'hub.db'}")
    d.create_all()
    yield d
    d.close()


@pytest.fixture
async def make_notifier(tmp_path: Path, db: Database) -> AsyncIterator[NotifierFactory]:
    started: list[Notifier] = []

    async def make(cfg: NotifyConfig, start: bool = True, **kw: Any) -> Notifier:
        n = Notifier(HubParts(hub_config(tmp_path, cfg), db), digest_sections=[airings_digest], **kw)
        if start:
            await n.start()
            started.append(n)
        return n

    yield make
    for n in started:
        await n.stop()
