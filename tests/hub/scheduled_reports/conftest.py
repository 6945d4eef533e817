"""Fixtures of the scheduled-report tests: a seeded SQLite database (cameras, their status log and airings in the
week 30/11–06/12/2026), the fake Zalo server, a local SMTP server (aiosmtpd) and the report service."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from broadcast.airings.models import Airing
from broadcast.report_section import airings_report
from devtools.services import free_port
from hub.compose import HubConfig, open_database
from hub.core.config import DistrictConfig, HttpConfig
from hub.core.db import Camera, Database, Transition
from hub.core.facts import FileSink
from hub.scheduled_reports.config import ScheduledReportsConfig
from hub.scheduled_reports.service import ReportService
from tests.hub.scheduled_reports.report_times import at
from tests.notify_support import fake  # noqa: F401  (fixture)

DISTRICTS = {
    "yen_dinh": DistrictConfig(
        name="Huyện Yên Định", communes={"dinh_long": "Xã Định Long", "dinh_tan": "Xã Định Tân"}
    )
}


def seed(db: Database) -> None:
    """dinh_long: cam1 up all week, cam2 offline 12 h on 1/12; dinh_tan: cam3 offline all week. Two airings."""
    cams = [
        ("dinh_long", "cam1", "Cổng UBND xã"),
        ("dinh_long", "cam2", "Ngã ba chợ"),
        ("dinh_tan", "cam3", "Trạm y tế"),
    ]
    log = [
        ("cam1", "dinh_long", datetime(2026, 11, 20), "ok", None),
        ("cam2", "dinh_long", datetime(2026, 11, 20), "ok", None),
        ("cam2", "dinh_long", datetime(2026, 11, 30, 17, 0), "offline", "kết nối bị từ chối"),
        ("cam2", "dinh_long", datetime(2026, 12, 1, 5, 0), "ok", None),
        ("cam3", "dinh_tan", datetime(2026, 11, 20), "offline", "hết thời gian chờ"),
    ]
    with db.session() as s, s.begin():
        for commune, slug, name in cams:
            key = f"yen_dinh/{commune}/{slug}"
            s.add(
                Camera(
                    key=key,
                    district="yen_dinh",
                    commune=commune,
                    slug=slug,
                    name=name,
                    problems=[],
                    status="ok",
                )
            )
        for slug, commune, when, status, reason in log:
            s.add(
                Transition(
                    subject_kind="camera", subject_key=f"yen_dinh/{commune}/{slug}", district="yen_dinh",
                    commune=commune, at=when, to_status=status, problems=[], reason=reason,
                )
            )  # fmt: skip
        for i, (status, played) in enumerate((("aired", 3), ("partial", 2))):
            s.add(
                Airing(
                    id=f"a{i}", programme_id=1, occurrence_at=datetime(2026, 12, 2 + i), start_at=datetime(2026, 12, 2 + i),
                    district="yen_dinh", commune="dinh_long", title="Thông báo tiêm chủng", priority="normal",
                    status=status, targeted=3, played=played,
                )
            )  # fmt: skip


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    d = open_database(f"sqlite:///{tmp_path / 'hub.db'}")
    d.create_all()
    seed(d)
    yield d
    d.close()


def config(tmp_path: Path, **section: Any) -> HubConfig:
    return HubConfig(
        data_dir=tmp_path / "hub",
        http=HttpConfig(public_url="http://hub.example:8080", secure_cookies=False),
        districts=DISTRICTS,
        scheduled_reports=ScheduledReportsConfig.model_validate(section),
    )


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def service(
    tmp_path: Path, db: Database, sink: FileSink | None = None, now: str = "2026-12-07T07:05", **section: Any
) -> tuple[ReportService, Clock]:
    clock = Clock(at(now))
    svc = ReportService(config(tmp_path, **section), db, [airings_report], lambda: sink, clock=clock)
    return svc, clock


class Inbox:
    """What the local SMTP server received, and the logins it accepted."""

    def __init__(self) -> None:
        self.messages: list[Envelope] = []
        self.logins: list[str] = []

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        self.messages.append(envelope)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address.startswith("khong-ton-tai@"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    def authenticate(
        self, server: Any, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"baocao", b"mat-khau-thu")
        if ok:
            self.logins.append(data.login.decode())
        return AuthResult(success=ok)


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    ctl = Controller(
        inbox, hostname="127.0.0.1", port=port, authenticator=inbox.authenticate, auth_require_tls=False
    )
    ctl.start()
    try:
        yield inbox, port
    finally:
        ctl.stop()
