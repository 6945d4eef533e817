"""Reports leave as files: to a Zalo OA group through the notifier (fake Zalo: /v2.0/oa/upload/file, then the
group message with the file token) and by e-mail to a local SMTP server (aiosmtpd); failures are retried with
backoff or given up with the reason, never dropped."""

from __future__ import annotations

import asyncio
import email
import ssl
from datetime import UTC, datetime
from email.message import Message
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import select

from devtools.fakezalo import FakeZalo
from devtools.services import free_port
from hub.core.ca import init_ca, issue_server
from hub.core.db import Database
from hub.notify.files import ZaloFiles
from hub.notify.service import Notifier
from hub.scheduled_reports.models import ReportDelivery, ReportRun
from tests.hub.scheduled_reports.conftest import Inbox, service
from tests.notify_support import HubParts, hub_config, notify_config

LEADERS = {"area": "yen_dinh/dinh_long", "zalo_groups": ["g-leaders"]}


async def notifier(tmp_path: Path, db: Database, fake: FakeZalo) -> Notifier:
    n = Notifier(HubParts(hub_config(tmp_path, notify_config(fake)), db))
    await n.start()
    return n


def deliveries(db: Database) -> list[tuple[str, str, str, int, str | None]]:
    with db.session() as s:
        return [
            (r.kind, d.channel, d.state, d.attempts, d.last_error)
            for d, r in s.execute(
                select(ReportDelivery, ReportRun).join(ReportRun).order_by(ReportDelivery.id)
            )
        ]


async def test_the_pdf_reaches_the_leaders_zalo_group_as_a_file(
    tmp_path: Path, db: Database, fake: FakeZalo
) -> None:
    n = await notifier(tmp_path, db, fake)
    try:
        svc, _ = service(tmp_path, db, ZaloFiles(n.channels), recipients=[LEADERS], kinds=["weekly"])
        await svc.make_due()
        assert await svc.deliver_due() == 1
    finally:
        await n.stop()
    assert deliveries(db) == [("weekly", "zalo", "sent", 1, None)]
    texts = [m for m in fake.messages() if m.file_token is None]
    files = [m for m in fake.messages() if m.file_token is not None]
    assert [m.target for m in texts + files] == ["g-leaders", "g-leaders"]
    assert texts[0].text == "Báo cáo tuần Xã Định Long: Tuần 30/11–06/12/2026; camera hoạt động 96.4 %."
    name, data = fake.state.files[files[0].file_token or ""]
    assert name == "bao-cao-weekly-yen_dinh-dinh_long-20261129.pdf" and data.startswith(b"%PDF-")
    (upload,) = fake.requests("upload_file")
    assert upload.path == "/v2.0/oa/upload/file" and upload.body["content_type"] == "application/pdf"


async def test_a_zalo_outage_is_retried_later_and_a_refusal_is_given_up_with_its_reason(
    tmp_path: Path, db: Database, fake: FakeZalo
) -> None:
    n = await notifier(tmp_path, db, fake)
    try:
        svc, clock = service(
            tmp_path, db, ZaloFiles(n.channels), recipients=[LEADERS], kinds=["weekly"], retry={"base_s": 60}
        )
        await svc.make_due()
        fake.fail("upload_file", "http_503")
        await svc.deliver_due()
        assert deliveries(db) == [("weekly", "zalo", "pending", 1, "tải tệp lên Zalo: HTTP 503 (503)")]
        assert await svc.deliver_due() == 0  # not before its backoff
        clock.now += 61
        fake.fail("group", "not_in_group")
        await svc.deliver_due()
    finally:
        await n.stop()
    ((_, _, state, attempts, error),) = deliveries(db)
    assert (state, attempts) == ("failed", 2)
    assert error is not None and "-237" in error
    assert [m for m in fake.messages() if m.file_token] == []


async def test_an_expired_access_token_is_refreshed_once_for_the_upload(
    tmp_path: Path, db: Database, fake: FakeZalo
) -> None:
    n = await notifier(tmp_path, db, fake)
    try:
        svc, _ = service(tmp_path, db, ZaloFiles(n.channels), recipients=[LEADERS], kinds=["weekly"])
        await svc.make_due()
        fake.fail("upload_file", "token_expired")
        await svc.deliver_due()
    finally:
        await n.stop()
    assert deliveries(db) == [("weekly", "zalo", "sent", 1, None)]
    assert len(fake.requests("upload_file")) == 2 and fake.state.refreshes >= 1


def _smtp(port: int, **over: Any) -> dict[str, Any]:
    return {
        "host": "127.0.0.1", "port": port, "starttls": False, "from_addr": "bao-cao@hub.example", "timeout_s": 5,
        **over,
    }  # fmt: skip


async def test_the_report_goes_by_email_with_pdf_and_csv_attached(
    tmp_path: Path, db: Database, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, port = smtp_server
    svc, _ = service(
        tmp_path,
        db,
        kinds=["monthly"],
        recipients=[{"area": "", "emails": ["tinh@thanhhoa.example"]}],
        smtp=_smtp(port, user="baocao", password="mat-khau-thu"),
    )
    await svc.make_due()
    assert await svc.deliver_due() == 1
    assert deliveries(db) == [("monthly", "email", "sent", 1, None)]
    assert inbox.logins == ["baocao"]
    (env,) = inbox.messages
    assert env.rcpt_tos == ["tinh@thanhhoa.example"] and env.mail_from == "bao-cao@hub.example"
    msg: Message = email.message_from_bytes(env.original_content or b"")
    assert str(email.header.make_header(email.header.decode_header(msg["Subject"]))) == (
        "Báo cáo tháng toàn bộ địa bàn: Tháng 11/2026; camera hoạt động 66.7 %."  # cam3 down, 2 of 3
    )
    parts = {p.get_filename(): p for p in msg.walk() if p.get_filename()}
    assert set(parts) == {"bao-cao-monthly-toan-bo-20261031.pdf", "bao-cao-monthly-toan-bo-20261031.csv"}
    pdf = parts["bao-cao-monthly-toan-bo-20261031.pdf"]
    assert pdf.get_content_type() == "application/pdf"
    assert (pdf.get_payload(decode=True) or b"").startswith(b"%PDF-")


async def test_a_refused_address_is_given_up_and_a_dead_server_retried(
    tmp_path: Path, db: Database, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, port = smtp_server
    recipients = [{"area": "", "emails": ["tinh@thanhhoa.example", "khong-ton-tai@thanhhoa.example"]}]
    dead, clock = service(tmp_path, db, kinds=["monthly"], recipients=recipients, smtp=_smtp(free_port()))
    await dead.make_due()
    await dead.deliver_due()
    assert {(d[2], d[3]) for d in deliveries(db)} == {("pending", 1)}
    assert all("lỗi kết nối máy chủ thư" in (d[4] or "") for d in deliveries(db))
    live, _ = service(tmp_path, db, kinds=["monthly"], recipients=recipients, smtp=_smtp(port))
    live.clock = clock
    clock.now += 3600
    await live.deliver_due()
    states = [(d[2], d[3], d[4]) for d in deliveries(db)]
    assert states[0] == ("sent", 2, None)
    assert states[1][:2] == ("failed", 2) and "550" in (states[1][2] or "")
    assert [m.rcpt_tos for m in inbox.messages] == [["tinh@thanhhoa.example"]]


async def test_the_running_service_makes_and_sends_on_its_own_until_stopped(
    tmp_path: Path, db: Database, fake: FakeZalo
) -> None:
    n = await notifier(tmp_path, db, fake)
    svc, _ = service(tmp_path, db, ZaloFiles(n.channels), recipients=[LEADERS])
    try:
        await svc.start()  # alone: the hub holds the lease, the loop starts at once
        for _ in range(200):
            if len([m for m in fake.messages() if m.file_token]) == 2:
                break
            await asyncio.sleep(0.05)
    finally:
        await svc.stop()
        await n.stop()
    assert {d[0] for d in deliveries(db)} == {"weekly", "monthly"}
    assert {d[2] for d in deliveries(db)} == {"sent"}
    assert (svc.made, svc.sent) == (6, 2)  # every area made; only dinh_long has a receiver


async def test_starttls_checks_the_mail_servers_certificate_before_logging_in(
    tmp_path: Path, db: Database
) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    init_ca(tmp_path / "ca", now)
    issued = issue_server(tmp_path / "ca", ["127.0.0.1"], now)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(issued.cert, issued.key)
    inbox, port = Inbox(), free_port()
    ctl = Controller(
        inbox, hostname="127.0.0.1", port=port, authenticator=inbox.authenticate,
        tls_context=server_tls, require_starttls=True,
    )  # fmt: skip
    ctl.start()
    try:
        recipients = [{"area": "", "emails": ["tinh@thanhhoa.example"]}]
        login = {"user": "baocao", "password": "mat-khau-thu", "starttls": True}
        untrusted, _ = service(
            tmp_path, db, kinds=["monthly"], recipients=recipients, smtp=_smtp(port, **login)
        )
        await untrusted.make_due()
        await untrusted.deliver_due()  # the system's CAs do not know the hub's own CA: nothing goes out
        ((_, _, state, _, error),) = deliveries(db)
        assert state == "pending" and "CERTIFICATE_VERIFY_FAILED" in (error or "")
        assert inbox.logins == [] and inbox.messages == []
        trusted, clock = service(
            tmp_path, db, kinds=["monthly"], recipients=recipients,
            smtp=_smtp(port, ca_file=str(tmp_path / "ca" / "ca.crt"), **login),
        )  # fmt: skip
        clock.now += 3600
        await trusted.deliver_due()
    finally:
        ctl.stop()
    assert [d[2] for d in deliveries(db)] == ["sent"]
    assert inbox.logins == ["baocao"] and len(inbox.messages) == 1
