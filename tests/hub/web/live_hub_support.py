"""A real hub for black-box API tests: `Hub` (Mosquitto, InfluxDB) and its web app on a free loopback port, run
on an event loop of its own in a thread, over a seeded SQLite database, with an admin API token.

Seeded with one of each thing the API shows, made the way the hub makes them where that is cheap (content from
a generated WAV through ffmpeg, a programme, a silence through the API; the alert engine raises an alert for the
offline camera) and as rows where only time would make them (a failed notification, the registry). Used by tests/hub/web/test_openapi_schemathesis.py.
"""

from __future__ import annotations

import asyncio
import io
import threading
import wave
from collections.abc import AsyncIterator, Collection
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from aiohttp import web

from devtools.services import free_port
from hub.compose import Hub, HubConfig, create_app, open_database
from hub.core import auth
from hub.core.config import DistrictConfig
from hub.core.db import Agent, Area, Camera, Transition
from hub.core.events import Event, EventBus
from hub.core.geo import Village
from hub.core.snapshots import SnapshotStore, store_and_index
from hub.core.speaker_models import Speaker
from tests.fixtures_hub import make_hub_config

D, C = "soc-son", "phu-linh"  # the API document's examples name these, so its examples reach real things
ADMIN = "quantri"
JPEG = b"\xff\xd8\xff\xe0" + b"jpeg-body" * 10 + b"\xff\xd9"


class EndingBus(EventBus):
    """Live streams that end after their `hello`, as when the bus drops a slow client: an HTTP test client
    reads a whole answer, and a live stream never ends by itself."""

    async def subscribe(
        self,
        types: Collection[str] | None = None,
        district: str | None = None,
        commune: str | None = None,
    ) -> AsyncIterator[Event]:
        return
        yield {}  # an async generator that yields nothing


def _seed_registry(url: str, now: datetime, snapshots: SnapshotStore) -> None:
    db = open_database(url)
    db.create_all()
    t0 = now - timedelta(hours=3)
    with db.session() as s, s.begin():
        s.add_all(
            [
                Area(district=D, commune="", name="Huyện Sóc Sơn"),
                Area(district=D, commune=C, name="Xã Phù Linh"),
                Agent(key=f"{D}/{C}/edge-a", district=D, commune=C, slug="edge-a", state="offline",
                      version="1.0.0"),  # offline: a command to its camera is refused at once (409)
                Camera(key=f"{D}/{C}/cho", district=D, commune=C, slug="cho", name="Chợ Phù Linh",
                       status="ok", problems=[], agent_key=f"{D}/{C}/edge-a", snapshot_ts=t0),
                Camera(key=f"{D}/{C}/cong-ubnd", district=D, commune=C, slug="cong-ubnd", name="Cổng UBND",
                       status="offline", problems=[], reason="Không kết nối được"),
                Village(district=D, commune=C, slug="thon-dong", name="Thôn Đông"),
                Speaker(key=f"{D}/{C}/loa-cho", district=D, commune=C, slug="loa-cho", name="Loa chợ",
                        village="thon-dong"),
            ]
        )  # fmt: skip
        for i, to in enumerate(("ok", "offline", "ok")):
            s.add(
                Transition(subject_kind="camera", subject_key=f"{D}/{C}/cho", district=D, commune=C,
                           at=t0 + timedelta(minutes=10 * i), from_status=None if i == 0 else "ok",
                           to_status=to, problems=[], reason=None)
            )  # fmt: skip
        s.flush()  # the camera row first: the snapshot's index row refers to it
        store_and_index(s, snapshots, f"{D}/{C}/cho", JPEG, t0, 64, 36)
        auth.add_user(
            s,
            ADMIN,
            auth.hash_password("mat-khau-quan-tri"),
            "admin",
            district=None,
            commune=None,
            full_name="Quản trị",
            now=t0,
        )
    db.close()


def _wav(seconds: float = 1.0, rate: int = 16000) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        # a 440 Hz square-ish tone, loud enough for the loudness check
        period = rate // 440
        w.writeframes(b"".join(((8000 if (i // (period // 2)) % 2 else -8000).to_bytes(2, "little", signed=True))
                               for i in range(int(seconds * rate))))  # fmt: skip
    return buf.getvalue()


class LiveHub:
    """Start with `start()`, stop with `stop()`; `url` is the web app's base, `headers` carry the admin token."""

    def __init__(self, workdir: Path, mqtt_port: int, influx_url: str, influx_db: str) -> None:
        self.config: HubConfig = make_hub_config(workdir, mqtt_port, influx_url, influx_db)
        self.config = self.config.model_copy(
            update={
                "districts": {D: DistrictConfig(name="Huyện Sóc Sơn", communes={C: "Xã Phù Linh"})},
                "broadcast": self.config.broadcast.model_copy(  # type: ignore[attr-defined]
                    update={"dispatch": self.config.broadcast.dispatch.model_copy(  # type: ignore[attr-defined]
                        update={"command_reply_s": 0.2})}  # volume commands nobody answers end quickly
                ),
            }
        )  # fmt: skip
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = ""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="live-hub", daemon=True)
        self._stop: asyncio.Event | None = None
        self._done: asyncio.Future[None] | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def start(self) -> None:
        now = datetime.now(UTC).replace(tzinfo=None)
        _seed_registry(self.config.database.url, now, SnapshotStore.for_config(self.config))
        self._thread.start()
        ready = asyncio.run_coroutine_threadsafe(self._serve_until_ready(), self._loop)
        self.token = ready.result(60)
        self._seed_through_api(now)

    async def _serve_until_ready(self) -> str:
        self._stop = asyncio.Event()
        started: asyncio.Future[str] = self._loop.create_future()
        self._done = asyncio.ensure_future(self._serve(started))
        return await started

    async def _serve(self, started: asyncio.Future[str]) -> None:
        hub = Hub(self.config)
        await hub.start()
        runner = web.AppRunner(create_app(self.config, hub.db, EndingBus(), hub.stats.snapshot, hub=hub))
        try:
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", self.port).start()
            now = datetime.now(UTC).replace(tzinfo=None)
            token = await hub.db.run(lambda s: auth.create_token(s, ADMIN, "schemathesis", now)[1])
            await hub.db.run(lambda s: _seed_rows(s, now))
            started.set_result(token)
            assert self._stop is not None
            await self._stop.wait()
        except BaseException as exc:
            if not started.done():
                started.set_exception(exc)
            raise
        finally:
            await runner.cleanup()
            await hub.stop()

    def _seed_through_api(self, now: datetime) -> None:
        def post(path: str, **kw: Any) -> dict[str, Any]:
            r = requests.post(self.url + path, headers=self.headers, timeout=60, **kw)
            assert r.status_code in (200, 201), f"seeding {path}: {r.status_code} {r.text[:300]}"
            return dict(r.json())

        content = post(
            "/api/v1/content",
            files={"file": ("chuong.wav", _wav(), "audio/wav")},
            data={"title": "Thông báo họp", "source": "upload", "district": D, "commune": C},
        )
        local = (now + timedelta(days=2)).replace(tzinfo=UTC).astimezone()  # any future day is fine
        post(
            "/api/v1/programmes",
            json={"district": D, "commune": C, "title": "Bản tin sáng", "items": [content["id"]],
                  "schedule": {"kind": "once", "date": local.strftime("%Y-%m-%d"), "times": ["07:00"]},
                  "submit": True},
        )  # fmt: skip
        post(
            "/api/v1/silences",
            json={"type": "maintenance", "district": D, "commune": C, "duration_min": 60,
                  "reason": "Bảo trì đường dây"},
        )  # fmt: skip

    def stop(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._done is not None:
            asyncio.run_coroutine_threadsafe(
                asyncio.wait_for(asyncio.shield(self._done), 30), self._loop
            ).result(40)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


def _seed_rows(s: Any, now: datetime) -> None:
    """What only a field over time would produce: a notification that failed. (The alert engine raises an
    alert for the offline camera by itself.)"""
    from hub.notify.models import OutboxRow

    s.add(
        OutboxRow(event_id="seed-1", channel="oa", target="g1", target_name="Nhóm trực", route="mac-dinh",
                  kind="camera_offline", severity="critical", notice_status="firing", district=D, commune=C,
                  text="Camera Cổng UBND mất kết nối", state="failed", attempts=3, created_at=now,
                  next_try_at=now, last_error="lỗi thử", last_code=-124)
    )  # fmt: skip
