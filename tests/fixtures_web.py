"""Web app fixtures: a temp SQLite database, the app on a real loopback port, users and cameras to look at."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from yarl import URL

from hub.compose import HubConfig, create_app, open_database
from hub.core import auth
from hub.core.config import DistrictConfig, HttpConfig, InfluxConfig
from hub.core.db import Area, Camera, Database, Transition
from hub.core.events import EventBus
from hub.core.snapshots import SnapshotStore, store_and_index
from hub.web.context import CTX

PASSWORD = "mat-khau-dung-123"
T0 = datetime(2026, 11, 2, 7, 0, 0)  # naive UTC, as stored (14:00 in Hà Nội)
# One user of each role in the test area (Xã Phù Linh, Huyện Sóc Sơn): username → (role, district, commune).
ROLE_USERS: dict[str, tuple[str, str | None, str | None]] = {
    "cs.socson": ("police", "soc-son", None),
    "vanhoa.pl": ("officer", "soc-son", "phu-linh"),
    "chutich.pl": ("approver", "soc-son", "phu-linh"),
    "kythuat.ss": ("technician", "soc-son", None),
    "quantri": ("admin", None, None),
    "lanhdao.ss": ("leader", "soc-son", None),
}


@pytest.fixture(scope="session")
def password_hash() -> str:
    return auth.hash_password(PASSWORD)  # argon2 once per run: it is deliberately slow


@pytest.fixture
def web_config(tmp_path: Path) -> HubConfig:
    return HubConfig(
        data_dir=tmp_path / "hub",
        http=HttpConfig(public_url="http://127.0.0.1:8080", secure_cookies=False),
        influx=InfluxConfig(enabled=False),  # no InfluxDB behind these tests: the camera page shows no charts
        districts={
            "soc-son": DistrictConfig(name="Huyện Sóc Sơn", communes={"phu-linh": "Xã Phù Linh"}),
        },
    )


@pytest.fixture
def web_db(tmp_path: Path) -> Iterator[Database]:
    db = open_database(f"sqlite:///{tmp_path / 'hub.db'}")
    db.create_all()
    yield db
    db.close()


class WebEnv:
    def __init__(self, client: TestClient[Any, Any], db: Database, events: EventBus, pw_hash: str) -> None:
        self.client = client
        self.db = db
        self.events = events
        self.pw_hash = pw_hash
        self.hub_stats: dict[str, Any] = {"received": 0}

    @property
    def ctx(self) -> Any:
        return self.client.server.app[CTX]  # type: ignore[union-attr]

    def set_clock(self, fn: Callable[[], datetime]) -> None:
        self.ctx.clock = fn

    def add_user(
        self, username: str, role: str = "police", district: str | None = None, commune: str | None = None
    ) -> int:
        with self.db.session() as s, s.begin():
            u = auth.add_user(
                s, username, self.pw_hash, role, district=district, commune=commune, full_name=None, now=T0
            )
            return u.id

    def add_camera(self, district: str, commune: str, slug: str, status: str = "ok", **kw: Any) -> str:
        key = f"{district}/{commune}/{slug}"
        with self.db.session() as s, s.begin():
            s.add(
                Camera(
                    key=key, district=district, commune=commune, slug=slug, status=status, problems=[], **kw
                )
            )
        return key

    def add_snapshot(self, key: str, jpeg: bytes, ts: datetime = T0) -> None:
        with self.db.session() as s, s.begin():
            store_and_index(s, SnapshotStore.for_config(self.ctx.config), key, jpeg, ts, 64, 36)
            cam = s.get(Camera, key)
            assert cam is not None
            cam.snapshot_ts = ts

    def add_area(self, district: str, commune: str, name: str) -> None:
        with self.db.session() as s, s.begin():
            s.merge(Area(district=district, commune=commune, name=name))

    def add_transitions(self, key: str, n: int, start: datetime = T0) -> None:
        d, c, _ = key.split("/")
        with self.db.session() as s, s.begin():
            for i in range(n):
                to = "problem" if i % 2 else "ok"
                s.add(
                    Transition(
                        subject_kind="camera",
                        subject_key=key,
                        district=d,
                        commune=c,
                        at=start + timedelta(minutes=i),
                        from_status=None if i == 0 else ("ok" if to == "problem" else "problem"),
                        to_status=to,
                        problems=["frozen"] if to == "problem" else [],
                        reason=None,
                    )
                )

    async def login(self, username: str, password: str = PASSWORD) -> Any:
        """Logs the test client in (cookie kept in its jar); returns the final response."""
        form = await self.client.get("/login")
        token = re.search(r'name="csrf" value="([^"]+)"', await form.text())
        assert token, "login form carries a CSRF token"
        return await self.client.post(
            "/login",
            data={"username": username, "password": password, "csrf": token.group(1)},
            allow_redirects=False,
        )

    async def page_csrf(self, path: str = "/") -> str:
        html = await (await self.client.get(path)).text()
        m = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
        assert m, "signed-in pages carry the session CSRF token"
        return m.group(1)


@pytest.fixture
async def web(web_config: HubConfig, web_db: Database, password_hash: str) -> AsyncIterator[WebEnv]:
    events = EventBus()
    holder: dict[str, WebEnv] = {}
    app = create_app(web_config, web_db, events, lambda: holder["env"].hub_stats)
    # Tests change the database between requests: the camera views read it again every time.
    app[CTX].views.max_age_s = app[CTX].views.names_max_age_s = 0.0
    client: TestClient[Any, Any] = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    env = holder["env"] = WebEnv(client, web_db, events, password_hash)
    try:
        yield env
    finally:
        await client.close()


def sign_in(web: WebEnv, username: str) -> None:
    """A session straight in the database and its cookie in the client (argon2 only where login is tested)."""
    with web.db.session() as s, s.begin():
        u = auth.get_user(s, username)
        assert u is not None
        cookie, _ = auth.create_session(s, u.id, datetime.now(UTC).replace(tzinfo=None), 8)
    web.client.session.cookie_jar.update_cookies({"ops_session": cookie}, URL(str(web.client.make_url("/"))))


async def admin_csrf(web: WebEnv, path: str) -> str:
    """Signs in an admin (quantri; a second commune, Tiên Dược, to manage) and returns `path`'s CSRF token."""
    web.add_area("soc-son", "tien-duoc", "Xã Tiên Dược")
    web.add_user("quantri", "admin")
    sign_in(web, "quantri")
    return await web.page_csrf(path)
